import { test } from "node:test";
import assert from "node:assert/strict";
import { denoConnStreams } from "../../src/adapters/deno_conn_streams.ts";

/** A fake connection serving `chunks` (a number = that many bytes), then EOF or an error. */
function fakeConn(chunks: (number | Error)[]) {
  const sizes: number[] = [];
  let closed = false;
  return {
    sizes,
    get closed() {
      return closed;
    },
    writable: new WritableStream<Uint8Array>(),
    read(buffer: Uint8Array): Promise<number | null> {
      sizes.push(buffer.byteLength);
      const next = chunks.shift();
      if (next === undefined) return Promise.resolve(null);
      if (next instanceof Error) return Promise.reject(next);
      const n = Math.min(next, buffer.byteLength);
      buffer.fill(1, 0, n);
      return Promise.resolve(n);
    },
    close() {
      closed = true;
    },
  };
}

async function drain(readable: ReadableStream<Uint8Array>): Promise<number[]> {
  const lengths: number[] = [];
  for await (const chunk of readable) lengths.push(chunk.byteLength);
  return lengths;
}

test("denoConnStreams starts with a 1 KiB read, doubles while reads fill it and shrinks back", async () => {
  const conn = fakeConn([1024, 2048, 4096, 100, 100, 100]);
  assert.deepEqual(await drain(denoConnStreams(conn).readable), [1024, 2048, 4096, 100, 100, 100]);
  assert.deepEqual(conn.sizes, [1024, 2048, 4096, 8192, 4096, 2048, 1024]);
});

test("denoConnStreams never grows the read buffer past 256 KiB", async () => {
  const conn = fakeConn(Array(10).fill(1 << 20));
  await drain(denoConnStreams(conn).readable);
  assert.equal(Math.max(...conn.sizes), 256 * 1024);
});

test("denoConnStreams errors the readable with the read error", async () => {
  const failure = new Error("connection reset");
  const conn = fakeConn([10, failure]);
  await assert.rejects(drain(denoConnStreams(conn).readable), (error) => error === failure);
});

test("denoConnStreams cancel closes the connection and reads only when asked", async () => {
  const conn = fakeConn([10, 10, 10]);
  const { readable } = denoConnStreams(conn);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(conn.sizes.length, 0, "no read before the reader asks");
  const reader = readable.getReader();
  await reader.read();
  await reader.cancel();
  assert.equal(conn.closed, true);
});
