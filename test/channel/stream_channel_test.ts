import { test } from "node:test";
import assert from "node:assert/strict";
import { fromStreams, StreamChannel } from "../../src/channel/stream_channel.ts";
import { internalsOf } from "../../src/channel/channel_internals.ts";
import { createByteStreamPair } from "../../src/testing/byte_stream_pair.ts";
import { createChannelPair } from "../../src/testing/channel_pair.ts";
import { deadline, delay } from "../_util/async.ts";
import { readMessages, testChannelContract } from "./channel_contract.ts";
import { ConnectionClosedError } from "../../src/channel/errors.ts";
import { PerMessageDeflate } from "../../src/deflate/permessage_deflate.ts";
import { Protocol } from "../../src/engine/protocol.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

testChannelContract("StreamChannel (in-memory pair)", () => {
  const pair = createChannelPair();
  const [client, server] = pair;
  return Promise.resolve({ client, server, breakConnection: () => pair.destroy() });
});

/** A raw peer: the far end of a byte-stream pair, read and written by hand. */
function rawPeer(role: "client" | "server", options: { closeTimeout?: number } = {}) {
  const [near, far] = createByteStreamPair();
  const channel = fromStreams(near, { role, ...options });
  const reader = far.readable.getReader();
  const writer = far.writable.getWriter();
  return { channel, reader, writer, far };
}

const leftovers = new WeakMap<object, Uint8Array>();

/** Reads exactly `count` bytes, keeping what is left of the last chunk for the next call. */
async function readBytes(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  count: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(count);
  let have = 0;
  let pending = leftovers.get(reader);
  while (have < count) {
    let chunk = pending;
    pending = undefined;
    if (!chunk) {
      const { value, done } = await deadline(reader.read(), 5000, "bytes");
      if (done) throw new Error(`EOF after ${have} of ${count} bytes`);
      chunk = value;
    }
    const take = Math.min(chunk.byteLength, count - have);
    out.set(chunk.subarray(0, take), have);
    have += take;
    if (take < chunk.byteLength) pending = chunk.subarray(take);
  }
  if (pending) leftovers.set(reader, pending);
  else leftovers.delete(reader);
  return out;
}

const masked = (opcode: number, payload: number[]) =>
  new Uint8Array([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0, ...payload]);

test("StreamChannel batches a frame header and its payload into one write", async () => {
  const { channel, reader } = rawPeer("server");
  await channel.sink.add(new Uint8Array(5000).fill(1));
  const { value } = await deadline(reader.read(), 5000, "frame");
  assert.equal(value!.byteLength, 4 + 5000);
  assert.deepEqual([...value!.subarray(0, 4)], [0x82, 126, 0x13, 0x88]);
});

test("StreamChannel coalesces small frames sent while a write is in flight", async () => {
  const { channel, reader } = rawPeer("server");
  const sends = [];
  for (let i = 0; i < 50; i++) sends.push(channel.sink.add("x"));
  await deadline(Promise.all(sends), 5000, "sends");
  let chunks = 0;
  let bytes = 0;
  while (bytes < 150) {
    const { value } = await deadline(reader.read(), 5000, "bytes");
    chunks++;
    bytes += value!.byteLength;
  }
  assert.equal(bytes, 150);
  assert.ok(chunks < 50, `${chunks} writes for 50 frames`);
});

test("StreamChannel answers a bad frame with close 1002, then closes the transport", async () => {
  const { channel, reader, writer } = rawPeer("server");
  const streamRead = channel.stream.getReader().read();
  await writer.write(new Uint8Array([0x83, 0x80, 0, 0, 0, 0])); // reserved opcode 3
  const head = await readBytes(reader, 4);
  assert.deepEqual([...head.subarray(0, 4)], [0x88, head[1], 0x03, 0xea]);
  const wireReason = new TextDecoder().decode(await readBytes(reader, head[1] - 2));
  assert.equal((await deadline(reader.read(), 5000, "FIN")).done, true);
  await assert.rejects(streamRead, { name: "ProtocolError", closeCode: 1002 });
  assert.deepEqual((await channel.closed).code, 1002);
  assert.equal(channel.closeCode, 1002);
  assert.equal(channel.closeReason, wireReason, "closeReason is what was sent");
  assert.equal((await channel.closed).reason, wireReason);
  assert.equal((await channel.closed).wasClean, false);
});

