/**
 * A real `redis-server` on a free loopback port for tests, started and
 * stopped by the test itself. Works on Deno, Bun and Node.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { delay } from "./async.ts";

/** Where Debian (and `scripts/setup.sh`) puts the server; `WSC_REDIS_SERVER` overrides it. */
export const redisServerPath: string = process.env.WSC_REDIS_SERVER ?? "/usr/bin/redis-server";

/** `false` when the server exists, else the reason to skip (for `test(name, { skip })`). */
export const redisSkip: string | false = existsSync(redisServerPath)
  ? false
  : `no redis-server at ${redisServerPath} (scripts/setup.sh installs it)`;

/** A running server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Kills the server and waits until it is gone (idempotent). */
  stop(): Promise<void>;
  /**
   * Kills the server and starts a fresh one on the same port (empty: `--save ''`).
   * `whileDown` runs in between, to act during the outage.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

/** A port that was free a moment ago (the kernel picks it, we release it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(String(data).startsWith("+PONG")));
  });
}

function launch(port: number): ChildProcess {
  const child = spawn(redisServerPath, [
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
  ], { stdio: "ignore" });
  child.on("error", () => {/* reported as "does not answer" below */});
  return child;
}

async function waitUntilUp(child: ChildProcess, port: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) break;
    if (await answersPing(port)) return;
    await delay(20);
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server on port ${port} did not answer within 10 s`);
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  return exited;
}

/**
 * Starts `redis-server` on a free 127.0.0.1 port and waits until it answers
 * `PING`. The caller must `stop()` it (in a `finally`).
 */
export async function startRedisServer(): Promise<RedisServer> {
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    const candidate = launch(port);
    try {
      await waitUntilUp(candidate, port);
      child = candidate;
    } catch (error) {
      await kill(candidate);
      if (attempt === 2) throw error;
    }
  }
  let current = child!;
  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      stopped = true;
      await kill(current);
    },
    async restart(whileDown) {
      if (stopped) throw new Error("restart() after stop()");
      await kill(current);
      try {
        await whileDown?.();
      } finally {
        current = launch(port);
      }
      await waitUntilUp(current, port);
    },
  };
}
