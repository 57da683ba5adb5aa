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
