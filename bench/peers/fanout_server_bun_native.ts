// Fan-out server on Bun's own topics: Bun.serve, ws.subscribe() and server.publish() (uWebSockets
// frames each message once). Usage: bun bench/peers/fanout_server_bun_native.ts — prints "PORT <n>".
// /sub connections subscribe; /ctl drives the publisher (fanout_control.mjs). Same backpressure
// limit as createBunHandler's default (1 MiB), no pings, no compression.
// deno-lint-ignore-file no-explicit-any
import { Publisher, TOPIC } from "./fanout_control.mjs";

const Bun = (globalThis as any).Bun;
let subscribers = 0;
const publisher = new Publisher({
  publish: (data) => server.publish(TOPIC, data),
  subscribers: () => subscribers,
});

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request: Request, server: any) {
    const ctl = new URL(request.url).pathname === "/ctl";
    if (server.upgrade(request, { data: { ctl } })) return undefined;
    return new Response("websocket only", { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    idleTimeout: 0,
    sendPings: false,
    backpressureLimit: 1024 * 1024,
    closeOnBackpressureLimit: false,
    open(ws: any) {
      if (ws.data.ctl) return;
      ws.subscribe(TOPIC);
      subscribers++;
    },
    close(ws: any) {
      if (!ws.data.ctl) subscribers--;
    },
    async message(ws: any, message: string | Uint8Array) {
      const reply = await publisher.command(String(message));
      if (reply !== undefined) ws.send(reply);
    },
  },
});
console.log(`PORT ${server.port}`);
