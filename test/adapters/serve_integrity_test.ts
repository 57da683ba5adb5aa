import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { deferred } from "../../src/_util/deferred.ts";
import { deadline, delay } from "../_util/async.ts";
import { maskedFrame, rawUpgrade, type RawWebSocket } from "../_util/raw_ws.ts";
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

for (const via of ["sink.add()", "a writer's write()"]) {
  test(`serve (${currentRuntime}): a buffer the handler refills once ${via} resolved goes out as it was sent`, async () => {
    await refilledBuffers(via === "sink.add()");
  });
}

/**
 * The handler sends every message from one buffer per size, overwritten for the next message
 * as soon as the send resolved: neither the channel nor the transport may still hold it.
 */
async function refilledBuffers(add: boolean) {
  const server = await serveHere({
    idleTimeout: 0,
    onChannel: async (channel: WebSocketChannel) => {
      const buffers = new Map<number, Uint8Array>();
      const writer = add ? undefined : channel.sink.getWriter();
      try {
        for await (const message of channel.stream) {
          const bytes = message as Uint8Array;
          let out = buffers.get(bytes.length);
          if (out === undefined) buffers.set(bytes.length, out = new Uint8Array(bytes.length));
          out.set(bytes);
          await (writer ? writer.write(out) : channel.sink.add(out));
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
            `echo ${i} of ${size} bytes is the message as sent`,
          );
        }
      } finally {
        ws.socket.destroy();
      }
    }
  } finally {
    await server.close();
  }
}

/** An echo server (the handler awaits each add) on the running runtime's serve(). */
function echoServer() {
  return serveHere({
    idleTimeout: 0,
    onChannel: async (channel: WebSocketChannel) => {
      try {
        for await (const message of channel.stream) await channel.sink.add(message);
      } catch { /* the client went away or broke a rule */ }
    },
  });
}

/** Writes `bytes` in pieces of random length (up to `max`), yielding now and then. */
async function writeInPieces(
  ws: RawWebSocket,
  bytes: Uint8Array,
  random: SeededRandom,
  max: number,
) {
  for (let at = 0; at < bytes.length;) {
    const n = 1 + random.int(max);
    ws.socket.write(bytes.subarray(at, at + n));
    at += n;
    if (random.next() < 0.3) await delay(0);
  }
}

/** The close code of the next close frame the server sends (frames before it are skipped). */
async function closeCode(ws: RawWebSocket): Promise<number | null> {
  for (;;) {
    const frame = await ws.frame();
    if (frame === null) return null;
    if (frame.opcode === 8) return (frame.payload[0] << 8) | frame.payload[1];
  }
}

const SIZES = [1, 125, 126, 1100, 16_387, 65_547, 300_000];

/** One connection echoing `count` messages of mixed sizes, written in random pieces, each checked. */
async function checkedEchoes(port: number, seed: number, count: number): Promise<void> {
  const random = new SeededRandom(seed);
  const messages = Array.from({ length: count }, (_, m) => random.bytes(SIZES[(seed + m) % 7]));
  const ws = await rawUpgrade(port);
  try {
    const wire = concat(messages.map((m) => maskedFrame(BINARY, m)));
    const writing = writeInPieces(ws, wire, random, 70_000);
    for (let m = 0; m < messages.length; m++) {
      const frame = await ws.frame();
      assert.ok(frame !== null && frame.opcode === 2, `connection ${seed}, echo ${m}`);
      assert.ok(
        frame.payload.length === messages[m].length &&
          frame.payload.every((b, i) => b === messages[m][i]),
        `connection ${seed}, echo ${m} (${messages[m].length} bytes) byte-exact`,
      );
    }
    await writing;
  } finally {
    ws.socket.destroy();
  }
}

test(`serve (${currentRuntime}): many connections at once, mixed sizes in random pieces, every echo byte-exact`, async () => {
  // Shared buffers (Bun's gathering buffer, Deno's read and join slabs) must never mix
  // one connection's bytes into another's.
  const server = await echoServer();
  try {
    await Promise.all(Array.from({ length: 12 }, (_, c) => checkedEchoes(server.port, c, 8)));
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}): echoes stay byte-exact while other connections reset, stall or quit mid-frame`, async () => {
  const server = await echoServer();
  try {
    const wreck = async (n: number) => {
      const random = new SeededRandom(1000 + n);
      const wire = concat(SIZES.map((size) => maskedFrame(BINARY, random.bytes(size))));
      const ws = await rawUpgrade(server.port);
      // Some never read the echoes of what they sent; all leave in the middle of a frame.
      if (n % 3 === 2) ws.socket.pause();
      ws.socket.write(wire.subarray(0, random.int(wire.length)));
      await delay(random.int(50));
      if (n % 3 === 0) ws.socket.resetAndDestroy();
      else if (n % 3 === 1) ws.socket.end();
      else ws.socket.destroy();
    };
    await Promise.all([
      ...Array.from({ length: 6 }, (_, c) => checkedEchoes(server.port, 50 + c, 14)),
      ...Array.from({ length: 18 }, (_, n) => wreck(n)),
    ]);
    await checkedEchoes(server.port, 99, 3);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}): frames split at every byte, a ping inside a fragmented text`, async () => {
  const server = await echoServer();
  const ws = await rawUpgrade(server.port);
  try {
    const text = new TextEncoder().encode("héllo wörld €𝄞");
    const binary = new SeededRandom(3).bytes(300);
    const wire = concat([
      maskedFrame(0x01, text.subarray(0, 6)), // a code point split between the two fragments
      maskedFrame(0x89, new TextEncoder().encode("p")),
      maskedFrame(0x80, text.subarray(6)),
      maskedFrame(BINARY, binary),
    ]);
    for (let i = 0; i < wire.length; i++) {
      ws.socket.write(wire.subarray(i, i + 1));
      await delay(1);
    }
    const pong = await ws.frame();
    assert.deepEqual([pong?.opcode, pong?.payload[0]], [0x0a, 0x70], "the pong");
    const echoed = await ws.frame();
    assert.equal(echoed?.opcode, 1);
    assert.deepEqual(echoed?.payload, text);
    const echoedBinary = await ws.frame();
    assert.deepEqual(echoedBinary?.payload, binary);
  } finally {
    ws.socket.destroy();
    await server.close();
  }
});

