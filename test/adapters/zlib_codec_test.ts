import assert from "node:assert/strict";
import { test } from "node:test";
import * as zlib from "node:zlib";
import { withZlibCodec, zlibCodec } from "../../src/adapters/zlib_codec.ts";
import { ProtocolError } from "../../src/engine/errors.ts";
import { PerMessageDeflate } from "../../src/deflate/permessage_deflate.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

function json(i: number): Uint8Array {
  return encoder.encode(JSON.stringify({
    id: i,
    user: `user-${(i * 7919) % 1000}`,
    items: Array.from({ length: 10 }, (_, j) => ({ sku: `SKU-${i * 31 + j}`, qty: j % 5 })),
  }));
}

function endsWithTail(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && TAIL.every((b, i) => bytes[bytes.length - 4 + i] === b);
}

test("zlib codec: every message is sync-flushed (ends with 00 00 ff ff), none starts a final block", async () => {
  const deflater = zlibCodec.deflater(15);
  try {
    for (let i = 0; i < 20; i++) {
      const out = await deflater.deflate(json(i));
      assert.ok(endsWithTail(out), `message ${i}`);
      assert.equal(out[0] & 1, 0, `message ${i} begins with a BFINAL block`);
    }
  } finally {
    deflater.close();
  }
});

test("zlib codec: context takeover shrinks a repeated message, and reset() forgets the window", async () => {
  const deflater = zlibCodec.deflater(15);
  const inflater = zlibCodec.inflater(15);
  try {
    const message = json(1);
    const first = await deflater.deflate(message);
    const again = await deflater.deflate(message);
    assert.ok(again.length < first.length / 3, `${again.length} vs ${first.length}`);
    // The inflater keeps the same window: the second message only refers back.
    assert.equal(
      decoder.decode((await inflater.inflate([first], Infinity))!),
      decoder.decode(message),
    );
    assert.equal(
      decoder.decode((await inflater.inflate([again], Infinity))!),
      decoder.decode(message),
    );
    deflater.reset();
    const fresh = await deflater.deflate(message);
    assert.equal(fresh.length, first.length);
  } finally {
    deflater.close();
    inflater.close();
  }
});

test("zlib codec: a 9-bit window is honoured (a 512-byte zlib inflater reads every message)", async () => {
  const deflater = zlibCodec.deflater(9);
  const reference = zlib.createInflateRaw({ windowBits: 9 });
  const chunks: Uint8Array[] = [];
  reference.on("data", (c: Uint8Array) => chunks.push(c));
  const inflate = (data: Uint8Array) =>
    new Promise<string>((resolve, reject) => {
      reference.once("error", reject);
      reference.write(data);
      reference.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(chunks);
        chunks.length = 0;
        resolve(out.toString());
      });
    });
  try {
    // Repeats of 600-byte-old text would be cheap matches in a 32 KiB window, not in 512 bytes.
    const random = new SeededRandom(9);
    const block = Array.from(random.bytes(600), (b) => String.fromCharCode(97 + (b % 26))).join("");
    for (let i = 0; i < 5; i++) {
      const message = `${block}${i}${block}`;
      assert.equal(await inflate(await deflater.deflate(encoder.encode(message))), message);
    }
  } finally {
    deflater.close();
    reference.close();
  }
});

test("zlib codec: inflating stops at maxSize (a 64 MiB bomb against a 1 MiB limit)", async () => {
  const bomb = zlib.deflateRawSync(new Uint8Array(64 << 20), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const inflater = zlibCodec.inflater(15);
  try {
    assert.equal(await inflater.inflate([bomb], 1 << 20), null);
  } finally {
    inflater.close();
  }
});

test("zlib codec: corrupt data rejects; a peer's final block ends one stream and the next message starts another", async () => {
  const inflater = zlibCodec.inflater(15);
  try {
    await assert.rejects(inflater.inflate([new Uint8Array([0xff, 0xff, 0xff, 0xff]), TAIL], 1024));
    // RFC 7692 §7.2.3.4: "a" in a BFINAL block, the 00 octet, then the sync-flushed "b".
    const a = await inflater.inflate([new Uint8Array([0x4b, 0x04, 0x00, 0x00]), TAIL], 1024);
    assert.equal(decoder.decode(a!), "a");
    const b = await inflater.inflate([new Uint8Array([0x4a, 0x02, 0x00]), TAIL], 1024);
    assert.equal(decoder.decode(b!), "b");
  } finally {
    inflater.close();
  }
});

test("PerMessageDeflate with the zlib codec: both directions keep context by default, payloads carry no final block", async () => {
  const accepted = PerMessageDeflate.acceptOffer(
    "permessage-deflate; client_max_window_bits",
    withZlibCodec({ threshold: 0 }),
  )!;
  assert.equal(accepted.response, "permessage-deflate");
  const client = PerMessageDeflate.acceptResponse(
    accepted.response,
    withZlibCodec({ threshold: 0 }),
  )!;
  const server = accepted.deflate;
  try {
    const sizes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const message = json(i % 3);
      const { data, compressed } = await server.encode(message);
      assert.ok(compressed);
      assert.equal(data[0] & 1, 0);
      sizes.push(data.length);
      assert.deepEqual(await client.decompress(data, { maxSize: 1 << 20 }), message);
      const back = await client.encode(message);
      assert.deepEqual(await server.decompress(back.data, { maxSize: 1 << 20 }), message);
    }
    // From the fourth message on, each repeats one already in the window.
    assert.ok(sizes[3] < sizes[0] / 3, sizes.join(" "));
  } finally {
    server.close();
    client.close();
  }
});

