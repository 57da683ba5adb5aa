import { test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { decompressMessage } from "../../src/deflate/decompress_message.ts";
import { ProtocolError } from "../../src/engine/errors.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
// Node 20's stream ignores bytes after the final block (zlib semantics); Node 24
// rejects them ("Trailing junk found after the end of the compressed stream") as
// Bun does. Checked on Node 20.20 and 24.21.
const ignoresTrailingData = runtime === "node" &&
  Number(globalThis.process?.versions?.node?.split(".")[0]) < 22;
const hex = (s: string) =>
  new Uint8Array(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};

/** Seeded xorshift bytes: incompressible test data. */
function randomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A zlib peer: raw deflate, each message sync-flushed and stripped of 00 00 ff ff (RFC 7692 §7.2.1). */
function zlibPeer(options: { contextTakeover: boolean }) {
  let deflate = zlib.createDeflateRaw();
  return async (message: Uint8Array): Promise<Uint8Array> => {
    if (!options.contextTakeover) deflate = zlib.createDeflateRaw();
    const chunks: Uint8Array[] = [];
    const onData = (chunk: Uint8Array) => chunks.push(new Uint8Array(chunk));
    deflate.on("data", onData);
    deflate.write(message);
    await new Promise<void>((resolve) =>
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve())
    );
    deflate.off("data", onData);
    const out = cat(...chunks);
    assert.deepEqual([...out.subarray(-4)], [0, 0, 0xff, 0xff]);
    return out.subarray(0, out.length - 4);
  };
}

async function rejectsWith(
  promise: Promise<unknown>,
  closeCode: number,
  code: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal(error.closeCode, closeCode);
    assert.equal(error.code, code);
    return true;
  });
}

async function rawInflate(input: Uint8Array): Promise<{ out: string; error: string | null }> {
  const stream = new DecompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  let error: string | null = null;
  const pump = writer.write(input as Uint8Array<ArrayBuffer>).then(() => writer.close()).catch(
    (e) => {
      error ??= String(e?.message ?? e);
    },
  );
  const chunks: Uint8Array[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
  } catch (e) {
    error ??= String((e as Error)?.message ?? e);
  }
  await pump;
  return { out: error === null ? text(cat(...chunks)) : "", error };
}

// ---- platform behaviour the implementation relies on (see the table in decompress_message.ts) ----

test("DecompressionStream platform facts: trailer forms, BFINAL, trailing data, corrupt input", async () => {
  const hello = hex("f2 48 cd c9 c9 07 00"); // RFC 7692 §7.2.3.1
  const helloFinal = hex("f3 48 cd c9 c9 07 00"); // BFINAL=1 block
  const tail = hex("00 00 ff ff");
  const fin = hex("01 00 00 ff ff");
  const syncTail = await rawInflate(cat(hello, tail));
  if (runtime === "deno") assert.deepEqual(syncTail, { out: "Hello", error: null });
  else assert.notEqual(syncTail.error, null); // Node and Bun: "unexpected end of file"
  assert.deepEqual(await rawInflate(cat(hello, tail, fin)), { out: "Hello", error: null });
  assert.deepEqual(await rawInflate(helloFinal), { out: "Hello", error: null });
  const trailing = await rawInflate(cat(helloFinal, hex("00")));
  if (ignoresTrailingData) assert.deepEqual(trailing, { out: "Hello", error: null });
  else assert.notEqual(trailing.error, null); // Deno, Bun and Node 24 reject trailing data
  assert.notEqual((await rawInflate(hex("ff ff ff ff ff"))).error, null);
});

test("DecompressionStream platform facts: a long-lived stream emits a sync-flushed message before the next write", async () => {
  const stream = new DecompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const read = reader.read();
  writer.write(hex("f2 48 cd c9 c9 07 00 00 00 ff ff")).catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) =>
    timer = setTimeout(() => resolve("timeout"), 2000)
  );
  const first = await Promise.race([read, timeout]);
  clearTimeout(timer);
  assert.notEqual(first, "timeout");
  assert.equal(text((first as ReadableStreamReadResult<Uint8Array>).value!), "Hello");
  await reader.cancel().catch(() => {});
  await writer.abort().catch(() => {});
});

