import { test } from "node:test";
import assert from "node:assert/strict";
import { fromStreams } from "../../src/channel/stream_channel.ts";
import type { ByteReader, ByteWriter } from "../../src/channel/stream_channel_options.ts";
import { concatBytes } from "../_util/hex.ts";
import { deadline } from "../_util/async.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import { clientFrame } from "../engine/_frames.ts";

/**
 * A pull transport with `readInto`, serving `wire` in reads of at most `step`
 * bytes, then EOF; it logs how each read was made and keeps what was written.
 */
function pullTransport(wire: Uint8Array, step: number) {
  let pos = 0;
  const log: string[] = [];
  const written: Uint8Array[] = [];
  let settle!: () => void;
  const next = (max: number) => {
    const n = Math.min(max, step, wire.length - pos);
    const bytes = wire.subarray(pos, pos + n);
    pos += n;
    return bytes;
  };
  const reader: ByteReader = {
    closed: new Promise<void>((resolve) => (settle = resolve)),
    read() {
      if (pos === wire.length) {
        settle();
        return Promise.resolve({ done: true, value: undefined });
      }
      const bytes = next(Infinity);
      log.push(`read ${bytes.length}`);
      return Promise.resolve({ done: false, value: bytes.slice() });
    },
    readInto(target) {
      if (pos === wire.length) {
        settle();
        return Promise.resolve(null);
      }
      const bytes = next(target.length);
      target.set(bytes);
      log.push(`into ${bytes.length}`);
      return Promise.resolve(bytes.length);
    },
    cancel: () => Promise.resolve(),
  };
  const writer: ByteWriter = {
    write(chunk) {
      written.push(chunk.slice());
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
  const streams = {
    get readable(): ReadableStream<Uint8Array> {
      throw new Error("not used");
    },
    get writable(): WritableStream<Uint8Array> {
      throw new Error("not used");
    },
    direct: () => ({ reader, writer }),
  };
  return { streams, log, written: () => concatBytes(written) };
}

const random = new SeededRandom(11);

test("A channel reads a large payload straight into its buffer over many reads, then the next message", async () => {
  const big = random.bytes(1_500_000);
  const wire = concatBytes([clientFrame(0x82, big), clientFrame(0x81, "after")]);
  const { streams, log } = pullTransport(wire, 100_000);
  const channel = fromStreams(streams, { role: "server", maxMessageSize: 2 * 1024 * 1024 });
  const messages: (string | Uint8Array)[] = [];
  channel.listen((message) => void messages.push(message));
  await deadline(channel.closed, 5000, "the end of the transport");
  assert.equal(messages.length, 2);
  assert.deepEqual(messages[0], big);
  assert.equal(messages[1], "after");
  // The first read holds the header; the payload's rest is read into its buffer, and the
  // read into it stops at the payload's end, so the next frame comes by a plain read.
  const into = log.filter((entry) => entry.startsWith("into"));
  assert.ok(into.length >= 10, log.join());
  assert.equal(log[0], "read 100000");
  assert.ok(log.at(-1)!.startsWith("read"), log.join());
});

test("A channel's peer that ends inside a payload read into its buffer closes 1006", async () => {
  const big = random.bytes(400_000);
  const wire = clientFrame(0x82, big).subarray(0, 250_000);
  const { streams, log } = pullTransport(wire, 64 * 1024);
  const channel = fromStreams(streams, { role: "server" });
  const messages: unknown[] = [];
  channel.listen((message) => void messages.push(message));
  const closed = await deadline(channel.closed, 5000, "closed");
  assert.equal(closed.code, 1006);
  assert.equal(messages.length, 0);
  assert.ok(log.some((entry) => entry.startsWith("into")), log.join());
});

test("A channel fails a too large declared length with 1009 without reading into anything", async () => {
  // 64 MiB declared against a 1 MiB limit, followed by payload bytes.
  const header = new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0x04, 0, 0, 0, 1, 2, 3, 4]);
  const wire = concatBytes([header, new Uint8Array(300_000)]);
  const { streams, log, written } = pullTransport(wire, 100_000);
  const channel = fromStreams(streams, { role: "server", maxMessageSize: 1024 * 1024 });
  channel.listen(() => {});
  const closed = await deadline(channel.closed, 5000, "closed");
  assert.equal(closed.code, 1009);
  assert.ok(!log.some((entry) => entry.startsWith("into")), log.join());
  // Our close frame carries 1009.
  const out = written();
  assert.deepEqual([out[0], out[2], out[3]], [0x88, 0x03, 0xf1]);
});
