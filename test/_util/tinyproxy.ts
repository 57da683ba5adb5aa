/**
 * A real HTTP CONNECT proxy (Debian's `tinyproxy`) on a free loopback port,
 * with a generated config (optionally with `BasicAuth`), started and
 * stopped by the test itself. Works on Deno, Bun and Node.
 *
 * @module
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { answersProbe, type ServerProcess, startServerProcess } from "./server_process.ts";

/** Where Debian (and `scripts/setup.sh`) puts it; `WSC_TINYPROXY` overrides it. */
export const tinyproxyPath: string = process.env.WSC_TINYPROXY ?? "/usr/bin/tinyproxy";

/** `false` when tinyproxy exists, else the reason to skip (for `test(name, { skip })`). */
export const tinyproxySkip: string | false = existsSync(tinyproxyPath)
  ? false
  : `no tinyproxy at ${tinyproxyPath} (scripts/setup.sh installs it)`;

/** A running proxy. */
export interface Tinyproxy extends ServerProcess {
  /** `http://127.0.0.1:<port>` (with `user:password@` when started with credentials). */
  readonly url: string;
}

/**
 * Starts tinyproxy on 127.0.0.1 (CONNECT to any port, loopback clients
 * only; with `auth`, `BasicAuth` required). Stop it in a `finally`.
 */
export async function startTinyproxy(
  auth?: { user: string; password: string },
): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), "wsc-tinyproxy-"));
  const server = await startServerProcess({
    name: "tinyproxy",
    command: tinyproxyPath,
    args(port) {
      const config = join(dir, `tinyproxy-${port}.conf`);
      writeFileSync(
        config,
        [
          `Port ${port}`,
          "Listen 127.0.0.1",
          "Timeout 30",
          "MaxClients 64",
          "Allow 127.0.0.1",
          // No ConnectPort line: CONNECT is allowed to every port (the test servers' free ones).
          `LogFile "${join(dir, "tinyproxy.log")}"`,
          "LogLevel Error",
          ...(auth ? [`BasicAuth ${auth.user} ${auth.password}`] : []),
          "",
        ].join("\n"),
      );
      return ["-d", "-c", config];
    },
    // Any HTTP answer (tinyproxy refuses a plain GET of / with 400) means it is up.
    answers: (port) =>
      answersProbe(port, "GET / HTTP/1.0\r\n\r\n", (answer) => answer.startsWith("HTTP/1.")),
  });
  const credentials = auth
    ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@`
    : "";
  return {
    ...server,
    port: server.port,
    url: `http://${credentials}127.0.0.1:${server.port}`,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
