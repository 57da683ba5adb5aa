// The socket transports in push mode (Node's, Bun's and Deno's), under a hostile
// peer: a real serve() server and a raw TCP client that writes as fast as it can.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as connectNet, type Socket } from "node:net";
import { serve } from "../../src/adapters/node.ts";
import { serve as serveBun } from "../../src/adapters/bun.ts";
import { serve as serveDeno } from "../../src/adapters/deno.ts";
import type { MessageSubscription } from "../../src/channel/inbox.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline, delay } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";

// Bun's serve() runs on Bun.listen and Deno's on Deno.listen: their variants run there only.
const servers = [
  ["node", serve, false],
  ["bun", serveBun, currentRuntime === "bun" ? false : "needs Bun"],
  ["deno", serveDeno, currentRuntime === "deno" ? false : "needs Deno"],
] as const;

const PAYLOAD = 8192;

/** A masked (zero key) binary frame of PAYLOAD bytes, as a client sends it. */
function clientFrame(): Uint8Array {
  const frame = new Uint8Array(8 + PAYLOAD);
  frame.set([0x82, 0x80 | 126, PAYLOAD >> 8, PAYLOAD & 0xff, 0, 0, 0, 0]);
  return frame;
}

/** Connects, upgrades, and resolves the socket once the 101 arrived. */
function upgraded(port: number): Promise<Socket> {
  return deadline(
    new Promise<Socket>((resolve, reject) => {
      const socket = connectNet(port, "127.0.0.1", () => {
        socket.write(
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
      });
      let text = "";
      const onData = (chunk: Uint8Array) => {
        text += new TextDecoder("latin1").decode(chunk);
        if (text.includes("\r\n\r\n")) {
          socket.off("data", onData);
          assert.match(text, /^HTTP\/1\.1 101/);
          resolve(socket);
        }
      };
      socket.on("data", onData);
      socket.on("error", reject);
    }),
    5000,
    "upgrade",
  );
}

/** Writes frames until the socket stops taking them for a while; returns the frames written. */
async function flood(socket: Socket, max: number): Promise<number> {
  const frame = clientFrame();
  let written = 0;
  let last = -1;
  const writing = (async () => {
    while (written < max && !socket.destroyed) {
      written++;
      if (!socket.write(frame)) {
        await new Promise<void>((resolve) => {
          socket.once("drain", resolve);
          socket.once("close", resolve);
        });
      }
    }
  })();
  writing.catch(() => {});
  while (written !== last && written < max) {
    last = written;
    await delay(200);
  }
  return written;
}

for (const [name, serveWith, skip] of servers) {
  test(
    `serve (${name}) stops reading a flooding peer while the listener is paused, then delivers every message in order`,
    { skip },
    async () => {
      let subscription!: MessageSubscription;
      let received = 0;
      const channels: WebSocketChannel[] = [];
      const server = await serveWith({
        hostname: "127.0.0.1",
        port: 0,
        onChannel: (channel) => {
          channels.push(channel);
          subscription = channel.listen(() => void received++);
          subscription.pause();
        },
      });
      const socket = await upgraded(server.port);
      socket.resume();
      // 40,000 × 8 KiB = 320 MiB if nothing held the peer back.
      const max = 40_000;
      const written = await flood(socket, max);
      assert.ok(written < max, `the peer wrote all ${max} frames to a paused listener`);
      assert.equal(received, 0);
      subscription.resume();
      await deadline(
        (async () => {
          while (received < written) await delay(10);
        })(),
        10_000,
        `${written} messages`,
      );
      socket.destroy();
      await deadline(channels[0].closed, 5000, "closed");
      await server.close();
    },
  );
}

for (const [name, serveWith, skip] of servers) {
  test(
    `serve (${name}) reads every frame a client sent right behind its upgrade request, past 64 KiB, while onUpgrade still decided`,
    { skip },
    async () => {
      const count = 40; // 40 × 8 KiB: the transport paused its socket before the channel opened
      let received = 0;
      const channels: WebSocketChannel[] = [];
      const server = await serveWith({
        hostname: "127.0.0.1",
        port: 0,
        onUpgrade: async () => {
          await delay(300);
        },
        onChannel: async (channel) => {
          channels.push(channel);
          const reader = channel.stream.getReader();
          while (!(await reader.read()).done) received++;
        },
      });
      const socket = connectNet(server.port, "127.0.0.1");
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      socket.resume();
      const request = new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      const frame = clientFrame();
      const all = new Uint8Array(request.byteLength + count * frame.byteLength);
      all.set(request);
      for (let i = 0; i < count; i++) all.set(frame, request.byteLength + i * frame.byteLength);
      socket.write(all);
      try {
        await deadline(
          (async () => {
            while (received < count) await delay(10);
          })(),
          5000,
          `${count} messages`,
        );
        // Reading goes on: the peer's close (masked, code 1000) is answered.
        socket.write(new Uint8Array([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
        assert.equal((await deadline(channels[0].closed, 5000, "closed")).code, 1000);
      } finally {
        socket.destroy();
        await deadline(server.close(), 5000, "server.close()");
      }
    },
  );
}

for (const [name, serveWith, skip] of servers) {
  test(
    `serve (${name}) with permessage-deflate keeps the order of compressed and plain messages while inflating holds the socket`,
    { skip },
    async () => {
      const { connect } = await import("../../mod.ts");
      const count = 300;
      const got: string[] = [];
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      const server = await serveWith({
        hostname: "127.0.0.1",
        port: 0,
        compression: { threshold: 64 },
        onChannel: (channel) => {
          channel.listen((message) => {
            got.push(String(message).slice(0, 8));
            if (got.length === count) done();
          });
        },
      });
      const client = await connect(`ws://127.0.0.1:${server.port}`, {
        compression: { threshold: 64 },
      });
      try {
        const sends: Promise<void>[] = [];
        for (let i = 0; i < count; i++) {
          const id = String(i).padStart(8, "0");
          // Every other message is large enough to be compressed.
          sends.push(client.sink.add(i % 2 === 0 ? id : id + "x".repeat(4000)));
        }
        await deadline(Promise.all(sends), 10_000, "sends");
        await deadline(all, 10_000, `${count} messages`);
        assert.deepEqual(got, Array.from({ length: count }, (_, i) => String(i).padStart(8, "0")));
        assert.match(client.extensions, /permessage-deflate/);
      } finally {
        await client.sink.close().catch(() => {});
        await deadline(server.close(), 5000, "server.close()");
      }
    },
  );
}
