import { test } from "node:test";
import assert from "node:assert/strict";
import { Protocol } from "../../src/engine/protocol.ts";
import { BatchWriter } from "../../src/channel/batch_writer.ts";
import { MessageSender, type SenderTarget } from "../../src/channel/message_sender.ts";
import { deferred } from "../../src/_util/deferred.ts";
import type { MessageDeflate } from "../../src/channel/web_socket_channel.ts";

/** A server engine whose frames are decoded by a client engine, to see what was sent. */
function setup(options: { deflate?: MessageDeflate; open?: boolean } = {}) {
  const protocol = new Protocol({ role: "server", allowRsv1: options.deflate !== undefined });
  const peer = new Protocol({ role: "client", allowRsv1: options.deflate !== undefined });
  const events: unknown[] = [];
  const writer = new WritableStream<Uint8Array>({
    write(chunk) {
      for (const event of peer.receive(chunk.slice())) events.push(event);
    },
  }).getWriter();
  const batches = new BatchWriter(writer, {
    takeOutgoing: () => protocol.takeOutgoing(),
    writeFailed: () => {},
  });
  const opened = deferred<void>();
  let target: SenderTarget | undefined = options.open === false
    ? undefined
    : { protocol, batches, deflate: options.deflate };
  if (target) opened.resolve();
  const sender = new MessageSender({
    get target() {
      return target;
    },
    opened: opened.promise,
    isOpen: () => true,
    closedError: () => new Error("closed"),
  });
  return {
    sender,
    events,
    open() {
      target = { protocol, batches, deflate: options.deflate };
      opened.resolve();
    },
  };
}

test("MessageSender sends text and binary at once and resolves when written", async () => {
  const { sender, events } = setup();
  await sender.send("a");
  await sender.send(new Uint8Array([1]));
  assert.deepEqual(events, [{ type: "text", data: "a" }, {
    type: "binary",
    data: new Uint8Array([1]),
  }]);
  assert.equal(sender.pending, undefined);
});

test("MessageSender keeps call order when a Blob has to be read first", async () => {
  const { sender, events } = setup();
  const sends = [sender.send("1"), sender.send(new Blob(["2"])), sender.send("3")];
  assert.ok(sender.pending);
  await Promise.all(sends);
  assert.deepEqual(events.map((e) => (e as { data: unknown }).data), [
    "1",
    new TextEncoder().encode("2"),
    "3",
  ]);
});

test("MessageSender holds messages until the connection opens", async () => {
  const { sender, events, open } = setup({ open: false });
  const sending = sender.send("early");
  assert.ok(sender.backlog >= 5);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(events, []);
  open();
  await sending;
  assert.deepEqual(events, [{ type: "text", data: "early" }]);
});

test("MessageSender compresses what the deflate hook asks for, in order", async () => {
  const compressedCalls: number[] = [];
  const deflate: MessageDeflate = {
    shouldCompress: (n) => n >= 4,
    encode: async (data) => {
      compressedCalls.push(data.byteLength);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { data, compressed: true }; // identity "compression": RSV1 set, payload unchanged
    },
    decompress: (payload) => Promise.resolve(payload),
  };
  const { sender, events } = setup({ deflate });
  await Promise.all([sender.send("long text"), sender.send("ab"), sender.send(new Uint8Array(10))]);
  assert.deepEqual(compressedCalls, [9, 10]);
  assert.deepEqual(events.map((e) => (e as { type: string }).type), [
    "compressed",
    "text",
    "compressed",
  ]);
});
