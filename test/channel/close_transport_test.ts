import { test } from "node:test";
import assert from "node:assert/strict";
import { closeTransport, dropTransport } from "../../src/channel/close_transport.ts";
import { createByteStreamPair } from "../../src/testing/byte_stream_pair.ts";
import { deadline } from "../_util/async.ts";

test("closeTransport half-closes after the last bytes, then releases the connection", async () => {
  const [near, far] = createByteStreamPair();
  const writer = near.writable.getWriter();
  const flushed = writer.write(new Uint8Array([1, 2]));
  let closed = 0;
  const sent = await closeTransport(writer, near.readable.getReader(), flushed, {
    timeout: 1000,
    close: () => closed++,
  });
  assert.equal(sent, true, "the bytes went out");
  const reader = far.readable.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
  assert.equal((await reader.read()).done, true, "FIN after the data");
  assert.equal(closed, 1);
});

test("closeTransport drops a connection whose peer stopped reading, at the timeout", async () => {
  const [near] = createByteStreamPair({ bufferSize: 10 });
  const writer = near.writable.getWriter();
  const stuck = writer.write(new Uint8Array(100));
  stuck.catch(() => {});
  let closed = 0;
  const sent = await deadline(
    closeTransport(writer, near.readable.getReader(), stuck, {
      timeout: 30,
      close: () => {
        closed++;
        near.destroy();
      },
    }),
    5000,
    "closeTransport",
  );
  assert.equal(closed, 1);
  assert.equal(sent, false, "dropped with the bytes unsent");
  await assert.rejects(stuck);
});

test("dropTransport aborts, cancels and closes, tolerating a close that throws", () => {
  const [near] = createByteStreamPair();
  dropTransport(near.writable.getWriter(), near.readable.getReader(), () => {
    throw new Error("already closed");
  });
});
