import { test } from "node:test";
import assert from "node:assert/strict";
import { denoConnTransport } from "../../src/adapters/deno_conn_transport.ts";
import type { ChunkTarget } from "../../src/channel/stream_channel_options.ts";
import { fakeConn } from "../_util/fake_conn.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A push-mode target that records what it is handed (chunks by their first byte and length). */
function recorder(options: { view?: () => Uint8Array | undefined } = {}) {
  const got: string[] = [];
  const chunks: Uint8Array[] = [];
  const target: ChunkTarget = {
    chunk(value) {
      chunks.push(value);
      got.push(`chunk ${value[0]}x${value.byteLength}`);
    },
    end: () => void got.push("end"),
    fail: (error) => void got.push(`fail ${(error as Error).message}`),
    readTarget: options.view,
    chunkInTarget: (length) => void got.push(`in target ${length}`),
  };
  return { got, chunks, target };
}

test("denoConnTransport in push mode hands each read to the target as it completes, then the end", async () => {
  const conn = fakeConn([20, 1000, 1024]);
  const { reader } = denoConnTransport(conn).direct!();
  const { got, chunks, target } = recorder();
  reader.attach!(target);
  await tick();
  assert.deepEqual(got, ["chunk 1x20", "chunk 2x1000", "chunk 3x1024"]);
  // The same adaptive reads as read(): the rest of the 1 KiB buffer, a new one when it is
  // used up, doubling when a read fills it.
  assert.deepEqual(conn.sizes, [1024, 1000, 1024, 2048]);
  assert.ok(chunks.every((chunk, i) => chunk.every((b) => b === i + 1)), "every chunk intact");
  conn.feed(100);
  await tick();
  assert.equal(got.at(-1), "chunk 4x100");
  conn.end();
  await tick();
  assert.equal(got.at(-1), "end");
  assert.equal(conn.sizes.length, 5, "no read after the end");
});

test("denoConnTransport in push mode starts no read while paused, and hands over what came during a pause after resume()", async () => {
  const conn = fakeConn([]);
  const { reader } = denoConnTransport(conn).direct!();
  const { got, target } = recorder();
  // Pauses from inside the handover, as the channel does when the application is full.
  const pausing: ChunkTarget = {
    ...target,
    chunk(value) {
      target.chunk(value);
      reader.pause!();
    },
  };
  reader.attach!(pausing);
  await tick();
  assert.equal(conn.sizes.length, 1);
  conn.feed(10);
  await tick();
  assert.deepEqual(got, ["chunk 1x10"]);
  assert.equal(conn.sizes.length, 1, "no read while paused");
  reader.resume!();
  assert.equal(conn.sizes.length, 2);

  // A read under way when the pause comes: its bytes are held until resume().
  reader.pause!();
  conn.feed(12);
  await tick();
  assert.deepEqual(got, ["chunk 1x10"]);
  reader.resume!();
  assert.deepEqual(got, ["chunk 1x10"], "never within resume()");
  await tick();
  assert.deepEqual(got, ["chunk 1x10", "chunk 2x12"]);
  assert.equal(conn.sizes.length, 2, "paused again by the handover");
  reader.resume!();
  assert.equal(conn.sizes.length, 3);
  await reader.cancel();
});

test("denoConnTransport in push mode: a failed read fails the target once, a cancel ends it", async () => {
  const conn = fakeConn([5, new Error("reset")]);
  const { reader } = denoConnTransport(conn).direct!();
  const { got, target } = recorder();
  reader.attach!(target);
  await tick();
  assert.deepEqual(got, ["chunk 1x5", "fail reset"]);
  await assert.rejects(reader.closed, /reset/);
  assert.equal(conn.sizes.length, 2, "no read after the failure");

  const other = fakeConn([]);
  const second = denoConnTransport(other).direct!().reader;
  const record = recorder();
  second.attach!(record.target);
  await second.cancel();
  await tick();
  // The read interrupted by the cancel (the connection closed) is no failure.
  assert.deepEqual(record.got, ["end"]);
  assert.deepEqual(other.log, ["close"]);
});

test("denoConnTransport in push mode reads into the target's view when it offers one", async () => {
  const conn = fakeConn([]);
  const { reader } = denoConnTransport(conn).direct!();
  const payload = new Uint8Array(100_000);
  let offer: Uint8Array | undefined = payload.subarray(40_000);
  const { got, target } = recorder({ view: () => offer });
  reader.attach!(target);
  await tick();
  assert.deepEqual(conn.sizes, [60_000]);
  offer = undefined;
  conn.feed(60_000);
  await tick();
  assert.deepEqual(got, ["in target 60000"]);
  assert.ok(payload.subarray(40_000).every((b) => b === 1), "read straight into the view");
  assert.ok(payload.subarray(0, 40_000).every((b) => b === 0));
  // No view offered: the transport's own buffer.
  assert.deepEqual(conn.sizes, [60_000, 1024]);
  conn.feed(7);
  await tick();
  assert.deepEqual(got, ["in target 60000", "chunk 2x7"]);
  await reader.cancel();
});

test("denoConnTransport: a reader that ended before attach() tells the target at once", async () => {
  const conn = fakeConn([]);
  const { reader } = denoConnTransport(conn).direct!();
  const read = reader.read();
  conn.end();
  assert.equal((await read).done, true);
  const { got, target } = recorder();
  reader.attach!(target);
  assert.deepEqual(got, ["end"]);
  assert.equal(conn.sizes.length, 1);
});
