import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { encodeFrame } from "../../src/engine/frame_encoder.ts";
import { Opcode } from "../../src/engine/opcode.ts";
import { compressMessageForm } from "../../src/deflate/compress_message.ts";
import type { ServeOptions, WebSocketServer } from "../../src/adapters/serve_options.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { serveHere as serveOn } from "../_util/serve_here.ts";
import { bunServe } from "../_util/entry_points.ts";

// Message limits as the server options set them, on the running runtime's serve().

function serveHere(options: Partial<ServeOptions>): Promise<WebSocketServer> {
  return serveOn({ idleTimeout: 0, ...options });
}

/** A masked client frame. */
function frame(fin: boolean, opcode: Opcode, payload: Uint8Array): Uint8Array {
  const { header, payload: masked } = encodeFrame({ fin, rsv1: false, opcode, payload }, {
    mask: true,
  });
  return Uint8Array.from([...header, ...masked]);
}

test(`serve (${currentRuntime}) maxFragments: a message in one frame more closes with 1008`, async () => {
  const server = await serveHere({
    maxFragments: 4,
    onChannel: (channel) => channel.stream.pipeTo(channel.sink).catch(() => {}),
  });
  const socket = netConnect({ host: "127.0.0.1", port: server.port });
  try {
    const received: number[] = [];
    socket.on("data", (chunk: Uint8Array) => received.push(...chunk));
    socket.on("error", () => {});
    const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    const a = new Uint8Array([0x61]);
    // Four frames are fine (echoed as one message), five are not.
    socket.write(frame(false, Opcode.text, a));
    for (let i = 0; i < 2; i++) socket.write(frame(false, Opcode.continuation, a));
    socket.write(frame(true, Opcode.continuation, a));
    for (let i = 0; i < 5; i++) {
      socket.write(frame(i === 4, i === 0 ? Opcode.text : Opcode.continuation, a));
    }
    await deadline(ended, 10_000, "the server to close");
    const bytes = Uint8Array.from(received);
    const text = new TextDecoder("latin1").decode(bytes);
    const frames = bytes.subarray(text.indexOf("\r\n\r\n") + 4);
    assert.deepEqual([...frames.subarray(0, 6)], [0x81, 4, 0x61, 0x61, 0x61, 0x61], "the echo");
    assert.equal(frames[6], 0x88, "then a close");
    assert.equal((frames[8] << 8) | frames[9], 1008);
  } finally {
    socket.destroy();
    await server.close();
  }
});

/** Opens a raw connection that offered permessage-deflate; collects what the server sends. */
async function rawDeflateClient(port: number) {
  const socket = netConnect({ host: "127.0.0.1", port });
  const received: number[] = [];
  socket.on("data", (chunk: Uint8Array) => received.push(...chunk));
  socket.on("error", () => {});
  const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.write(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n\r\n",
  );
  await deadline(
    (async () => {
      while (!new TextDecoder("latin1").decode(Uint8Array.from(received)).includes("\r\n\r\n")) {
        await new Promise((r) => setTimeout(r, 5));
      }
    })(),
    5000,
    "the 101",
  );
  return { socket, received, ended };
}

/** Random bytes, deflated as a sender that never falls back to uncompressed would (larger). */
async function compressedRandom(n: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  const { payload } = await compressMessageForm(bytes);
  assert.ok(payload.length > n, "incompressible data grows");
  const { header, payload: masked } = encodeFrame(
    { fin: true, rsv1: true, opcode: Opcode.binary, payload },
    { mask: true },
  );
  return Uint8Array.from([...header, ...masked]);
}

test(
  "createBunHandler with compression accepts an incompressible message of exactly maxMessageSize",
  { skip: currentRuntime === "bun" ? false : "needs Bun" },
  async () => {
    const { createBunHandler } = await import("../../src/adapters/bun.ts");
    const received: number[] = [];
    const handler = createBunHandler({
      maxMessageSize: 100_000,
      compression: true,
      idleTimeout: 0,
      onChannel: async (channel: WebSocketChannel) => {
        for await (const message of channel.stream) received.push((message as Uint8Array).length);
      },
    });
    const bun = bunServe(handler);
    try {
      const fits = await rawDeflateClient(bun.port);
      fits.socket.write(await compressedRandom(100_000));
      await deadline(
        (async () => {
          while (received.length === 0) await new Promise((r) => setTimeout(r, 5));
        })(),
        5000,
        "the message of exactly maxMessageSize",
      );
      assert.deepEqual(received, [100_000]);
      const tooBig = await rawDeflateClient(bun.port);
      const headLength = tooBig.received.length;
      tooBig.socket.write(await compressedRandom(100_001));
      await deadline(tooBig.ended, 5000, "the oversized message to close the connection");
      const frames = Uint8Array.from(tooBig.received).subarray(headLength);
      assert.equal(frames[0], 0x88, "a close frame");
      assert.equal((frames[2] << 8) | frames[3], 1009);
      fits.socket.destroy();
    } finally {
      bun.stop(true);
    }
  },
);