// ---- RFC vectors ----

test("decompressMessage inflates the RFC 7692 §7.2.3.1 and §7.2.3.4 examples", async () => {
  assert.equal(text(await decompressMessage(hex("f2 48 cd c9 c9 07 00"))), "Hello");
  assert.equal(text(await decompressMessage(hex("f3 48 cd c9 c9 07 00 00"))), "Hello"); // BFINAL + 00
  assert.equal(text(await decompressMessage(hex("f3 48 cd c9 c9 07 00"))), "Hello"); // BFINAL alone
});

test("decompressMessage inflates §7.2.3.2 with the previous message as context", async () => {
  const second = hex("f2 00 11 00 00");
  const out = await decompressMessage(second, { dictionary: new TextEncoder().encode("Hello") });
  assert.equal(text(out), "Hello");
  await rejectsWith(decompressMessage(second), 1007, "WS_INVALID_COMPRESSED_DATA");
});

test("decompressMessage inflates §7.2.3.3 (stored block) and zlib's empty message, rejects an empty payload", async () => {
  assert.equal(text(await decompressMessage(hex("00 05 00 fa ff 48 65 6c 6c 6f 00"))), "Hello");
  assert.equal((await decompressMessage(hex("00"))).length, 0); // zlib's empty message
  // An empty payload plus 00 00 ff ff is not a deflate stream (zlib agrees): 1007.
  await rejectsWith(decompressMessage(new Uint8Array(0)), 1007, "WS_INVALID_COMPRESSED_DATA");
});

// ---- interop with zlib peers ----

test("decompressMessage inflates zlib Z_SYNC_FLUSH messages without context takeover", async () => {
  const peer = zlibPeer({ contextTakeover: false });
  for (const size of [0, 1, 100, 5000, 70000]) {
    const message = new TextEncoder().encode(`{"n":${size},"s":"${"ab".repeat(size)}"}`);
    assert.deepEqual(await decompressMessage(await peer(message)), message);
  }
  const random = randomBytes(100000);
  assert.deepEqual(await decompressMessage(await peer(random)), random);
});

test("decompressMessage inflates zlib Z_SYNC_FLUSH messages with context takeover given the window", async () => {
  const peer = zlibPeer({ contextTakeover: true });
  let window = new Uint8Array(0);
  for (let i = 0; i < 20; i++) {
    const message = new TextEncoder().encode(
      JSON.stringify({ id: i, user: "someone", tags: ["a", "b", "c"], pad: "x".repeat(i * 997) }),
    );
    const payload = await peer(message);
    const out = await decompressMessage(payload, { dictionary: window });
    assert.deepEqual(out, message, `message ${i}`);
    window = cat(window, out).slice(-32768);
  }
});

test("decompressMessage inflates BFINAL-terminated multi-block messages (deflateRawSync output)", async () => {
  for (const size of [4096, 4097, 200000]) {
    const message = randomBytes(size, size);
    const compressible = new TextEncoder().encode("abc".repeat(size));
    for (const m of [message, compressible]) {
      const raw = new Uint8Array(zlib.deflateRawSync(m));
      assert.deepEqual(await decompressMessage(cat(raw, hex("00"))), m); // RFC 7692 §7.2.3.4 form
      assert.deepEqual(await decompressMessage(raw), m);
    }
  }
});

// ---- safety ----

test("decompressMessage stops a 64 MiB bomb with 1009 at a 1 MiB limit", async () => {
  const bomb = new Uint8Array(zlib.deflateRawSync(new Uint8Array(64 * 1024 * 1024)));
  assert.ok(bomb.length < 100_000);
  await rejectsWith(decompressMessage(bomb, { maxSize: 1024 * 1024 }), 1009, "WS_MESSAGE_TOO_BIG");
  // Also when the bomb is a sync-flushed context-takeover message.
  const flushed = await zlibPeer({ contextTakeover: true })(new Uint8Array(8 * 1024 * 1024));
  await rejectsWith(
    decompressMessage(flushed, { maxSize: 1024 * 1024, dictionary: new Uint8Array(100) }),
    1009,
    "WS_MESSAGE_TOO_BIG",
  );
});