test("PerMessageDeflate with the zlib codec: 1009 past maxSize, 1007 for corrupt data", async () => {
  const server = PerMessageDeflate.acceptOffer("permessage-deflate", withZlibCodec(true))!.deflate;
  try {
    const big = zlib.deflateRawSync(new Uint8Array(1 << 20), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    await assert.rejects(
      server.decompress(big.subarray(0, big.length - 4), { maxSize: 4096 }),
      (e: unknown) => e instanceof ProtocolError && e.closeCode === 1009,
    );
  } finally {
    server.close();
  }
  const other = PerMessageDeflate.acceptOffer("permessage-deflate", withZlibCodec(true))!.deflate;
  try {
    await assert.rejects(
      other.decompress(new Uint8Array([0xff, 0xff, 0xff]), { maxSize: 4096 }),
      (e: unknown) => e instanceof ProtocolError && e.closeCode === 1007,
    );
  } finally {
    other.close();
  }
});

test("PerMessageDeflate with the zlib codec: an incompressible message goes out as is and the window forgets it", async () => {
  const accepted = PerMessageDeflate.acceptOffer("permessage-deflate", withZlibCodec(true))!;
  const client = PerMessageDeflate.acceptResponse(accepted.response, withZlibCodec(true))!;
  const server = accepted.deflate;
  try {
    const noise = new SeededRandom(3).bytes(2048);
    const raw = await server.encode(noise);
    assert.equal(raw.compressed, false);
    // Had the compressor kept the noise, this copy would refer to bytes the client never inflated.
    const repeat = await server.encode(new Uint8Array([...noise, ...noise]));
    assert.ok(repeat.compressed);
    assert.deepEqual(
      await client.decompress(repeat.data, { maxSize: 1 << 20 }),
      new Uint8Array([...noise, ...noise]),
    );
  } finally {
    server.close();
    client.close();
  }
});

/** A deflater and an inflater whose synchronous methods work (node:zlib loaded first). */
async function syncPair(windowBits = 15) {
  const deflater = zlibCodec.deflater(windowBits);
  const inflater = zlibCodec.inflater(windowBits);
  // The first call loads node:zlib; from then on the synchronous path is ready.
  await inflater.inflate([await deflater.deflate(encoder.encode("warm-up")), TAIL], 1024);
  assert.ok(deflater.deflateSync!(json(0)) !== undefined, "no synchronous path on this runtime");
  deflater.reset();
  inflater.reset();
  return { deflater, inflater };
}

test("zlib codec: the synchronous path emits the same bytes as the thread-pool path, in any mix, with context", async () => {
  const { deflater: mixed } = await syncPair();
  const reference = zlibCodec.deflater(15);
  try {
    for (let i = 0; i < 12; i++) {
      const message = json(i % 4);
      const expected = await reference.deflate(message);
      const out = i % 3 === 2 ? await mixed.deflate(message) : mixed.deflateSync!(message)!;
      assert.deepEqual(out, expected, `message ${i}`);
      assert.ok(endsWithTail(out), `message ${i} ends with 00 00 ff ff`);
      assert.equal(out[0] & 1, 0, `message ${i} begins with a BFINAL block`);
    }
  } finally {
    mixed.close();
    reference.close();
  }
});

test("zlib codec: synchronous inflate reads context, stops a bomb at maxSize, throws on corrupt data", async () => {
  const { deflater, inflater } = await syncPair();
  try {
    const message = json(5);
    for (let i = 0; i < 3; i++) {
      const out = inflater.inflateSync!([deflater.deflateSync!(message)!], 1 << 20);
      assert.deepEqual(out, message);
    }
    // 64 MiB of zeros in ~64 KiB: too big for the synchronous path, which declines.
    const bomb = zlib.deflateRawSync(new Uint8Array(64 << 20), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    assert.equal(inflater.inflateSync!([bomb], 1 << 20), undefined);
    // 16 MiB of zeros in ~16 KiB: inflated on the calling thread up to the limit, then null.
    const small = zlib.deflateRawSync(new Uint8Array(15 << 20), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    assert.ok(small.length <= 16 * 1024, `${small.length}`);
    assert.equal(inflater.inflateSync!([small], 1 << 20), null);
    assert.throws(() =>
      inflater.inflateSync!([new Uint8Array([0xff, 0xff, 0xff, 0xff]), TAIL], 1024)
    );
    // Each failure dropped the stream: the next message starts a fresh one.
    const fresh = zlibCodec.deflater(15);
    try {
      const out = inflater.inflateSync!([fresh.deflateSync!(message)!], 1 << 20);
      assert.deepEqual(out, message);
    } finally {
      fresh.close();
    }
  } finally {
    deflater.close();
    inflater.close();
  }
});

test("zlib codec: synchronously, a peer's final block ends one stream and the next message starts another", async () => {
  const { inflater } = await syncPair();
  try {
    // RFC 7692 §7.2.3.4: "a" in a BFINAL block, the 00 octet, then the sync-flushed "b".
    const a = inflater.inflateSync!([new Uint8Array([0x4b, 0x04, 0x00, 0x00]), TAIL], 1024);
    assert.equal(decoder.decode(a!), "a");
    const b = inflater.inflateSync!([new Uint8Array([0x4a, 0x02, 0x00]), TAIL], 1024);
    assert.equal(decoder.decode(b!), "b");
  } finally {
    inflater.close();
  }
});

test("PerMessageDeflate with the zlib codec: encodeSync/decompressSync while idle, undefined behind queued work", async () => {
  const accepted = PerMessageDeflate.acceptOffer(
    "permessage-deflate; client_max_window_bits",
    withZlibCodec({ threshold: 64 }),
  )!;
  const client = PerMessageDeflate.acceptResponse(accepted.response, withZlibCodec(true))!;
  const server = accepted.deflate;
  try {
    // Warm up: loads node:zlib.
    const first = await server.encode(json(1));
    assert.deepEqual(await client.decompress(first.data, { maxSize: 1 << 20 }), json(1));
    assert.deepEqual(server.encodeSync(encoder.encode("short")), {
      data: encoder.encode("short"),
      compressed: false,
    });
    const sync = server.encodeSync(json(2))!;
    assert.ok(sync.compressed && sync.data.length < json(2).length / 2);
    assert.deepEqual(client.decompressSync(sync.data, { maxSize: 1 << 20 }), json(2));
    // A message too big to compress on the calling thread goes to the queue; the next one
    // must wait behind it, or the order of the shared window would break.
    const big = encoder.encode(
      JSON.stringify(Array.from({ length: 800 }, (_, i) => json(i).length)),
    );
    const noise = new SeededRandom(4).bytes(20_000);
    const large = new Uint8Array([...big, ...noise]);
    assert.ok(large.length > 16 * 1024);
    const queued = server.encode(large);
    assert.equal(server.encodeSync(json(3)), undefined);
    const after = server.encode(json(3));
    const [l, a] = await Promise.all([queued, after]);
    assert.deepEqual(await client.decompress(l.data, { maxSize: 1 << 20 }), large);
    assert.deepEqual(client.decompressSync(a.data, { maxSize: 1 << 20 }), json(3));
    // Synchronous failures carry the close code: 1009 past maxSize, 1007 for corrupt data.
    const zeros = zlib.deflateRawSync(new Uint8Array(1 << 20), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    assert.throws(
      () => server.decompressSync(zeros.subarray(0, zeros.length - 4), { maxSize: 4096 }),
      (e: unknown) => e instanceof ProtocolError && e.closeCode === 1009,
    );
    assert.throws(
      () => client.decompressSync(new Uint8Array([0xff, 0xff, 0xff]), { maxSize: 4096 }),
      (e: unknown) => e instanceof ProtocolError && e.closeCode === 1007,
    );
  } finally {
    server.close();
    client.close();
  }
  assert.throws(() => server.encodeSync(json(4)), /closed/);
});

test("PerMessageDeflate with the zlib codec: a shared payload (15-bit window) only within the agreed window", () => {
  const accepted = PerMessageDeflate.acceptOffer(
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
    withZlibCodec({ threshold: 0 }),
  )!;
  assert.match(accepted.response, /server_max_window_bits=10/);
  const server = accepted.deflate;
  try {
    assert.equal(accepted.deflate.codec, zlibCodec);
    const form = { length: 100, final: false };
    // A peer with a 1 KiB window cannot follow a 15-bit stream's references further back.
    assert.equal(server.usesShared(1024, form), true);
    assert.equal(server.usesShared(1025, form), false);
  } finally {
    server.close();
  }
});
