import { test } from "node:test";
import assert from "node:assert/strict";
import { deliveryPort } from "../../src/fanout/delivery_port.ts";
import { createChannelPair } from "../../src/testing/channel_pair.ts";
import { internalsOf } from "../../src/channel/channel_internals.ts";
import type { WebSocketChannel, WebSocketSink } from "../../src/channel/web_socket_channel.ts";
import { deferred } from "../../src/_util/deferred.ts";

test("deliveryPort is a library channel's own internals", async () => {
  const [client, server] = createChannelPair();
  assert.equal(deliveryPort(server), internalsOf(server));
  await client.sink.close();
});

test("deliveryPort over another implementation counts bytes in flight until its sink accepts them", async () => {
  const pending: (() => void)[] = [];
  const closed = deferred<{ code: number; reason: string; wasClean: boolean }>();
  const sent: unknown[] = [];
  const sink = {
    add(message: unknown) {
      sent.push(message);
      return new Promise<void>((resolve) => pending.push(resolve));
    },
    close(code?: number, reason?: string) {
      closed.resolve({ code: code ?? 1005, reason: reason ?? "", wasClean: true });
      return Promise.resolve();
    },
  } as unknown as WebSocketSink;
  const channel = {
    sink,
    closed: closed.promise,
    closeCode: undefined,
  } as unknown as WebSocketChannel;
  const port = deliveryPort(channel);
  assert.equal(port.acceptsFrames, false);
  assert.equal(port.isOpen(), true);
  assert.equal(port.offerMessage("abc", 100), 0);
  assert.equal(port.offerMessage(new Uint8Array(10), 100), 0);
  assert.equal(port.backlog(), 13);
  assert.equal(port.offerMessage(new Uint8Array(90), 100), 1, "13 waiting + 90 passes 100");
  pending.shift()!();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(port.backlog(), 10);
  assert.equal(port.offerFrames(new Uint8Array(2), 100), 2);
  await port.close(4000, "bye");
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(port.isOpen(), false);
  assert.equal(port.offerMessage("late", 100), 2);
  assert.deepEqual(sent, ["abc", new Uint8Array(10)]);
});