test("StreamChannel fails invalid UTF-8 with 1007", async () => {
  const { channel, reader, writer } = rawPeer("server");
  await writer.write(masked(0x1, [0xff, 0xfe]));
  const head = await readBytes(reader, 4);
  assert.deepEqual([head[0], head[2], head[3]], [0x88, 0x03, 0xef]);
  assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1007);
});

test("StreamChannel enforces maxMessageSize with 1009 before the payload arrives", async () => {
  const [near, far] = createByteStreamPair();
  const channel = fromStreams(near, { role: "server", maxMessageSize: 1000 });
  const writer = far.writable.getWriter();
  const reader = far.readable.getReader();
  await writer.write(new Uint8Array([0x82, 0x80 | 126, 0x10, 0x00, 0, 0, 0, 0])); // declares 4096 bytes
  const head = await readBytes(reader, 4);
  assert.deepEqual([head[0], head[2], head[3]], [0x88, 0x03, 0xf1]);
  assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1009);
});

test("StreamChannel fails a message of too many frames with 1008 WS_TOO_MANY_FRAGMENTS (maxFragments)", async () => {
  const [near, far] = createByteStreamPair();
  const channel = fromStreams(near, { role: "server", maxFragments: 100 });
  const writer = far.writable.getWriter();
  const reader = far.readable.getReader();
  const streamRead = channel.stream.getReader().read();
  const frames = [new Uint8Array([0x01, 0x80, 0, 0, 0, 0])];
  for (let i = 0; i < 100; i++) frames.push(new Uint8Array([0x00, 0x80, 0, 0, 0, 0]));
  for (const frame of frames) await writer.write(frame);
  const head = await readBytes(reader, 4);
  assert.deepEqual([head[0], head[2], head[3]], [0x88, 0x03, 0xf0]);
  await assert.rejects(streamRead, { name: "ProtocolError", code: "WS_TOO_MANY_FRAGMENTS" });
  assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1008);
});

/** A permessage-deflate peer by hand: our engine for the framing, `compress()`, which never falls back to plain bytes. */
function deflatePeer(role: "client" | "server", maxMessageSize: number) {
  const params = {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const [near, far] = createByteStreamPair();
  const channel = fromStreams(near, {
    role,
    maxMessageSize,
    closeTimeout: 200,
    deflate: new PerMessageDeflate({ role, params }),
  });
  const peerRole = role === "server" ? "client" : "server";
  const peer = new Protocol({ role: peerRole, allowRsv1: true });
  const peerDeflate = new PerMessageDeflate({ role: peerRole, params });
  const writer = far.writable.getWriter();
  const received = (async () => {
    const bytes: number[] = [];
    const reader = far.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return bytes;
        bytes.push(...value);
      }
    } catch {
      return bytes; // the channel dropped the transport
    }
  })();
  return {
    channel,
    /** The close code of the close frame the channel sent, once it closed the transport. */
    async sentCloseCode(): Promise<number | undefined> {
      const bytes = await deadline(received, 5000, "the channel's close");
      const events = new Protocol({ role: peerRole, allowRsv1: true }).receive(
        new Uint8Array(bytes),
      );
      return events.find((event) => event.type === "close")?.code;
    },
    async sendCompressed(message: Uint8Array): Promise<number> {
      const payload = await peerDeflate.compress(message);
      peer.sendBinary(payload, { compressed: true });
      for (const chunk of peer.takeOutgoing()) await writer.write(chunk);
      return payload.length;
    },
  };
}

