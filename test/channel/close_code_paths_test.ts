import { test } from "node:test";
import assert from "node:assert/strict";
import { fromStreams, StreamChannel } from "../../src/channel/stream_channel.ts";
import { createByteStreamPair } from "../../src/testing/byte_stream_pair.ts";
import { deadline } from "../_util/async.ts";
import { PerMessageDeflate } from "../../src/deflate/permessage_deflate.ts";
import { Protocol } from "../../src/engine/protocol.ts";

test("StreamChannel abortOpening after sink.close() while connecting reports 1006, as closed does", async () => {
  const channel = new StreamChannel({ role: "client" });
  const closing = channel.sink.close(4000, "bye").catch((error) => error);
  assert.equal(channel.closeCode, 4000);
  channel.abortOpening(new Error("handshake failed"));
  await assert.rejects(channel.ready, /handshake failed/);
  assert.deepEqual(await deadline(channel.closed, 5000, "closed"), {
    code: 1006,
    reason: "",
    wasClean: false,
  });
  await closing;
  assert.equal(channel.closeCode, 1006);
  assert.equal(channel.closeReason, "");
});

test("StreamChannel reports the peer's close when it arrives while our close waits behind a Blob send", async () => {
  const [near, far] = createByteStreamPair();
  const channel = fromStreams(near, { role: "client" });
  const writer = far.writable.getWriter();
  far.readable.pipeTo(new WritableStream()).catch(() => {});
  const sent = channel.sink.add(new Blob([new Uint8Array(16)]));
  sent.catch(() => {});
  const closing = channel.sink.close(4000, "mine");
  assert.equal(channel.closeCode, 4000);
  // The peer's close (1001 "away"), unmasked from a server.
  await writer.write(new Uint8Array([0x88, 6, 0x03, 0xe9, 0x61, 0x77, 0x61, 0x79]));
  await writer.close();
  const info = await deadline(channel.closed, 5000, "closed");
  assert.deepEqual(info, { code: channel.closeCode, reason: channel.closeReason, wasClean: true });
  assert.equal(info.code, 1001);
  assert.equal(info.reason, "away");
  await closing;
  far.destroy();
});

test("StreamChannel: a violation after our close, then the close timeout while the failure waits for unread messages, is 1006 everywhere", async () => {
  const [near, far] = createByteStreamPair();
  // The close timeout (started by our close) ends before the failure's reply window.
  const channel = fromStreams(near, { role: "client", closeTimeout: 300 });
  far.readable.pipeTo(new WritableStream()).catch(() => {});
  const writer = far.writable.getWriter();
  // A message nobody reads yet, so the failure below waits for it (a reply window).
  await writer.write(new Uint8Array([0x81, 1, 0x61]));
  const closing = channel.sink.close(4000, "mine");
  // A frame with a reserved opcode: a protocol violation (1002) after our close went out.
  await writer.write(new Uint8Array([0x83, 0]));
  const info = await deadline(channel.closed, 5000, "closed");
  assert.deepEqual(info, { code: 1006, reason: "", wasClean: false });
  assert.equal(channel.closeCode, 1006);
  assert.equal(channel.closeReason, "");
  await closing;
  far.destroy();
});

/** A Blob whose bytes never come: a send that stays under way. */
class StuckBlob extends Blob {
  override arrayBuffer(): Promise<ArrayBuffer> {
    return new Promise(() => {});
  }
}

test("StreamChannel: a message that fails to inflate while our close waits behind a send reports the failure's code at once", async () => {
  const params = {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const [near, far] = createByteStreamPair();
  const channel = fromStreams(near, {
    role: "client",
    maxMessageSize: 10,
    closeTimeout: 300,
    deflate: new PerMessageDeflate({ role: "client", params }),
  });
  far.readable.pipeTo(new WritableStream()).catch(() => {});
  const writer = far.writable.getWriter();
  const read = channel.stream.getReader().read();
  channel.sink.add(new StuckBlob([new Uint8Array(4)])).catch(() => {});
  const closing = channel.sink.close(4000, "mine");
  assert.equal(channel.closeCode, 4000);
  const peer = new Protocol({ role: "server", allowRsv1: true });
  const peerDeflate = new PerMessageDeflate({ role: "server", params });
  peer.sendBinary(await peerDeflate.compress(new Uint8Array(100)), { compressed: true });
  for (const chunk of peer.takeOutgoing()) await writer.write(chunk);
  await assert.rejects(read, { closeCode: 1009 });
  assert.equal(channel.closeCode, 1009);
  assert.equal(channel.closeReason, "");
  // The close timeout (started by sink.close()) ends the reply window first: 1006.
  const info = await deadline(channel.closed, 5000, "closed");
  assert.deepEqual([channel.closeCode, channel.closeReason], [info.code, info.reason]);
  await closing;
  far.destroy();
});
