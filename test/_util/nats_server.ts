/**
 * A real `nats-server` on a free loopback port for tests, started and
 * stopped by the test itself. Works on Deno, Bun and Node.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { delay } from "./async.ts";

/** Where Debian (and `scripts/setup.sh`) puts the server; `WSC_NATS_SERVER` overrides it. */
export const natsServerPath: string = process.env.WSC_NATS_SERVER ?? "/usr/sbin/nats-server";

/** `false` when the server exists, else the reason to skip (for `test(name, { skip })`). */
export const natsSkip: string | false = existsSync(natsServerPath)
  ? false
  : `no nats-server at ${natsServerPath} (scripts/setup.sh installs it)`;

/** A running server. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Kills the server and waits until it is gone (idempotent). */
  stop(): Promise<void>;
  /**
   * Kills the server (SIGKILL: an outage, not a polite shutdown) and starts a
   * fresh one on the same port. `whileDown` runs in between, to act during
   * the outage.
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

/** The server speaks first: a NATS server greets every connection with `INFO {…}`. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (data) => done(String(data).startsWith("INFO ")));
  });
}

function launch(port: number): ChildProcess {
  // No monitoring port, no cluster, no JetStream: just the client port.
  const child = spawn(natsServerPath, ["-a", "127.0.0.1", "-p", String(port)], {
    stdio: "ignore",
  });
  child.on("error", () => {/* reported as "does not answer" below */});
  return child;
}

async function waitUntilUp(child: ChildProcess, port: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) break;
    if (await greets(port)) return;
    await delay(20);
  }
  await kill(child);
  throw new Error(`nats-server on port ${port} did not answer within 10 s`);
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  return exited;
}

/**
 * Starts `nats-server` on a free 127.0.0.1 port and waits until it greets a
 * client. The caller must `stop()` it (in a `finally`).
 */
export async function startNatsServer(): Promise<NatsServer> {
  let port = 0;
  let child: ChildProcess | undefined;
  // The free port can be taken between our probe and the server's bind: retry.
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    const candidate = launch(port);
    try {
      await waitUntilUp(candidate, port);
      child = candidate;
    } catch (error) {
      if (attempt === 2) throw error;
    }
  }
  let current = child!;
  let stopped = false;
  return {
    url: `nats://127.0.0.1:${port}`,
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

/** A loopback TCP relay in front of a server, to break one client's link and only that one. */
export interface LinkProxy {
  /** `nats://127.0.0.1:<proxy port>` */
  readonly url: string;
  /** Drops every relayed connection and refuses new ones until `heal()`. */
  cut(): void;
  /** Relays new connections again. */
  heal(): void;
  /** Drops everything and stops listening. */
  close(): Promise<void>;
}

/**
 * Relays 127.0.0.1:<new port> to 127.0.0.1:`targetPort`. While cut, accepted
 * sockets are destroyed at once: to the client it is a server that is down.
 */
export async function startLinkProxy(targetPort: number): Promise<LinkProxy> {
  const sockets = new Set<Socket>();
  let cut = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {/* the other side is destroyed in "close" */});
  };
  const server = createServer((client) => {
    track(client);
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    heal() {
      cut = false;
    },
    close() {
      cut = true;
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
