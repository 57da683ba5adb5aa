import { test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { PerMessageDeflate } from "../../src/deflate/permessage_deflate.ts";
import { ConcurrencyLimiter } from "../../src/deflate/concurrency_limiter.ts";
import { ProtocolError, WebSocketError } from "../../src/engine/errors.ts";

const encoder = new TextEncoder();
const hex = (s: string) =>
  new Uint8Array(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

function jsonMessage(i: number, pad = 0): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      type: "update",
      id: i,
      user: { name: "someone", roles: ["a", "b"] },
      pad: "p".repeat(pad),
    }),
  );
}

function zlibSender(contextTakeover: boolean) {
  let deflate = zlib.createDeflateRaw();
  return async (message: Uint8Array): Promise<Uint8Array> => {
    if (!contextTakeover) deflate = zlib.createDeflateRaw();
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    deflate.on("data", onData);
    deflate.write(message);
    await new Promise<void>((resolve) =>
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve())
    );
    deflate.off("data", onData);
    const out = Buffer.concat(chunks);
    return new Uint8Array(out.subarray(0, out.length - 4));
  };
}

test("PerMessageDeflate negotiates both ends and round-trips messages in both directions", async () => {
  const offer = PerMessageDeflate.createOffer(true);
  const accepted = PerMessageDeflate.acceptOffer(offer, true);
  assert.ok(accepted);
  const client = PerMessageDeflate.acceptResponse(accepted.response, true);
  assert.ok(client);
  const server = accepted.deflate;
  for (const [from, to] of [[client, server], [server, client]] as const) {
    for (let i = 0; i < 5; i++) {
      const message = jsonMessage(i, 2000);
      const { data, compressed } = await from.encode(message);
      assert.equal(compressed, true);
      assert.ok(data.length < message.length / 4);
      assert.deepEqual(await to.decompress(data, { maxSize: 1 << 20 }), message);
    }
  }
  client.close();
  server.close();
});

test("PerMessageDeflate.encode leaves small and incompressible messages uncompressed", async () => {
  // Our server always answers server_no_context_takeover.
  const deflate = new PerMessageDeflate({
    role: "server",
    threshold: 100,
    params: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    },
  });
  assert.equal(deflate.threshold, 100);
  const small = encoder.encode("x".repeat(99));
  assert.deepEqual(await deflate.encode(small), { data: small, compressed: false });
  assert.equal((await deflate.encode(encoder.encode("x".repeat(100)))).compressed, true);
  const random = crypto.getRandomValues(new Uint8Array(4096));
  assert.deepEqual(await deflate.encode(random), { data: random, compressed: false });
  assert.equal(new PerMessageDeflate({ role: "client" }).threshold, 1024);
});

