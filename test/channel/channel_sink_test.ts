import { test } from "node:test";
import assert from "node:assert/strict";
import { createSink, type SinkHandlers } from "../../src/channel/channel_sink.ts";
import type { Sendable } from "../../src/channel/web_socket_channel.ts";

function handlers() {
  const calls: unknown[][] = [];
  const h: SinkHandlers = {
    add: (m: Sendable) => {
      calls.push(["add", m]);
      return Promise.resolve();
    },
    write: (m: Sendable) => {
      calls.push(["write", m]);
      return undefined;
    },
    close: (code, reason) => {
      calls.push(["close", code, reason]);
      return Promise.resolve();
    },
    abort: (reason) => {
      calls.push(["abort", reason]);
      return Promise.resolve();
    },
    closing: (code, reason) => void calls.push(["closing", code, reason]),
  };
  return { calls, h };
}

test("createSink routes add, writer writes and close to the handlers", async () => {
  const { calls, h } = handlers();
  const { sink } = createSink(h);
  await sink.add("a");
  const writer = sink.getWriter();
  await writer.write("b");
  writer.releaseLock();
  await sink.close(3001, "bye");
  assert.deepEqual(calls, [["add", "a"], ["write", "b"], ["closing", 3001, "bye"], [
    "close",
    3001,
    "bye",
  ]]);
});

test("createSink add rejects while a writer holds the sink", async () => {
  const { h } = handlers();
  const { sink } = createSink(h);
  sink.getWriter();
  await assert.rejects(sink.add("x"), { name: "InvalidStateError", code: "WS_INVALID_STATE" });
});

test("createSink close while locked goes straight to the handler", async () => {
  const { calls, h } = handlers();
  const { sink } = createSink(h);
  sink.getWriter();
  await sink.close(1000);
  assert.deepEqual(calls.at(-1), ["close", 1000, undefined]);
});

test("createSink close throws for invalid arguments without calling anything", () => {
  const { calls, h } = handlers();
  const { sink } = createSink(h);
  assert.throws(() => sink.close(1001), RangeError);
  assert.deepEqual(calls, []);
});

test("createSink add throws a TypeError naming the value and calls nothing", () => {
  const { calls, h } = handlers();
  const { sink } = createSink(h);
  assert.throws(
    () => sink.add(42 as unknown as string),
    new TypeError("sink.add expects a string, ArrayBuffer, ArrayBufferView or Blob; got number 42"),
  );
  assert.deepEqual(calls, []);
});

test("createSink refuses a chunk written through a writer: the write rejects, close still works", async () => {
  const { calls, h } = handlers();
  const { sink } = createSink(h);
  const writer = sink.getWriter();
  await assert.rejects(writer.write({ a: 1 } as unknown as string), TypeError);
  writer.releaseLock();
  await sink.add("ok");
  await sink.close(1000);
  assert.deepEqual(calls.map((c) => c[0]), ["add", "closing", "close"]);
});

test("createSink error makes stream writes reject with the given error", async () => {
  const { h } = handlers();
  const { sink, error } = createSink(h);
  error(new Error("connection gone"));
  error(new Error("ignored second"));
  await assert.rejects(sink.getWriter().write("x"), /connection gone/);
});

test("createSink abort reaches the handler (a failed pipe source)", async () => {
  const { calls, h } = handlers();
  const { sink } = createSink(h);
  const source = new ReadableStream<string>({
    pull(controller) {
      controller.error(new Error("source failed"));
    },
  });
  await assert.rejects(source.pipeTo(sink), /source failed/);
  assert.equal(calls.at(-1)?.[0], "abort");
});
