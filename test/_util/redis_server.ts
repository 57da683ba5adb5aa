/**
 * A real `redis-server` on a free loopback port for tests, started and
 * stopped by the test itself. Works on Deno, Bun and Node.
 *
 * @module
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  answersProbe,
  type ServerProcess,
  type ServerProgram,
  startServerProcess,
} from "./server_process.ts";

export { freePort } from "./server_process.ts";

/** Where Debian (and `scripts/setup.sh`) puts the server; `WSC_REDIS_SERVER` overrides it. */
export const redisServerPath: string = process.env.WSC_REDIS_SERVER ?? "/usr/bin/redis-server";

/** `false` when the server exists, else the reason to skip (for `test(name, { skip })`). */
export const redisSkip: string | false = existsSync(redisServerPath)
  ? false
  : `no redis-server at ${redisServerPath} (scripts/setup.sh installs it)`;

/** A running server. */
export interface RedisServer extends ServerProcess {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
}

function answersPing(port: number): Promise<boolean> {
  return answersProbe(port, "PING\r\n", (answer) => answer.startsWith("+PONG"));
}

const redis: ServerProgram = {
  name: "redis-server",
  command: redisServerPath,
  args: (port) => [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--protected-mode",
    "yes",
  ],
  answers: answersPing,
};

/**
 * Starts `redis-server` on a free 127.0.0.1 port and waits until it answers
 * `PING`. The caller must `stop()` it (in a `finally`). With `persistent`,
 * it writes an append-only file (fsync on every write) in a temporary
 * folder, so a `restart()` (SIGKILL) keeps every acknowledged write. With
 * `cpu` (Linux), it runs pinned to that CPU list (`taskset -c`), as the
 * benchmarks run it.
 */
export async function startRedisServer(
  options: { persistent?: boolean; cpu?: string } = {},
): Promise<RedisServer> {
  const program: ServerProgram = options.cpu === undefined ? redis : {
    ...redis,
    command: "taskset",
    args: (port) => ["-c", options.cpu!, redisServerPath, ...redis.args(port)],
  };
  if (!options.persistent) {
    const server = await startServerProcess(program);
    return Object.assign(server, { url: `redis://127.0.0.1:${server.port}` });
  }
  const dir = mkdtempSync(join(tmpdir(), "wsc-redis-"));
  const server = await startServerProcess({
    ...program,
    args: (port) => [
      ...program.args(port), // a later directive wins
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--dir",
      dir,
    ],
  });
  const stop = server.stop;
  return Object.assign(server, {
    url: `redis://127.0.0.1:${server.port}`,
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
