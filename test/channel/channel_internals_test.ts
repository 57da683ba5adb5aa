import { test } from "node:test";
import assert from "node:assert/strict";
import { internalsOf, NATIVE_TOPICS } from "../../src/channel/channel_internals.ts";
import { createChannelPair } from "../../src/testing/channel_pair.ts";
import { fromWebSocket, type WebSocketLike } from "../../src/channel/native_channel.ts";
import { FakePeer } from "../../src/testing/fake_channel.ts";
import { encodeFrame } from "../../src/engine/frame_encoder.ts";

test("engine channels: server ones take pre-encoded frames, client ones do not", async () => {
  const [client, server] = createChannelPair();
  const serverSide = internalsOf(server)!;
  const clientSide = internalsOf(client)!;
  assert.equal(serverSide.acceptsFrames, true);
  assert.equal(clientSide.acceptsFrames, false);
  assert.equal(serverSide.isOpen(), true);
  const { header, payload } = encodeFrame({
    fin: true,
    rsv1: false,
    opcode: 0x1,
    payload: new TextEncoder().encode("pre-encoded"),
  });
  assert.equal(serverSide.offerFrames(Uint8Array.from([...header, ...payload]), 1024), 0);
  serverSide.flush();
  assert.equal(clientSide.offerMessage("sent now", 1024), 0);
  const fromServer = client.stream.getReader();
  assert.equal((await fromServer.read()).value, "pre-encoded");
  const fromClient = server.stream.getReader();
  assert.equal((await fromClient.read()).value, "sent now");
  await serverSide.close(1008, "policy");
  assert.equal(serverSide.isOpen(), false);
  assert.equal(serverSide.offerFrames(new Uint8Array([0x81, 0]), 1024), 2);
  assert.equal((await client.closed).code, 1008);
});

/** A minimal open WebSocket that records what the channel does with it. */
function fakeSocket(rejectServerCodes: boolean) {
  const calls: unknown[][] = [];
  const ws = {
    readyState: 1,
    bufferedAmount: 42,
    protocol: "",
    extensions: "",
    binaryType: "blob",
    send: (data: unknown) => void calls.push(["send", data]),
    close(code?: number, reason?: string) {
      if (rejectServerCodes && code !== undefined && code !== 1000 && code < 3000) {
        throw new DOMException("invalid code", "InvalidAccessError");
      }
      calls.push(["close", code, reason]);
    },
    addEventListener() {},
    removeEventListener() {},
  };
  return { ws: ws as unknown as WebSocketLike, calls };
}

test("native channels: send at once, report bufferedAmount, close with 1000 where the socket refuses a server code", () => {
  const { ws, calls } = fakeSocket(true);
  const internals = internalsOf(fromWebSocket(ws))!;
  assert.equal(internals.acceptsFrames, false);
  assert.equal(internals.nativeTopics, undefined);
  assert.equal(internals.backlog(), 42);
  assert.equal(internals.offerMessage("x", 1024), 0);
  // 42 bytes waiting + 1000 would pass a limit of 1000.
  assert.equal(internals.offerMessage("y".repeat(1000), 1000), 1);
  assert.equal(internals.offerFrames(new Uint8Array(1), 1024), 2);
  internals.close(1001, "going away").catch(() => {});
  assert.deepEqual(calls, [["send", "x"], ["close", 1000, "going away"]]);
  assert.equal(internals.isOpen(), false);
});

test("native channels expose the socket's platform topics", () => {
  const { ws } = fakeSocket(false);
  const topics = {
    server: {},
    subscribe() {},
    unsubscribe() {},
    publishFromHere() {},
    publishToAll() {},
  };
  Object.defineProperty(ws, NATIVE_TOPICS, { value: topics });
  assert.equal(internalsOf(fromWebSocket(ws))!.nativeTopics, topics);
});

test("channels of other implementations have no internals", () => {
  assert.equal(internalsOf(new FakePeer("ws://fake/", {}).channel), undefined);
});
