import { test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { maskedFrame, rawUpgrade } from "../_util/raw_ws.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import { serveHere } from "../_util/serve_here.ts";

// The bytes our servers send, checked byte for byte by a raw client, on the running
// runtime's serve() (Deno.listen, Bun.listen, node:http).

const BINARY = 0x82;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

test(`serve (${currentRuntime}): a buffer the handler refills once sink.add() resolved goes out as it was added`, async () => {
  // The handler sends every message from one buffer per size, overwritten for the next
  // message as soon as add() resolved: the transport must not still hold it.
  const server = await serveHere({
    idleTimeout: 0,
    onChannel: async (channel: WebSocketChannel) => {
      const buffers = new Map<number, Uint8Array>();
      try {
        for await (const message of channel.stream) {
          const bytes = message as Uint8Array;
          let out = buffers.get(bytes.length);
          if (out === undefined) buffers.set(bytes.length, out = new Uint8Array(bytes.length));
          out.set(bytes);
          await channel.sink.add(out);
        }
      } catch { /* the client went away */ }
    },
  });
  try {
    const random = new SeededRandom(11);
    for (const size of [2000, 20_000, 70_000]) {
      const messages = Array.from({ length: 24 }, () => random.bytes(size));
      const ws = await rawUpgrade(server.port, {
        after: concat(messages.map((m) => maskedFrame(BINARY, m))),
      });
      try {
        for (let i = 0; i < messages.length; i++) {
          const frame = await ws.frame();
          assert.ok(frame !== null, `echo ${i} of ${size} bytes`);
          assert.equal(frame.opcode, 2);
          assert.ok(
            frame.payload.length === size && frame.payload.every((b, j) => b === messages[i][j]),
            `echo ${i} of ${size} bytes is the message as added`,
          );
        }
      } finally {
        ws.socket.destroy();
      }
    }
  } finally {
    await server.close();
  }
});