test("StreamChannel with permessage-deflate accepts an incompressible message of exactly maxMessageSize and fails one byte more with 1009, as client and server (Z2)", async () => {
  const limit = 100_000;
  const random = new SeededRandom(11);
  for (const role of ["server", "client"] as const) {
    const exact = deflatePeer(role, limit);
    const message = random.bytes(limit);
    const wire = await exact.sendCompressed(message);
    assert.ok(wire > limit, `deflate grew ${limit} random bytes to ${wire}`);
    const [got] = await readMessages(exact.channel.stream.getReader(), 1);
    assert.deepEqual(got, message, role);
    await exact.channel.sink.close(1000);

    const over = deflatePeer(role, limit);
    const streamRead = over.channel.stream.getReader().read();
    await over.sendCompressed(random.bytes(limit + 1));
    await assert.rejects(streamRead, { code: "WS_MESSAGE_TOO_BIG", closeCode: 1009 });
    assert.equal((await deadline(over.channel.closed, 5000, "closed")).code, 1009, role);
    assert.equal(await over.sentCloseCode(), 1009, role);
  }
});

test("StreamChannel turns a failed transport write into ConnectionClosedError 1006 with the runtime's error as cause, for sends, stream and ping", async () => {
  const raw = Object.assign(new Error("Broken pipe (os error 32)"), {
    name: "BrokenPipe",
    code: "EPIPE",
  });
  const [near] = createByteStreamPair();
  const writable = new WritableStream<Uint8Array>({
    write() {
      throw raw;
    },
  });
  const channel = fromStreams({ readable: near.readable, writable }, { role: "client" });
  const streamError = channel.stream.getReader().read().then(() => undefined, (e) => e);
  const errors = [
    await channel.sink.add("first").then(() => undefined, (e) => e),
    await channel.sink.add("after").then(() => undefined, (e) => e),
    await streamError,
    await channel.ping().then(() => undefined, (e) => e),
  ];
  for (const [i, error] of errors.entries()) {
    assert.ok(error instanceof ConnectionClosedError, `${i}: ${error}`);
    assert.equal(error.code, "WS_CONNECTION_CLOSED");
    assert.equal(error.closeCode, 1006);
    assert.equal(error.cause, raw, `${i}`);
  }
  assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1006);
});

test("StreamChannel as server closes TCP right after the close handshake", async () => {
  const { channel, reader, writer } = rawPeer("server");
  await writer.write(masked(0x8, [0x03, 0xe8]));
  const reply = await readBytes(reader, 4);
  assert.deepEqual([...reply], [0x88, 0x02, 0x03, 0xe8]);
  assert.equal((await deadline(reader.read(), 5000, "FIN")).done, true);
  assert.deepEqual(await channel.closed, { code: 1000, reason: "", wasClean: true });
});