test("decompressMessage bomb detection keeps memory bounded", async () => {
  const bomb = new Uint8Array(zlib.deflateRawSync(new Uint8Array(64 * 1024 * 1024)));
  const rss = () => ("Deno" in globalThis ? Deno.memoryUsage().rss : process.memoryUsage().rss);
  const before = rss();
  for (let i = 0; i < 5; i++) {
    await rejectsWith(
      decompressMessage(bomb, { maxSize: 1024 * 1024 }),
      1009,
      "WS_MESSAGE_TOO_BIG",
    );
  }
  // Inflating the bomb fully would need 64 MiB; allow generous slack for allocator noise.
  assert.ok(rss() - before < 48 * 1024 * 1024, `rss grew by ${(rss() - before) >> 20} MiB`);
});

test("decompressMessage size limit boundaries: limit−1 and limit delivered, limit+1 and limit+2 fail", async () => {
  const limit = 100_000;
  for (
    const make of [(n: number) => randomBytes(n, 7), (n: number) => new Uint8Array(n).fill(0x61)]
  ) {
    for (
      const peer of [
        zlibPeer({ contextTakeover: false }),
        (m: Uint8Array) => Promise.resolve(cat(new Uint8Array(zlib.deflateRawSync(m)), hex("00"))),
      ]
    ) {
      for (const delta of [-1, 0]) {
        const message = make(limit + delta);
        assert.deepEqual(await decompressMessage(await peer(message), { maxSize: limit }), message);
      }
      for (const delta of [1, 2]) {
        await rejectsWith(
          decompressMessage(await peer(make(limit + delta)), { maxSize: limit }),
          1009,
          "WS_MESSAGE_TOO_BIG",
        );
      }
    }
  }
});

test("decompressMessage fails corrupt input ff ff ff ff ff with 1007", async () => {
  await rejectsWith(decompressMessage(hex("ff ff ff ff ff")), 1007, "WS_INVALID_COMPRESSED_DATA");
});

test("decompressMessage fails a truncated stream with 1007", async () => {
  const message = randomBytes(5000, 3);
  const payload = await zlibPeer({ contextTakeover: false })(message);
  for (const cut of [1, 2, 10, payload.length >> 1]) {
    await rejectsWith(
      decompressMessage(payload.subarray(0, payload.length - cut)),
      1007,
      "WS_INVALID_COMPRESSED_DATA",
    );
  }
  const text5000 = new TextEncoder().encode("hello world ".repeat(500));
  const raw = new Uint8Array(zlib.deflateRawSync(text5000));
  await rejectsWith(
    decompressMessage(raw.subarray(0, raw.length - 3)),
    1007,
    "WS_INVALID_COMPRESSED_DATA",
  );
});

test("decompressMessage fails garbage after a BFINAL block with 1007 (Node 20's zlib ignores it)", async () => {
  const payload = hex("f3 48 cd c9 c9 07 00 01 02 03");
  if (ignoresTrailingData) {
    assert.equal(text(await decompressMessage(payload)), "Hello"); // documented gap
  } else {
    await rejectsWith(decompressMessage(payload), 1007, "WS_INVALID_COMPRESSED_DATA");
  }
  // Garbage after the sync-flush trailer position of a non-final stream fails everywhere.
  await rejectsWith(
    decompressMessage(hex("f2 48 cd c9 c9 07 00 ff ff ff")),
    1007,
    "WS_INVALID_COMPRESSED_DATA",
  );
});

test("decompressMessage failures never leave unhandled rejections and later calls still work", async () => {
  const results = await Promise.allSettled([
    decompressMessage(hex("ff ff ff ff ff")),
    decompressMessage(new Uint8Array(zlib.deflateRawSync(new Uint8Array(4 << 20))), {
      maxSize: 1000,
    }),
    decompressMessage(hex("f2 48")),
  ]);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected", "rejected"]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(text(await decompressMessage(hex("f2 48 cd c9 c9 07 00"))), "Hello");
});
