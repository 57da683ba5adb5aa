/**
 * A real `nats-server` on a free loopback port for tests, started and
 * stopped by the test itself. Works on Deno, Bun and Node.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import {
  answersProbe,
  freePort,
  type ServerProcess,
  type ServerProgram,
  startServerProcess,
} from "./server_process.ts";

export { freePort };

/** Where Debian (and `scripts/setup.sh`) puts the server; `WSC_NATS_SERVER` overrides it. */
export const natsServerPath: string = process.env.WSC_NATS_SERVER ?? "/usr/sbin/nats-server";

/** `false` when the server exists, else the reason to skip (for `test(name, { skip })`). */
export const natsSkip: string | false = existsSync(natsServerPath)
  ? false
  : `no nats-server at ${natsServerPath} (scripts/setup.sh installs it)`;

/** A running server. */
export interface NatsServer extends ServerProcess {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
}

/** The server speaks first: a NATS server greets every connection with `INFO {…}`. */
function greets(port: number): Promise<boolean> {
  return answersProbe(port, undefined, (answer) => answer.startsWith("INFO "));
}

const nats: ServerProgram = {
  name: "nats-server",
  command: natsServerPath,
  // No monitoring port, no cluster, no JetStream: just the client port.
  args: (port) => ["-a", "127.0.0.1", "-p", String(port)],
  answers: greets,
};

/**
 * Starts `nats-server` on a free 127.0.0.1 port and waits until it greets a
 * client. The caller must `stop()` it (in a `finally`).
 */
export async function startNatsServer(): Promise<NatsServer> {
  const server = await startServerProcess(nats);
  return Object.assign(server, { url: `nats://127.0.0.1:${server.port}` });
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