test("StreamChannel as client waits for the server's FIN after the close handshake", async () => {
  const { channel, reader, writer } = rawPeer("client", { closeTimeout: 5000 });
  await writer.write(new Uint8Array([0x88, 0x02, 0x03, 0xe8]));
  const reply = await readBytes(reader, 8);
  assert.equal(reply[0], 0x88);
  let closed = false;
  channel.closed.then(() => closed = true);
  await delay(50);
  assert.equal(closed, false, "still waiting for the server to close TCP");
  await writer.close();
  assert.deepEqual(await deadline(channel.closed, 5000, "closed"), {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  assert.equal((await deadline(reader.read(), 5000, "FIN")).done, true);
});

test("StreamChannel drops the transport when the peer never answers the close (closeTimeout)", async () => {
  const { channel, reader } = rawPeer("client", { closeTimeout: 100 });
  const closing = channel.sink.close(1000, "bye");
  assert.equal(channel.closeCode, 1000);
  await readBytes(reader, 6 + 2 + 3);
  assert.deepEqual(await deadline(channel.closed, 5000, "closed"), {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  await closing;
  assert.equal(channel.closeCode, 1006);
});

test("StreamChannel reports EOF without a close frame as 1006", async () => {
  const { channel, writer } = rawPeer("client");
  const read = channel.stream.getReader().read();
  await writer.close();
  await assert.rejects(read, {
    name: "ConnectionClosedError",
    code: "WS_CONNECTION_CLOSED",
    closeCode: 1006,
  });
  assert.deepEqual(await channel.closed, { code: 1006, reason: "", wasClean: false });
});

test("StreamChannel stops reading its transport while stream's queue is full", async () => {
  const [near, far] = createByteStreamPair({ bufferSize: 16 * 1024 });
  const channel = fromStreams(near, { role: "client", readableHighWaterMark: 64 * 1024 });
  const writer = far.writable.getWriter();
  const frame = new Uint8Array(4 + 8192);
  frame.set([0x82, 126, 0x20, 0x00]);
  let written = 0;
  const writing = (async () => {
    for (let i = 0; i < 1000; i++) {
      await writer.write(frame);
      written++;
    }
  })();
  writing.catch(() => {});
  let last = -1;
  while (written !== last) {
    last = written;
    await delay(50);
  }
  assert.ok(written < 40, `peer wrote ${written} × 8 KiB with nobody reading`);
  const reader = channel.stream.getReader();
  for (let i = 0; i < 1000; i++) await deadline(reader.read(), 5000, `message ${i}`);
  await deadline(writing, 5000, "writer");
});

test("StreamChannel delivers the bytes passed as head first", async () => {
  const [near, far] = createByteStreamPair();
  const head = new Uint8Array([0x81, 0x02, 0x68, 0x69]); // "hi" from a server
  const channel = fromStreams(near, { role: "client", head });
  const { value } = await deadline(channel.stream.getReader().read(), 5000, "message");
  assert.equal(value, "hi");
  far.destroy();
});

test("StreamChannel ready rejections are never unhandled and closed still resolves", async () => {
  const channel = new StreamChannel({ role: "client" });
  channel.abortOpening(new Error("handshake failed"));
  await assert.rejects(channel.ready, /handshake failed/);
  await assert.rejects(channel.stream.getReader().read(), /handshake failed/);
  assert.deepEqual(await channel.closed, { code: 1006, reason: "", wasClean: false });
  await assert.rejects(channel.sink.add("x"));
});

test("StreamChannel closeWithCode allows protocol codes such as 1001", async () => {
  const [client, server] = createChannelPair();
  await client.closeWithCode(1001, "going away");
  assert.deepEqual(await deadline(server.closed, 5000, "closed"), {
    code: 1001,
    reason: "going away",
    wasClean: true,
  });
  await assert.rejects(client.closeWithCode(1005), RangeError);
});

test("StreamChannel sends messages queued before close, Blobs included, in order", async () => {
  const [client, server] = createChannelPair();
  client.sink.add("1");
  client.sink.add(new Blob(["2"]));
  client.sink.add("3");
  const closing = client.sink.close(1000);
  const got = [];
  for await (const message of server.stream) got.push(message);
  assert.deepEqual(got, ["1", new TextEncoder().encode("2"), "3"]);
  await deadline(closing, 5000, "close");
});

test("StreamChannel ping rejects when the connection ends first", async () => {
  // The raw peer never answers the ping; its end of the stream closes instead.
  const { channel, writer } = rawPeer("client");
  const ping = channel.ping();
  await writer.close();
  await assert.rejects(deadline(ping, 5000, "ping"), {
    name: "ConnectionClosedError",
    code: "WS_CONNECTION_CLOSED",
    closeCode: 1006,
  });
  assert.equal((await channel.closed).code, 1006);
});

test("StreamChannel delivers messages received before an abrupt loss, then errors with 1006", async () => {
  const { channel, writer } = rawPeer("client");
  await writer.write(new Uint8Array([0x81, 0x01, 0x61, 0x82, 0x01, 0x62]));
  await writer.close();
  await deadline(channel.closed, 5000, "closed");
  const reader = channel.stream.getReader();
  assert.equal((await reader.read()).value, "a");
  assert.deepEqual((await reader.read()).value, new Uint8Array([0x62]));
  await assert.rejects(reader.read(), { closeCode: 1006 });
});

test("StreamChannel delivers messages that preceded a protocol error, then the error", async () => {
  const { channel, writer } = rawPeer("server");
  await writer.write(new Uint8Array([0x81, 0x81, 0, 0, 0, 0, 0x61, 0x83, 0x80, 0, 0, 0, 0]));
  await deadline(channel.closed, 5000, "closed");
  const reader = channel.stream.getReader();
  assert.equal((await reader.read()).value, "a");
  await assert.rejects(reader.read(), { name: "ProtocolError", closeCode: 1002 });
});

test("StreamChannel close() is bounded by closeTimeout even when queued writes cannot drain", async () => {
  const [near] = createByteStreamPair({ bufferSize: 1024 });
  const channel = fromStreams(near, { role: "client", closeTimeout: 100 });
  const writer = channel.sink.getWriter();
  for (let i = 0; i < 20; i++) writer.write(new Uint8Array(64 * 1024)).catch(() => {});
  writer.releaseLock();
  const closing = channel.sink.close(1000).then(() => "closed", (error) => error.code);
  assert.equal(channel.closeCode, 1000);
  const outcome = await deadline(closing, 5000, "close() to settle");
  assert.ok(outcome === "closed" || outcome === "WS_CONNECTION_CLOSED", String(outcome));
  assert.deepEqual(await channel.closed, { code: 1006, reason: "", wasClean: false });
});

// ── a peer's violation after valid messages: answers first, then our close ──

/** Reads one unmasked frame (payload under 126 bytes) the channel sent: [opcode, payload]. */
async function readServerFrame(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<[number, Uint8Array]> {
  const head = await readBytes(reader, 2);
  assert.ok(head[1] < 126, `short frame expected, got length byte ${head[1]}`);
  return [head[0], await readBytes(reader, head[1])];
}

/** What an echo server does: each message goes back with `sink.add`; returns what it read. */
async function echoLoop(channel: StreamChannel): Promise<{ messages: unknown[]; error: unknown }> {
  const messages: unknown[] = [];
  try {
    for await (const message of channel.stream) {
      messages.push(message);
      await channel.sink.add(message).catch(() => {});
    }
    return { messages, error: undefined };
  } catch (error) {
    return { messages, error };
  }
}

const text = (value: string) => new TextEncoder().encode(value);
const closeCodeOf = (payload: Uint8Array) => (payload[0] << 8) | payload[1];

test("StreamChannel echoes a message that arrived with a bad frame in one chunk before closing 1002 (Autobahn 3.2)", async () => {
  const { channel, reader, writer } = rawPeer("server");
  const echoed = echoLoop(channel);
  // Text "Hello", a text frame with RSV2 set, then a ping: one write, one read on our side.
  await writer.write(
    new Uint8Array([
      ...masked(0x1, [...text("Hello")]),
      ...masked(0x21, [0x61]),
      ...masked(0x9, []),
    ]),
  );
  const [firstOp, firstPayload] = await readServerFrame(reader);
  assert.equal(firstOp, 0x81, "the echo comes before the close");
  assert.equal(new TextDecoder().decode(firstPayload), "Hello");
  const [closeOp, closePayload] = await readServerFrame(reader);
  assert.equal(closeOp, 0x88);
  assert.equal(closeCodeOf(closePayload), 1002);
  assert.equal(
    (await deadline(reader.read(), 5000, "FIN")).done,
    true,
    "no pong for the later ping",
  );
  const { messages, error } = await deadline(echoed, 5000, "echo loop");
  assert.deepEqual(messages, ["Hello"]);
  assert.equal((error as { name: string }).name, "ProtocolError");
  assert.equal((error as { closeCode: number }).closeCode, 1002);
  const info = await deadline(channel.closed, 5000, "closed");
  assert.equal(info.code, 1002);
  assert.equal(info.wasClean, false);
});

test("StreamChannel answers every message before a violation in order, pongs included, then closes (Autobahn 5.15)", async () => {
  const { channel, reader, writer } = rawPeer("server");
  const echoed = echoLoop(channel);
  await writer.write(
    new Uint8Array([
      ...masked(0x1, [...text("frag")]).map((b, i) => i === 0 ? 0x01 : b), // first fragment
      ...masked(0x0, [...text("ment1")]), // FIN continuation
      ...masked(0x9, [0x70]), // ping "p"
      ...masked(0x2, [1, 2, 3]),
      ...masked(0x0, [0x78]).map((b, i) => i === 0 ? 0x00 : b), // continuation with nothing to continue
      ...masked(0x1, [...text("never")]),
    ]),
  );
  const frames: [number, string][] = [];
  for (let i = 0; i < 4; i++) {
    const [op, payload] = await readServerFrame(reader);
    frames.push([op, op === 0x88 ? String(closeCodeOf(payload)) : [...payload].join(",")]);
  }
  const dataAndClose = frames.filter(([op]) => op !== 0x8a);
  assert.deepEqual(dataAndClose, [
    [0x81, [...text("fragment1")].join(",")],
    [0x82, "1,2,3"],
    [0x88, "1002"],
  ]);
  assert.deepEqual(frames.find(([op]) => op === 0x8a), [0x8a, "112"], "the ping was answered");
  assert.equal(frames[3][0], 0x88, "the close is last");
  const { messages } = await deadline(echoed, 5000, "echo loop");
  assert.deepEqual(messages, ["fragment1", new Uint8Array([1, 2, 3])]);
  assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1002);
});

test("StreamChannel still fails within min(closeTimeout, 1 s) when the application does not read", async () => {
  const { channel, reader, writer } = rawPeer("server", { closeTimeout: 200 });
  await writer.write(new Uint8Array([...masked(0x1, [0x61]), ...masked(0x3, [])]));
  // Nobody reads `stream`: the close must come anyway, bounded by the window.
  const [op, payload] = await readServerFrame(reader);
  assert.deepEqual([op, closeCodeOf(payload)], [0x88, 1002]);
  assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1002);
  assert.equal(channel.closeCode, 1002);
  const messages = channel.stream.getReader();
  assert.equal((await messages.read()).value, "a", "the message is still delivered");
  await assert.rejects(messages.read(), { name: "ProtocolError", closeCode: 1002 });
});

test("StreamChannel sends the failure's close at once when the application closes the sink meanwhile", async () => {
  const { channel, reader, writer } = rawPeer("server", { closeTimeout: 5000 });
  const messages = channel.stream.getReader();
  await writer.write(new Uint8Array([...masked(0x1, [0x61]), ...masked(0x3, [])]));
  assert.equal((await deadline(messages.read(), 5000, "message")).value, "a");
  await assert.rejects(messages.read(), { closeCode: 1002 });
  const started = Date.now();
  const closing = channel.sink.close(1000);
  const [op, payload] = await readServerFrame(reader);
  assert.deepEqual([op, closeCodeOf(payload)], [0x88, 1002], "the failure's code, not the app's");
  await deadline(closing, 5000, "sink.close()");
  assert.equal((await channel.closed).code, 1002);
  assert.ok(Date.now() - started < 900, "did not wait for the window's deadline");
});

test("StreamChannel lets the application answer messages still unread from earlier reads before the close", async () => {
  const { channel, reader, writer } = rawPeer("server");
  await writer.write(masked(0x1, [0x61]));
  await delay(20); // read into stream's queue; nobody reads yet
  await writer.write(masked(0x3, []));
  await delay(20);
  const echoed = echoLoop(channel);
  const [op, payload] = await readServerFrame(reader);
  assert.deepEqual([op, new TextDecoder().decode(payload)], [0x81, "a"], "the echo comes first");
  const [closeOp, closePayload] = await readServerFrame(reader);
  assert.deepEqual([closeOp, closeCodeOf(closePayload)], [0x88, 1002]);
  assert.deepEqual((await deadline(echoed, 5000, "echo loop")).messages, ["a"]);
  assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1002);
});

// ── a peer's close after messages: answers first, then our reply ────────────

test("StreamChannel echoes a message that arrived with the peer's close in one chunk before replying", async () => {
  const { channel, reader, writer } = rawPeer("server");
  const echoed = echoLoop(channel);
  await writer.write(
    new Uint8Array([
      ...masked(0x1, [...text("Hello")]),
      ...masked(0x9, [0x70]),
      ...masked(0x8, [0x03, 0xe8]),
    ]),
  );
  const frames: [number, string][] = [];
  for (let i = 0; i < 3; i++) {
    const [op, payload] = await readServerFrame(reader);
    frames.push([
      op,
      op === 0x88 ? String(closeCodeOf(payload)) : new TextDecoder().decode(payload),
    ]);
  }
  assert.deepEqual(
    frames,
    [[0x8a, "p"], [0x81, "Hello"], [0x88, "1000"]],
    "the echo before the reply",
  );
  assert.equal((await deadline(reader.read(), 5000, "FIN")).done, true, "the server closes TCP");
  const { messages, error } = await deadline(echoed, 5000, "echo loop");
  assert.deepEqual(messages, ["Hello"]);
  assert.equal(error, undefined, "the stream ends cleanly");
  assert.deepEqual(await channel.closed, { code: 1000, reason: "", wasClean: true });
  await assert.rejects(channel.sink.add("late"), { code: "WS_CONNECTION_CLOSED" });
});

test("StreamChannel as client answers the server's message before replying to its close", async () => {
  const { channel, reader, writer } = rawPeer("client", { closeTimeout: 5000 });
  const echoed = echoLoop(channel);
  await writer.write(new Uint8Array([0x81, 0x02, 0x68, 0x69, 0x88, 0x02, 0x0f, 0xa0])); // "hi", close 4000
  const echo = await readBytes(reader, 8);
  assert.deepEqual([echo[0], echo[1]], [0x81, 0x82], "the masked echo first");
  const reply = await readBytes(reader, 8);
  assert.deepEqual([reply[0], reply[1]], [0x88, 0x82], "then the masked close reply");
  assert.deepEqual((await deadline(echoed, 5000, "echo loop")).messages, ["hi"]);
  await writer.close(); // the server closes TCP first (RFC 6455 §7.1.1)
  assert.deepEqual(await deadline(channel.closed, 5000, "closed"), {
    code: 4000,
    reason: "",
    wasClean: true,
  });
});

test("StreamChannel replies to the peer's close within min(closeTimeout, 1 s) when the application never reads", async () => {
  const { channel, reader, writer } = rawPeer("server", { closeTimeout: 200 });
  const started = Date.now();
  await writer.write(new Uint8Array([...masked(0x1, [0x61]), ...masked(0x8, [0x03, 0xe8])]));
  const [op, payload] = await readServerFrame(reader);
  assert.deepEqual([op, closeCodeOf(payload)], [0x88, 1000]);
  assert.equal((await deadline(reader.read(), 5000, "FIN")).done, true);
  assert.deepEqual(await deadline(channel.closed, 5000, "closed"), {
    code: 1000,
    reason: "",
    wasClean: true,
  });
  assert.ok(Date.now() - started < 1000, `closed after ${Date.now() - started} ms`);
  const messages = channel.stream.getReader();
  assert.equal((await messages.read()).value, "a", "the message is still delivered");
  assert.equal((await messages.read()).done, true);
});

test("StreamChannel's answers to the peer's close are bounded in bytes (writableHighWaterMark)", async () => {
  const [near, far] = createByteStreamPair({ bufferSize: 1024 });
  const channel = fromStreams(near, { role: "server", writableHighWaterMark: 16 * 1024 });
  const writer = far.writable.getWriter();
  const messages = channel.stream.getReader();
  await writer.write(new Uint8Array([...masked(0x1, [0x61]), ...masked(0x8, [0x03, 0xe8])]));
  assert.equal((await deadline(messages.read(), 5000, "message")).value, "a");
  // The peer reads nothing: past the bound, our reply is queued and later sends are refused.
  const first = channel.sink.add(new Uint8Array(20 * 1024)).catch((error) => error);
  await assert.rejects(channel.sink.add(new Uint8Array(20 * 1024)), {
    code: "WS_CONNECTION_CLOSED",
  });
  const reader = far.readable.getReader();
  const head = await readBytes(reader, 4);
  assert.deepEqual([...head], [0x82, 126, 0x50, 0x00], "the answer accepted before the bound");
  await readBytes(reader, 20 * 1024);
  const [op, payload] = await readServerFrame(reader);
  assert.deepEqual([op, closeCodeOf(payload)], [0x88, 1000], "then the reply");
  assert.equal(await first, undefined);
  assert.equal((await deadline(channel.closed, 5000, "closed")).wasClean, true);
});

test("StreamChannel's reply to the peer's close waits for a pipeTo echo, bounded when the peer does not read", async () => {
  const [near, far] = createByteStreamPair({ bufferSize: 1024 });
  const channel = fromStreams(near, { role: "server", closeTimeout: 300 });
  channel.stream.pipeTo(channel.sink).catch(() => {});
  const writer = far.writable.getWriter();
  const frame = (i: number) => [...masked(0x2, new Array(100).fill(i))];
  const frames: number[] = [];
  for (let i = 0; i < 50; i++) frames.push(...frame(i));
  const started = Date.now();
  // 50 messages and a close in one write; the peer never reads our echoes.
  await writer.write(new Uint8Array([...frames, ...masked(0x8, [0x03, 0xe8])]));
  const info = await deadline(channel.closed, 5000, "closed");
  assert.ok(Date.now() - started < 1500, `closed after ${Date.now() - started} ms`);
  assert.equal(info.code, 1000);
  far.destroy();
});

// ── a peer that sends without reading ───────────────────────────────────────

test("StreamChannel keeps its queued pongs bounded when the peer floods pings and does not read", async () => {
  const [near, far] = createByteStreamPair({ bufferSize: 16 * 1024 });
  const channel = fromStreams(near, { role: "server" });
  const internals = internalsOf(channel)!;
  const writer = far.writable.getWriter();
  const ping = masked(0x9, new Array(125).fill(0x70));
  const batch = new Uint8Array(ping.length * 500);
  for (let i = 0; i < 500; i++) batch.set(ping, i * ping.length);
  let maxBacklog = 0;
  for (let i = 0; i < 100; i++) { // 50,000 pings, 6.5 MB
    await deadline(writer.write(batch), 5000, "the channel to read the pings");
    maxBacklog = Math.max(maxBacklog, internals.backlog());
  }
  assert.ok(maxBacklog < 32 * 1024, `backlog reached ${maxBacklog} bytes`);
  // A ping now is answered once the peer reads.
  await writer.write(masked(0x9, [...text("last")]));
  const reader = far.readable.getReader();
  for (;;) {
    const [op, payload] = await readServerFrame(reader);
    assert.equal(op, 0x8a);
    if (new TextDecoder().decode(payload) === "last") break;
  }
  far.destroy();
});

test("StreamChannel stops reading a peer that does not read while its answers wait to be written", async () => {
  const [near, far] = createByteStreamPair({ bufferSize: 16 * 1024 });
  const channel = fromStreams(near, { role: "server", readableHighWaterMark: 64 * 1024 });
  const internals = internalsOf(channel)!;
  let maxBacklog = 0;
  // An application that answers every message without waiting for the send.
  (async () => {
    for await (const message of channel.stream) {
      channel.sink.add(message).catch(() => {});
      maxBacklog = Math.max(maxBacklog, internals.backlog());
    }
  })().catch(() => {}); // the stream errors (1006) when the test drops the connection
  const writer = far.writable.getWriter();
  const message = masked(0x2, new Array(100).fill(7));
  const batch = new Uint8Array(message.length * 100);
  for (let i = 0; i < 100; i++) batch.set(message, i * message.length);
  let written = 0;
  const writing = (async () => {
    for (let i = 0; i < 400; i++) { // 40,000 messages, 4 MB of answers
      await writer.write(batch);
      written++;
    }
  })();
  writing.catch(() => {});
  let last = -1;
  while (written !== last) {
    last = written;
    await delay(50);
  }
  assert.ok(written < 400, "the channel stopped reading");
  assert.ok(maxBacklog < 128 * 1024, `answers waiting reached ${maxBacklog} bytes`);
  // Once the peer reads, everything flows again.
  const reader = far.readable.getReader();
  let echoed = 0;
  while (echoed < 40_000) {
    const head = await readBytes(reader, 2);
    assert.deepEqual([head[0], head[1]], [0x82, 100]);
    await readBytes(reader, 100);
    echoed++;
  }
  await deadline(writing, 5000, "the peer's writes");
  assert.ok(maxBacklog < 128 * 1024, `answers waiting reached ${maxBacklog} bytes`);
  far.destroy();
});
