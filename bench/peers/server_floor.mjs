// The floor of idle memory: the least a WebSocket server written in JavaScript keeps per idle
// connection on this runtime's own TCP API. It reads the upgrade request, answers 101 (the
// accept value of the fixed key bench/peers/client_idle.mjs sends, not computed) and keeps the
// connection readable: on Deno one `conn.read()` pending (Deno.listen), on Bun a `data` handler
// (Bun.listen), on Node a `data` listener (node:net). No frames are parsed: for the idle
// measurement only (`bench/echo.ts`). Prints "PORT <n>".
// Usage: deno run -A bench/peers/server_floor.mjs | bun bench/peers/server_floor.mjs |
//        node bench/peers/server_floor.mjs
const ANSWER = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
const answer = new TextEncoder().encode(ANSWER);

if (globalThis.Deno) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(`PORT ${listener.addr.port}`);
  // As a server does, to close them on shutdown.
  const conns = new Set();
  const serve = async (conn) => {
    conns.add(conn);
    const buffer = new Uint8Array(1024);
    // One read holds the whole request head of client_idle.mjs.
    if ((await conn.read(buffer)) === null) return conn.close();
    await conn.write(answer);
    while ((await conn.read(buffer)) !== null);
    conns.delete(conn);
    conn.close();
  };
  for await (const conn of listener) serve(conn).catch(() => {});
} else if (globalThis.Bun) {
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        if (socket.data === undefined) {
          socket.data = true;
          socket.write(answer);
        }
      },
    },
  });
  console.log(`PORT ${listener.port}`);
} else {
  const net = await import("node:net");
  const server = net.createServer((socket) => {
    socket.once("data", () => {
      socket.write(answer);
      socket.on("data", () => {});
    });
  });
  server.listen(0, "127.0.0.1", () => console.log(`PORT ${server.address().port}`));
}
