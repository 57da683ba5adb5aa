/**
 * A server program (redis-server, nats-server, …) run by a test on a free
 * loopback port: started, probed until it answers, killed and restarted on
 * the same port to simulate an outage, always stopped by the test. Works on
 * Deno, Bun and Node.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { delay } from "./async.ts";

/** A running server program. */
export interface ServerProcess {
  /** The loopback port it listens on. */
  readonly port: number;
  /** The process id of the server running now (a restart starts another). */
  readonly pid: number;
  /** Kills the server and waits until it is gone (idempotent). */
  stop(): Promise<void>;
  /**
   * Kills the server (SIGKILL: an outage, not a polite shutdown) and starts a
   * fresh one on the same port. `whileDown` runs in between, to act during
   * the outage.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

/** How to run and probe one kind of server. */
export interface ServerProgram {
  /** Its name in error messages. */
  name: string;
  /** The executable. */
  command: string;
  /** Its arguments to listen on 127.0.0.1:`port` only. */
  args(port: number): string[];
  /** Resolves `true` once a connection to `port` gets the server's answer. */
  answers(port: number): Promise<boolean>;
}

/** A port that was free a moment ago (the kernel picks it, we release it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Resolves `true` once a connection to 127.0.0.1:`port` gets a first answer
 * that `accept` takes (after sending `probe`, when given; without it the
 * server must speak first), `false` on error or after 500 ms of silence.
 */
export function answersProbe(
  port: number,
  probe: string | undefined,
  accept: (answer: string) => boolean,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    if (probe !== undefined) socket.once("connect", () => socket.write(probe));
    socket.once("data", (data) => done(accept(String(data))));
  });
}

function launch(program: ServerProgram, port: number): ChildProcess {
  const child = spawn(program.command, program.args(port), { stdio: "ignore" });
  child.on("error", () => {/* reported as "did not answer" below */});
  return child;
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  return exited;
}

async function waitUntilUp(program: ServerProgram, child: ChildProcess, port: number) {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) break;
    if (await program.answers(port)) return;
    await delay(20);
  }
  await kill(child);
  throw new Error(`${program.name} on port ${port} did not answer within 10 s`);
}

/**
 * Starts `program` on a free 127.0.0.1 port and waits until it answers. The
 * caller must `stop()` it (in a `finally`).
 */
export async function startServerProcess(program: ServerProgram): Promise<ServerProcess> {
  let port = 0;
  let child: ChildProcess | undefined;
  // The free port can be taken between our probe and the server's bind: retry.
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    const candidate = launch(program, port);
    try {
      await waitUntilUp(program, candidate, port);
      child = candidate;
    } catch (error) {
      if (attempt === 2) throw error;
    }
  }
  let current = child!;
  let stopped = false;
  return {
    port,
    get pid() {
      return current.pid ?? 0;
    },
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
        current = launch(program, port);
      }
      await waitUntilUp(program, current, port);
    },
  };
}
