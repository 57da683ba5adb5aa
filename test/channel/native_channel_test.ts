import { test } from "node:test";
import assert from "node:assert/strict";
import { fromWebSocket, NativeChannel } from "../../src/channel/native_channel.ts";
import { deadline } from "../_util/async.ts";
import { startEngineServer } from "../_util/engine_server.ts";
import { testChannelContract } from "./channel_contract.ts";

const hasWebSocket = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";

testChannelContract(
  "native WebSocket client ↔ engine server",
  async () => {
    const server = await startEngineServer({ protocols: ["chat"] });
    const client = fromWebSocket(new WebSocket(server.url, ["chat"]));
    const accepted = await server.accept();
    return {
      client,
      server: accepted.channel,
      breakConnection: () => accepted.socket.destroy(),
      dispose: () => server.close(),
    };
  },
  { clientPing: false, skipAll: hasWebSocket ? undefined : "no global WebSocket on this runtime" },
);

/** A scriptable stand-in for a WHATWG WebSocket. */
class FakeWebSocket extends EventTarget {
  readyState = 0;
  bufferedAmount = 0;
  protocol = "";
  extensions = "";
  url = "ws://fake/";
  binaryType = "blob";
  sent: unknown[] = [];
  closeCalls: unknown[][] = [];
  send(data: unknown) {
    this.sent.push(data);
  }
  close(...args: unknown[]) {
    this.closeCalls.push(args);
    const code = args[0] as number | undefined;
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new DOMException("Invalid code", "InvalidAccessError");
    }
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }
  message(data: unknown) {
    const event = new Event("message") as Event & { data: unknown };
    event.data = data;
    this.dispatchEvent(event);
  }
  closed(code: number, reason: string, wasClean: boolean) {
    this.readyState = 3;
    const event = Object.assign(new Event("close"), { code, reason, wasClean });
    this.dispatchEvent(event);
  }
}

test("fromWebSocket sets binaryType and turns ArrayBuffers into Uint8Array", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws);
  assert.equal(ws.binaryType, "arraybuffer");
  ws.open();
  await channel.ready;
  ws.message(new Uint8Array([1, 2]).buffer);
  ws.message("text");
  const reader = channel.stream.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
  assert.equal((await reader.read()).value, "text");
});

test("fromWebSocket keeps order when a Blob arrives between other messages", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws);
  ws.open();
  ws.message("a");
  ws.message(new Blob([new Uint8Array([5])]));
  ws.message("c");
  ws.closed(1000, "", true);
  const got = [];
  for await (const message of channel.stream) got.push(message);
  assert.deepEqual(got, ["a", new Uint8Array([5]), "c"]);
});

test("fromWebSocket rejects ready with WS_CONNECT_FAILED on an error before open", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws);
  ws.dispatchEvent(new Event("error"));
  ws.closed(1006, "", false);
  await assert.rejects(channel.ready, { name: "ConnectError", code: "WS_CONNECT_FAILED" });
  await assert.rejects(channel.stream.getReader().read(), { code: "WS_CONNECT_FAILED" });
  assert.deepEqual(await channel.closed, { code: 1006, reason: "", wasClean: false });
});

test("fromWebSocket refuses a socket that is already closed", async () => {
  const ws = new FakeWebSocket();
  ws.readyState = 3;
  const channel = fromWebSocket(ws);
  await assert.rejects(channel.ready, { code: "WS_INVALID_STATE" });
  assert.equal((await channel.closed).code, 1006);
});

test("fromWebSocket ping rejects with WS_PING_UNSUPPORTED", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws);
  ws.open();
  await assert.rejects(channel.ping(), { name: "UnsupportedError", code: "WS_PING_UNSUPPORTED" });
});

test("fromWebSocket closes with the exact arity and reports the local code", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws);
  ws.open();
  const closing = channel.sink.close(4000);
  assert.equal(channel.closeCode, 4000);
  await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(ws.closeCalls, [[4000]]);
  ws.closed(4000, "", true);
  await closing;
  assert.deepEqual(await channel.closed, { code: 4000, reason: "", wasClean: true });
});

test("fromWebSocket errors stream with 1006 after an unclean close", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws);
  ws.open();
  ws.closed(1006, "", false);
  await assert.rejects(channel.stream.getReader().read(), {
    name: "ConnectionClosedError",
    closeCode: 1006,
  });
  assert.equal(channel.closeCode, 1006);
  await assert.rejects(channel.sink.add("x"), { code: "WS_CONNECTION_CLOSED" });
});

test("fromWebSocket bounds the inbound queue and closes past it", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws, { maxQueuedBytes: 1000 });
  ws.open();
  ws.message(new Uint8Array(600).buffer);
  ws.message(new Uint8Array(600).buffer); // 1264 bytes queued with overhead: over the bound
  const reader = channel.stream.getReader();
  assert.equal(
    ((await reader.read()).value as Uint8Array).byteLength,
    600,
    "what fit is still delivered",
  );
  await assert.rejects(reader.read(), { code: "WS_INBOUND_QUEUE_FULL", closeCode: 1008 });
  assert.deepEqual(ws.closeCalls, [[1008], [1000]], "1008 refused by WHATWG close(), then 1000");
  assert.equal(channel.closeCode, 1008);
  ws.closed(1000, "", true);
  assert.equal((await channel.closed).code, 1008);
});

test("fromWebSocket accepts one message larger than the queue bound", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws, { maxQueuedBytes: 100 });
  ws.open();
  ws.message(new Uint8Array(5000).buffer);
  const { value } = await channel.stream.getReader().read();
  assert.equal((value as Uint8Array).byteLength, 5000);
});

test("fromWebSocket closes with 1009 semantics past maxMessageSize", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws, { maxMessageSize: 10 });
  ws.open();
  ws.message("01234567890");
  await assert.rejects(channel.stream.getReader().read(), {
    code: "WS_MESSAGE_TOO_BIG",
    closeCode: 1009,
  });
});

test("fromWebSocket add waits while bufferedAmount is above the high-water mark", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws, { writableHighWaterMark: 10, pollInterval: 1 });
  ws.open();
  ws.bufferedAmount = 100;
  let done = false;
  const adding = channel.sink.add("x").then(() => done = true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(done, false);
  ws.bufferedAmount = 0;
  await deadline(adding, 1000, "add");
  assert.deepEqual(ws.sent, ["x"]);
});

test("fromWebSocket add before open waits for open", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws);
  const adding = channel.sink.add("early");
  assert.deepEqual(ws.sent, []);
  ws.open();
  await adding;
  assert.deepEqual(ws.sent, ["early"]);
});

test("NativeChannel abortOpening rejects ready with the given error and closes the socket", async () => {
  const ws = new FakeWebSocket();
  const channel = new NativeChannel(ws, {});
  const error = Object.assign(new Error("timeout"), { code: "WS_CONNECT_TIMEOUT" });
  channel.abortOpening(error as never);
  await assert.rejects(channel.ready, { code: "WS_CONNECT_TIMEOUT" });
  assert.deepEqual(ws.closeCalls, [[]]);
  ws.closed(1006, "", false);
  assert.equal((await channel.closed).code, 1006);
});

test("fromWebSocket delivers messages received before an unclean close, then errors", async () => {
  const ws = new FakeWebSocket();
  const channel = fromWebSocket(ws);
  ws.open();
  ws.message("kept");
  ws.closed(1006, "", false);
  const reader = channel.stream.getReader();
  assert.equal((await reader.read()).value, "kept");
  await assert.rejects(reader.read(), { closeCode: 1006 });
});