test(`serve (${currentRuntime}): declared lengths past the limit close 1009, the 64th bit 1002, before any payload`, async () => {
  const server = await echoServer();
  try {
    const cases: [bigint, number][] = [[2n ** 63n, 1002], [2n ** 62n, 1009], [
      64n * 1024n * 1024n + 1n,
      1009,
    ]];
    for (const [length, code] of cases) {
      const head = new Uint8Array(10);
      head[0] = BINARY;
      head[1] = 0x80 | 127;
      new DataView(head.buffer).setBigUint64(2, length);
      // The length without its mask key: the limit is checked as soon as the length is known.
      const ws = await rawUpgrade(server.port, { after: head });
      try {
        assert.equal(await closeCode(ws), code, `declared ${length}`);
        await deadline(ws.closed, 10_000, "the server to close the connection");
      } finally {
        ws.socket.destroy();
      }
    }
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}): invalid UTF-8 split across reads and fragments closes 1007`, async () => {
  const server = await echoServer();
  try {
    const large = new Uint8Array(300_000).fill(0x61);
    large[299_990] = 0xff;
    const largeFrame = maskedFrame(0x81, large);
    const cases: Uint8Array[][] = [
      // A 4-byte sequence whose continuation is broken in the next fragment.
      [maskedFrame(0x01, new Uint8Array([0xf0, 0x9d])), maskedFrame(0x80, new Uint8Array([0x41]))],
      // An encoded surrogate, its last bytes in a later read.
      [maskedFrame(0x81, new Uint8Array([0x61, 0xed, 0xa0, 0x80]))].flatMap((f) => [
        f.subarray(0, f.length - 2),
        f.subarray(f.length - 2),
      ]),
      // A sequence cut short at the end of the message.
      [maskedFrame(0x81, new Uint8Array([0x61, 0xe2, 0x82]))],
      // A bad byte in the last read of a frame that spans reads.
      [
        largeFrame.subarray(0, 100_000),
        largeFrame.subarray(100_000, 200_000),
        largeFrame.subarray(200_000),
      ],
    ];
    for (const [i, pieces] of cases.entries()) {
      const ws = await rawUpgrade(server.port);
      try {
        for (const piece of pieces) {
          ws.socket.write(piece);
          await delay(5);
        }
        assert.equal(await closeCode(ws), 1007, `case ${i}`);
      } finally {
        ws.socket.destroy();
      }
    }
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}): Sec-WebSocket-Accept equals base64(SHA-1) of node:crypto for random keys`, async () => {
  const server = await echoServer();
  try {
    const random = new SeededRandom(7);
    for (let i = 0; i < 20; i++) {
      const key = btoa(String.fromCharCode(...random.bytes(16)));
      const expected = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
        .digest("base64");
      const ws = await rawUpgrade(server.port, { key });
      ws.socket.destroy();
      assert.match(ws.head, /^HTTP\/1\.1 101 /);
      const accept = /\r\nsec-websocket-accept: *([^\r]*)/i.exec(ws.head);
      assert.equal(accept?.[1], expected, key);
    }
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}): a close reply that never left (the peer stopped reading) is not a clean close`, async () => {
  // The handler sends until the client, which reads nothing, has filled every buffer on the
  // way; the client's close is read, but our reply stays behind the unsent bytes until the
  // close timeout drops the connection.
  const closed = deferred<{ code: number; wasClean: boolean }>();
  const server = await serveHere({
    idleTimeout: 0,
    closeTimeout: 300,
    onChannel: async (channel: WebSocketChannel) => {
      channel.closed.then((info) => closed.resolve(info), (error) => closed.reject(error));
      const block = new Uint8Array(256 * 1024);
      try {
        for (;;) await channel.sink.add(block);
      } catch { /* closed */ }
    },
  });
  const ws = await rawUpgrade(server.port);
  try {
    ws.socket.pause();
    await delay(500);
    ws.socket.write(maskedFrame(0x88, new Uint8Array([0x03, 0xe8])));
    const info = await deadline(closed.promise, 10_000, "the server's channel to close");
    assert.deepEqual([info.code, info.wasClean], [1000, false]);
  } finally {
    ws.socket.destroy();
    await server.close();
  }
});