test("PerMessageDeflate compresses only messages that fit an agreed window below 15 bits", async () => {
  const accepted = PerMessageDeflate.acceptOffer("permessage-deflate; server_max_window_bits=11", {
    threshold: 0,
  });
  assert.ok(accepted);
  const deflate = accepted.deflate;
  assert.equal(deflate.maxCompressSize, 2048);
  assert.equal(deflate.shouldCompress(2048), true);
  assert.equal(deflate.shouldCompress(2049), false);
  const fits = encoder.encode("abc".repeat(682));
  const { data, compressed } = await deflate.encode(fits);
  assert.equal(compressed, true);
  // A peer inflating with an 11-bit window reads it.
  const out = zlib.inflateRawSync(new Uint8Array([...data, 0, 0, 0xff, 0xff]), {
    windowBits: 11,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  assert.deepEqual(new Uint8Array(out), fits);
  assert.equal((await deflate.encode(encoder.encode("abc".repeat(700)))).compressed, false);
});

test("PerMessageDeflate inflates a zlib peer that keeps its context across messages", async () => {
  const server = new PerMessageDeflate({ role: "server" }); // no client_no_context_takeover agreed
  const send = zlibSender(true);
  for (let i = 0; i < 30; i++) {
    const message = jsonMessage(i, (i * 7919) % 40000);
    assert.deepEqual(
      await server.decompress(await send(message), { maxSize: 1 << 20 }),
      message,
      `message ${i}`,
    );
  }
});

test("PerMessageDeflate inflates a zlib peer without context takeover and keeps no window then", async () => {
  const accepted = PerMessageDeflate.acceptOffer(
    "permessage-deflate; client_no_context_takeover",
    true,
  );
  assert.ok(accepted && accepted.params.clientNoContextTakeover);
  const send = zlibSender(false);
  for (let i = 0; i < 5; i++) {
    const message = jsonMessage(i, 3000);
    assert.deepEqual(
      await accepted.deflate.decompress(await send(message), { maxSize: 1 << 20 }),
      message,
    );
  }
  // RFC 7692 §7.2.3.2: a back-reference into the previous message fails without a kept window.
  await accepted.deflate.decompress(hex("f2 48 cd c9 c9 07 00"));
  await assert.rejects(
    accepted.deflate.decompress(hex("f2 00 11 00 00")),
    (e: unknown) => e instanceof ProtocolError && e.closeCode === 1007,
  );
});

test("PerMessageDeflate.acceptOffer tells a client to reset its context unless clientNoContextTakeover is false", async () => {
  // RFC 7692 §7.1.1.2: "A server MAY include the "client_no_context_takeover"
  // extension parameter in an extension negotiation response" (ws and browsers offer without it).
  const byDefault = PerMessageDeflate.acceptOffer(
    "permessage-deflate; client_max_window_bits",
    true,
  );
  assert.equal(
    byDefault?.response,
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  );
  assert.equal(byDefault?.params.clientNoContextTakeover, true);
  // Opting out: the client keeps its context and the server inflates with the kept window.
  const keep = PerMessageDeflate.acceptOffer("permessage-deflate", {
    clientNoContextTakeover: false,
  });
  assert.equal(keep?.response, "permessage-deflate; server_no_context_takeover");
  assert.ok(keep && !keep.params.clientNoContextTakeover);
  const send = zlibSender(true);
  for (let i = 0; i < 12; i++) {
    const message = jsonMessage(i, 1024 + i * 300);
    assert.deepEqual(
      await keep.deflate.decompress(await send(message), { maxSize: 1 << 20 }),
      message,
    );
  }
  keep.deflate.close();
  byDefault?.deflate.close();
});

test("PerMessageDeflate follows RFC 7692 §7.2.3.2 with context takeover", async () => {
  const client = new PerMessageDeflate({ role: "client" });
  assert.equal(
    new TextDecoder().decode(await client.decompress(hex("f2 48 cd c9 c9 07 00"))),
    "Hello",
  );
  assert.equal(new TextDecoder().decode(await client.decompress(hex("f2 00 11 00 00"))), "Hello");
});

test("PerMessageDeflate decompress calls complete in call order even when issued together", async () => {
  const server = new PerMessageDeflate({ role: "server" });
  const send = zlibSender(true);
  const messages = Array.from({ length: 40 }, (_, i) => jsonMessage(i, i % 3 === 0 ? 50000 : 10));
  const payloads: Uint8Array[] = [];
  for (const m of messages) payloads.push(await send(m));
  const order: number[] = [];
  const results = await Promise.all(
    payloads.map((p, i) =>
      server.decompress(p, { maxSize: 1 << 20 }).then((out) => {
        order.push(i);
        return out;
      })
    ),
  );
  assert.deepEqual(results, messages);
  assert.deepEqual(order, messages.map((_, i) => i));
});

test("PerMessageDeflate bounds concurrent work across connections with a shared limiter", async () => {
  const limiter = new ConcurrencyLimiter(2);
  let peak = 0;
  const originalRun = limiter.run.bind(limiter);
  limiter.run = (job) =>
    originalRun(async () => {
      peak = Math.max(peak, limiter.active);
      return await job();
    });
  const connections = Array.from(
    { length: 12 },
    () => new PerMessageDeflate({ role: "server", limiter, threshold: 0 }),
  );
  const message = encoder.encode("hello hello ".repeat(3000));
  const results = await Promise.all(
    connections.map(async (c) => c.decompress(await c.compress(message))),
  );
  for (const r of results) assert.deepEqual(r, message);
  assert.equal(peak, 2);
});

test("PerMessageDeflate reports 1009 for a bomb and keeps later connections working", async () => {
  const deflate = new PerMessageDeflate({ role: "server" });
  const bomb = new Uint8Array(zlib.deflateRawSync(new Uint8Array(64 << 20)));
  await assert.rejects(
    deflate.decompress(bomb, { maxSize: 1 << 20 }),
    (e: unknown) => e instanceof ProtocolError && e.closeCode === 1009,
  );
  const other = new PerMessageDeflate({ role: "server" });
  assert.equal(
    new TextDecoder().decode(await other.decompress(hex("f2 48 cd c9 c9 07 00"))),
    "Hello",
  );
});

test("PerMessageDeflate.close makes later calls reject with WS_INVALID_STATE", async () => {
  const deflate = new PerMessageDeflate({ role: "client" });
  deflate.close();
  await assert.rejects(
    deflate.compress(new Uint8Array(10)),
    (e: unknown) => e instanceof WebSocketError && e.code === "WS_INVALID_STATE",
  );
  await assert.rejects(
    deflate.decompress(new Uint8Array(10)),
    (e: unknown) => e instanceof WebSocketError && e.code === "WS_INVALID_STATE",
  );
});

test("PerMessageDeflate static negotiation: off, declined and failed cases", () => {
  assert.equal(PerMessageDeflate.createOffer(false), "");
  assert.equal(PerMessageDeflate.createOffer(undefined), "");
  assert.equal(PerMessageDeflate.acceptOffer("permessage-deflate", false), null);
  assert.equal(PerMessageDeflate.acceptOffer(null, true), null);
  assert.equal(
    PerMessageDeflate.acceptOffer("permessage-deflate; server_max_window_bits=7", true),
    null,
  );
  assert.equal(PerMessageDeflate.acceptResponse(null, true), null);
  assert.equal(PerMessageDeflate.acceptResponse("", false), null);
  for (
    const [header, compression] of [["permessage-deflate", false], [
      "permessage-deflate; client_max_window_bits=9",
      { clientMaxWindowBits: false },
    ]] as const
  ) {
    assert.throws(
      () => PerMessageDeflate.acceptResponse(header, compression),
      (e: unknown) => e instanceof ProtocolError && e.closeCode === 1010,
    );
  }
});

/** A peer that inflates every message in ONE long-lived zlib stream (like Autobahn's fuzzer). */
function longLivedInflater() {
  const inflate = zlib.createInflateRaw();
  const chunks: Buffer[] = [];
  inflate.on("data", (chunk: Buffer) => chunks.push(chunk));
  return async (payload: Uint8Array): Promise<Uint8Array> => {
    inflate.write(payload);
    inflate.write(Buffer.from([0x00, 0x00, 0xff, 0xff]));
    await new Promise<void>((resolve) =>
      inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve())
    );
    const out = Buffer.concat(chunks.splice(0));
    return new Uint8Array(out);
  };
}

test("PerMessageDeflate never sends a BFINAL payload to a peer that may keep our context", async () => {
  // The server answered plain "permessage-deflate": it may inflate all our
  // messages in one stream, which a BFINAL block would end.
  const client = PerMessageDeflate.acceptResponse("permessage-deflate", true);
  assert.ok(client);
  const inflate = longLivedInflater();
  let seed = 7;
  const random = (n: number) =>
    Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  // Compressible JSON, large incompressible-ish data (Deno ends it in a final
  // stored block), and JSON again: every message must come out whole.
  const messages = [jsonMessage(1, 4000), random(65536), jsonMessage(2, 4000), random(70000)];
  for (const message of messages) {
    const sent: { data: Uint8Array; compressed: boolean } = await client.encode(message);
    const received: Uint8Array = sent.compressed ? await inflate(sent.data) : sent.data;
    assert.deepEqual(received, message);
  }
  client.close();
});

test("PerMessageDeflate sends BFINAL payloads when the peer resets our context", async () => {
  const client = PerMessageDeflate.acceptResponse(
    "permessage-deflate; client_no_context_takeover",
    true,
  );
  assert.ok(client);
  const message = jsonMessage(3, 4000);
  const { data, compressed } = await client.encode(message);
  assert.equal(compressed, true);
  // A fresh inflater per message (what the agreed parameter allows) reads it.
  assert.deepEqual(await longLivedInflater()(data), message);
  client.close();
});
