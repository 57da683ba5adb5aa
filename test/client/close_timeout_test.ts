import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Socket } from "node:net";
// The entry point installs the engine transport (Node 20 has no global WebSocket).
import "../../mod.ts";
import { WebSocketClient } from "../../src/client/web_socket_client.ts";
import { deadline } from "../_util/async.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// A server that upgrades by hand and then reads everything without ever answering: a close
// frame gets no reply, so only the client's side can end the connection.
function silentServer() {
  let closed!: () => void;
  const socketClosed = new Promise<void>((resolve) => closed = resolve);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => closed());
    let head = "";
    const onHead = (chunk: Uint8Array) => {
      head += new TextDecoder("latin1").decode(chunk);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onHead);
      socket.on("data", () => {});
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head.slice(0, end))?.[1] ?? "";
      const accept = createHash("sha1").update(key + GUID).digest("base64");
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
    };
    socket.on("data", onHead);
  });
  const port = new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port))
  );
  const stop = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port, socketClosed, stop };
}

test("client.close() ends the connection at the client's closeTimeout when the server never answers", async () => {
  const server = silentServer();
  const client = new WebSocketClient(`ws://127.0.0.1:${await server.port}/`, {
    heartbeat: false,
    reconnect: false,
    closeTimeout: 200,
  });
  try {
    await deadline(client.connect(), 10_000, "the client to connect");
    await deadline(client.close(), 10_000, "close() to resolve");
    assert.equal(client.state.type, "closed");
    // The channel's own default close timeout is 5 s: the socket goes long before that.
    await deadline(server.socketClosed, 2_500, "the connection to end after the client's 200 ms");
  } finally {
    await client.close().catch(() => {});
    await server.stop();
  }
});
