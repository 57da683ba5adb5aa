// Echo server on Bun.serve's native WebSocket (uWebSockets). Usage: bun bench/peers/server_bun_native.ts
// deno-lint-ignore-file no-explicit-any
const Bun = (globalThis as any).Bun;
const portArg = process.argv.indexOf("--port");
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: portArg > 0 ? Number(process.argv[portArg + 1]) : 0,
  fetch(request: Request, server: any) {
    if (server.upgrade(request)) return undefined;
    return new Response("websocket only", { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    maxPayloadLength: 64 * 1024 * 1024,
    backpressureLimit: 64 * 1024 * 1024,
    idleTimeout: 0,
    message(ws: any, message: string | Uint8Array) {
      ws.send(message);
    },
  },
});
console.log(`PORT ${server.port}`);
