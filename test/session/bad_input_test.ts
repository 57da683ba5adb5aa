import { test } from "node:test";
import assert from "node:assert/strict";
import { createChannelPair } from "../../src/testing/channel_pair.ts";
import { SessionHub, type SessionHubOptions } from "../../src/session/session_hub.ts";
import { encodeFrame, SESSION_PROTOCOL } from "../../src/session/frames.ts";
import { SessionError } from "../../src/session/errors.ts";
import { deadline } from "../_util/async.ts";

/** A hub, one raw client channel accepted by it, and the errors the hub reports. */
function raw(options: SessionHubOptions = {}) {
  const errors: unknown[] = [];
  const hub = new SessionHub({ ...options, onError: (error) => errors.push(error) });
  const [client, server] = createChannelPair({ protocol: SESSION_PROTOCOL });
  hub.accept(server);
  const hello = () => client.sink.add(encodeFrame({ kind: "hello", version: 1, session: "s1" }));
  return { hub, client, errors, hello };
}

async function closedWith(
  setup: ReturnType<typeof raw>,
  code: number,
  errorCode: string,
): Promise<void> {
  const info = await deadline(setup.client.closed, 5_000, "the server to close");
  assert.equal(info.code, code);
  const error = setup.errors.find((e) => e instanceof SessionError) as SessionError | undefined;
  assert.ok(error, `no SessionError reported: ${setup.errors}`);
  assert.equal(error.code, errorCode);
  assert.equal(error.closeCode, code);
  await setup.hub.close();
}

test("a text message closes with 1003", async () => {
  const s = raw();
  await s.hello();
  await s.client.sink.add("text is not a session frame");
  await closedWith(s, 1003, "WS_SESSION_TEXT_FRAME");
});

test("anything before HELLO closes with 1008", async () => {
  const s = raw();
  await s.client.sink.add(encodeFrame({ kind: "subscribe", topic: "t" }));
  await closedWith(s, 1008, "WS_SESSION_HANDSHAKE");
});

test("no HELLO in time closes with 1008", async () => {
  const s = raw({ helloTimeout: 30 });
  await closedWith(s, 1008, "WS_SESSION_HANDSHAKE");
});

test("a second HELLO closes with 1008", async () => {
  const s = raw();
  await s.hello();
  await s.hello();
  await closedWith(s, 1008, "WS_SESSION_HANDSHAKE");
});

test("a malformed frame closes with 1008", async () => {
  const s = raw();
  await s.hello();
  await s.client.sink.add(new Uint8Array([0x02, 0xff]));
  await closedWith(s, 1008, "WS_SESSION_MALFORMED");
});

test("an unknown kind and a server-only kind close with 1008", async () => {
  for (const kind of [0x7f, 0x11]) {
    const s = raw();
    await s.hello();
    await s.client.sink.add(new Uint8Array([kind, 0]));
    await closedWith(s, 1008, "WS_SESSION_UNKNOWN_KIND");
  }
});

test("an absurd resume position (beyond the topic's end) closes with 1008", async () => {
  const s = raw();
  await s.hub.publish("t", "only one");
  await s.hello();
  const reader = s.client.stream.getReader(); // drain WELCOME
  await reader.read();
  reader.releaseLock();
  // The epoch of the hub's store, learned by another connection.
  await s.client.sink.add(
    encodeFrame({
      kind: "subscribe",
      topic: "t",
      from: { epoch: await epochOf(s), position: 1e12 },
    }),
  );
  await closedWith(s, 1008, "WS_SESSION_BAD_POSITION");
});

/** Subscribes to "t" without a position on a second connection of the same hub and reads the epoch. */
async function epochOf(s: ReturnType<typeof raw>): Promise<string> {
  const [client, server] = createChannelPair({ protocol: SESSION_PROTOCOL });
  s.hub.accept(server);
  await client.sink.add(encodeFrame({ kind: "hello", version: 1, session: "probe" }));
  await client.sink.add(encodeFrame({ kind: "subscribe", topic: "t" }));
  const { decodeFrame } = await import("../../src/session/frames.ts");
  const reader = client.stream.getReader();
  for (;;) {
    const { value } = await deadline(reader.read(), 5_000, "SUBSCRIBED");
    const frame = decodeFrame(value as Uint8Array, "server");
    if (frame.kind === "subscribed") {
      reader.releaseLock();
      await client.sink.close();
      return frame.epoch;
    }
  }
}

test("a second SUBSCRIBE of a subscribed topic, too many topics, a flood of SUBSCRIBEs: 1008", async () => {
  const twice = raw();
  await twice.hello();
  await twice.client.sink.add(encodeFrame({ kind: "subscribe", topic: "t" }));
  await twice.client.sink.add(encodeFrame({ kind: "subscribe", topic: "t" }));
  await closedWith(twice, 1008, "WS_SESSION_LIMIT");

  const many = raw({ maxTopics: 3 });
  await many.hello();
  for (let i = 0; i < 4; i++) {
    await many.client.sink.add(encodeFrame({ kind: "subscribe", topic: `t${i}` }));
  }
  await closedWith(many, 1008, "WS_SESSION_LIMIT");

  const flood = raw({ maxSubscribes: 10 });
  await flood.hello();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < 12; i++) {
    sends.push(flood.client.sink.add(encodeFrame({ kind: "subscribe", topic: "x" })));
    sends.push(flood.client.sink.add(encodeFrame({ kind: "unsubscribe", topic: "x" })));
  }
  await Promise.allSettled(sends);
  await closedWith(flood, 1008, "WS_SESSION_LIMIT");
});

test("a subscriber that does not read is closed with 1013 instead of buffering without bound", async () => {
  const errors: unknown[] = [];
  const hub = new SessionHub({ maxBufferedBytes: 4096, onError: (e) => errors.push(e) });
  // The client's channel buffers at most 16 KiB unread, its connection 16 KiB more.
  const pair = createChannelPair({
    protocol: SESSION_PROTOCOL,
    readableHighWaterMark: 16 * 1024,
    bufferSize: 16 * 1024,
  });
  const [client, server] = pair;
  hub.accept(server);
  await client.sink.add(encodeFrame({ kind: "hello", version: 1, session: "slow" }));
  await client.sink.add(encodeFrame({ kind: "subscribe", topic: "t" }));
  // Never read: the server's writes back up.
  const payload = "x".repeat(1000);
  for (let i = 0; i < 1000 && server.closeCode === undefined; i++) {
    await hub.publish("t", payload);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.equal(server.closeCode, 1013);
  assert.equal(errors.length, 0, "a slow subscriber is not a protocol error");
  pair.destroy();
  await hub.close();
});
