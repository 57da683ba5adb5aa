/**
 * Loopback TCP for tests: a `node:net` server on 127.0.0.1, port 0, whose
 * sockets are handed over as Web Streams, and a client connect helper.
 * Works on Deno, Bun and Node.
 *
 * @module
 */
import { connect, createServer, type Socket } from "node:net";
import { type SocketStreams, socketStreams } from "../../src/adapters/node_socket_streams.ts";

/** A listening server; `close()` also destroys open sockets. */
export interface TcpServer {
  port: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (port 0) and calls `onConnection` with each socket as streams. */
export async function listenTcp(
  onConnection: (streams: SocketStreams, socket: Socket) => void,
): Promise<TcpServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    onConnection(socketStreams(socket), socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Connects to 127.0.0.1:`port` and returns the socket as streams. */
export async function connectTcp(port: number): Promise<SocketStreams & { socket: Socket }> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { ...socketStreams(socket), socket };
}

/**
 * Two raw `node:net` sockets connected over loopback (the client and the
 * server's side of one connection); `close()` destroys both and the server.
 */
export async function connectedSocketPair() {
  let serverSide!: Socket;
  const server = createServer();
  const accepted = new Promise<void>((resolve) => {
    server.once("connection", (socket) => {
      serverSide = socket;
      resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = connect({ host: "127.0.0.1", port: (server.address() as { port: number }).port });
  await accepted;
  return {
    client,
    serverSide,
    close: () => {
      client.destroy();
      serverSide.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
