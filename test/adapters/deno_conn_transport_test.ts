import { test } from "node:test";
import assert from "node:assert/strict";
import { denoConnTransport } from "../../src/adapters/deno_conn_transport.ts";
import { fakeConn } from "../_util/fake_conn.ts";

test("denoConnTransport reads with the adaptive buffer, then done and closed at EOF", async () => {
  const conn = fakeConn([1024, 2048, 100]);
  const { reader } = denoConnTransport(conn).direct!();
  const lengths: number[] = [];
  const ended = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      lengths.push(value.byteLength);
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 10));
  conn.end();
  await ended;
  await reader.closed;
  assert.deepEqual(lengths, [1024, 2048, 100]);
  // Doubles while reads fill it; one small read does not halve it.
  assert.deepEqual(conn.sizes, [1024, 2048, 4096, 4096]);
});

test("denoConnTransport keeps its buffer for messages just over it, and halves after 8 small reads", async () => {
  // 1 KiB messages with a 6-byte header, as a peer sends them: the old rule read each in two.
  const conn = fakeConn([1024, 6, 1030, 1030, 1030, 6, 6, 6, 6, 6, 6, 6, 6, 6]);
  const { reader } = denoConnTransport(conn).direct!();
  const ended = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  await new Promise((resolve) => setTimeout(resolve, 10));
  conn.end();
  await ended;
  assert.deepEqual(conn.sizes, [
    1024, // full: doubles
    2048, // 6 bytes: one small read
    2048, // 1030 bytes: no longer split
    2048,
    2048,
    2048, // small reads 1 to 8 …
    2048,
    2048,
    2048,
    2048,
    2048,
    2048,
    2048, // … the 8th halves it
    1024,
    1016, // the EOF read: the rest of the same buffer, past the 6 bytes (8-byte aligned)
  ]);
});

test("denoConnTransport rejects the read and closed with the read error", async () => {
  const conn = fakeConn([new Error("reset")]);
  const { reader } = denoConnTransport(conn).direct!();
  await assert.rejects(reader.read(), /reset/);
  await assert.rejects(reader.closed, /reset/);
});

test("denoConnTransport cancel() ends a waiting read and closes the connection", async () => {
  const conn = fakeConn([]);
  const { reader } = denoConnTransport(conn).direct!();
  const read = reader.read();
  await reader.cancel();
  assert.equal((await read).done, true);
  await reader.closed;
  assert.deepEqual(conn.log, ["close"]);
});

test("denoConnTransport writes everything in order across partial writes, then closeWrite()", async () => {
  const conn = fakeConn([], { writeLimit: 2 });
  const { writer } = denoConnTransport(conn).direct!();
  writer.write(new Uint8Array([1, 2, 3]));
  await writer.write(new Uint8Array([4, 5]));
  await writer.close();
  assert.deepEqual(conn.written, [1, 2, 3, 4, 5]);
  assert.deepEqual(conn.log, ["closeWrite"]);
});

test("denoConnTransport has no Web Streams and abort() closes the connection", async () => {
  const conn = fakeConn([]);
  const transport = denoConnTransport(conn);
  assert.throws(() => transport.readable, TypeError);
  assert.throws(() => transport.writable, TypeError);
  await transport.direct!().writer.abort();
  assert.deepEqual(conn.log, ["close"]);
});

test("denoConnTransport reads into one slab in turn past the smallest size, leaving earlier chunks intact", async () => {
  const conn = fakeConn([1024, 2048, 2048, 1000, 1000, 1000, 1000]);
  const { reader } = denoConnTransport(conn).direct!();
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < 7; i++) chunks.push((await reader.read()).value!);
  // The 5th and 6th reads go into the slab's rest (shorter than the 4 KiB read
  // size, but at least the last read and a quarter); 1,096 bytes left is not.
  assert.deepEqual(conn.sizes, [1024, 2048, 4096, 4096, 3096, 2096, 4096]);
  chunks.forEach((chunk, i) => assert.ok(chunk.every((b) => b === i + 1), `chunk ${i + 1} intact`));
  const same = (x: number, y: number) => chunks[x].buffer === chunks[y].buffer;
  // The first read: a fresh 1 KiB buffer. Then 2 KiB reads into an 8 KiB slab, in turn.
  assert.ok(!same(0, 1));
  assert.equal(chunks[1].buffer.byteLength, 8 * 1024);
  assert.ok(same(1, 2) && same(2, 3) && same(3, 4) && same(4, 5));
  assert.deepEqual(chunks.slice(2, 6).map((c) => c.byteOffset), [2048, 4096, 5096, 6096]);
  // Too little left: a new slab of 16 KiB.
  assert.ok(!same(5, 6));
  assert.deepEqual([chunks[6].buffer.byteLength, chunks[6].byteOffset], [16 * 1024, 0]);
  await reader.cancel();
});

test("denoConnTransport: a read that fills a slab's shorter rest is handed over whole and does not grow the read size", async () => {
  const conn = fakeConn([1024, 2048, 2048, 1000, 3096, 1000]);
  const { reader } = denoConnTransport(conn).direct!();
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < 6; i++) chunks.push((await reader.read()).value!);
  assert.deepEqual(conn.sizes, [1024, 2048, 4096, 4096, 3096, 4096]);
  assert.deepEqual(
    [chunks[4].byteOffset, chunks[4].byteLength, chunks[4].buffer.byteLength],
    [5096, 3096, 8192],
  );
  assert.ok(chunks[4].every((b) => b === 5));
  assert.ok(chunks[5].buffer !== chunks[4].buffer && chunks[5].every((b) => b === 6));
  await reader.cancel();
});

test("denoConnTransport writeMany() joins small pieces and a large piece's start into one write", async () => {
  const conn = fakeConn([]);
  const { writer } = denoConnTransport(conn).direct!();
  const header = new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]); // a 64 KiB frame's header
  const payload = new Uint8Array(70_000).map((_, i) => i & 0xff);
  const small = [new Uint8Array([7, 8]), new Uint8Array([9])];
  await writer.writeMany!([...small, header, payload]);
  // 3 + 10 bytes of small pieces with the first 16 KiB of the payload, then the rest as it is.
  assert.deepEqual(conn.writes, [3 + 10 + 16 * 1024 - 13, 70_000 - (16 * 1024 - 13)]);
  assert.deepEqual(conn.written, [7, 8, 9, ...header, ...payload]);
});

test("denoConnTransport writeMany() writes everything in order across partial writes and pieces of any size", async () => {
  const conn = fakeConn([], { writeLimit: 40_000 });
  const { writer } = denoConnTransport(conn).direct!();
  const pieces = [3, 70_000, 60_000, 5_000, 100_000, 2].map((size, n) =>
    new Uint8Array(size).fill(n + 1)
  );
  const expected = pieces.flatMap((piece) => [...piece]);
  writer.writeMany!(pieces.slice(0, 3));
  await writer.writeMany!(pieces.slice(3));
  assert.equal(conn.written.length, expected.length);
  assert.ok(conn.written.every((b, i) => b === expected[i]), "bytes in order");
  assert.ok(conn.writes.every((n) => n <= 40_000));
});

test("denoConnTransport reads at the smallest size into its own buffer in turn: no copy, no buffer shared with other connections", async () => {
  const conn = fakeConn([20, 30, ...Array(40).fill(30)]);
  const other = fakeConn(Array(42).fill(30));
  const reader = denoConnTransport(conn).direct!().reader;
  const otherReader = denoConnTransport(other).direct!().reader;
  const mine: Uint8Array[] = [];
  const theirs: Uint8Array[] = [];
  for (let i = 0; i < 42; i++) {
    mine.push((await reader.read()).value!);
    theirs.push((await otherReader.read()).value!);
  }
  // One after another in the connection's 1 KiB buffer (8-byte aligned), each read offered the rest.
  assert.deepEqual(conn.sizes.slice(0, 3), [1024, 1000, 968]);
  assert.equal(mine[0].buffer, mine[1].buffer);
  assert.equal(mine[0].buffer.byteLength, 1024);
  assert.deepEqual([mine[0].byteOffset, mine[1].byteOffset, mine[2].byteOffset], [0, 24, 56]);
  // Less than 256 bytes left: a new buffer; the old one stays with the views handed out.
  const buffers = new Set(mine.map((c) => c.buffer));
  assert.ok(buffers.size >= 2, "a new buffer once the rest is short");
  assert.ok(conn.sizes.every((n) => n >= 256 && n <= 1024));
  // Nothing of another connection in a message's buffer.
  assert.ok(theirs.every((c) => !buffers.has(c.buffer)));
  assert.ok(mine.every((c, i) => c.every((b) => b === i + 1)), "mine intact");
  assert.ok(theirs.every((c, i) => c.every((b) => b === i + 1)), "theirs intact");
  await reader.cancel();
  await otherReader.cancel();
});

test("denoConnTransport: a buffer the application detached is replaced, not read into", async () => {
  const conn = fakeConn([20, 30]);
  const reader = denoConnTransport(conn).direct!().reader;
  const first = (await reader.read()).value!;
  // Transferred away (as to a worker): the connection's buffer is detached.
  const buffer = first.buffer as ArrayBuffer;
  structuredClone(buffer, { transfer: [buffer] });
  assert.equal(first.byteLength, 0);
  const second = (await reader.read()).value!;
  assert.deepEqual(conn.sizes, [1024, 1024]);
  assert.ok(second.byteLength === 30 && second.every((b) => b === 2));
  await reader.cancel();
});

test("denoConnTransport: a failed write fails the writes queued behind it and every later one", async () => {
  const conn = fakeConn([], { writeError: new Error("broken pipe") });
  const { writer } = denoConnTransport(conn).direct!();
  const first = writer.write(new Uint8Array([1]));
  const queued = writer.writeMany!([new Uint8Array([2]), new Uint8Array([3])]);
  await assert.rejects(first, /broken pipe/);
  await assert.rejects(queued!, /broken pipe/);
  await assert.rejects(writer.write(new Uint8Array([4])), /broken pipe/);
  // Only the first reached the connection.
  assert.deepEqual(conn.writes, [-1]);
});

test("denoConnTransport: joined writes under way on several connections keep their own bytes", async () => {
  // Connections whose writes finish only when told, reading the bytes at that moment.
  const slowConn = () => {
    const finished: number[][] = [];
    const pending: (() => void)[] = [];
    const conn = {
      ...fakeConn([]),
      write(bytes: Uint8Array): Promise<number> {
        return new Promise<number>((resolve) =>
          pending.push(() => {
            finished.push([...bytes]);
            resolve(bytes.byteLength);
          })
        );
      },
    };
    return { conn, finished, finishAll: () => pending.splice(0).forEach((finish) => finish()) };
  };
  const a = slowConn();
  const b = slowConn();
  const writerA = denoConnTransport(a.conn).direct!().writer;
  const writerB = denoConnTransport(b.conn).direct!().writer;
  const doneA = writerA.writeMany!([new Uint8Array([1, 1]), new Uint8Array([2, 2])]);
  const doneB = writerB.writeMany!([new Uint8Array([3]), new Uint8Array([4, 4, 4])]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  a.finishAll();
  b.finishAll();
  await Promise.all([doneA, doneB]);
  // And again on A, after its buffer went back for reuse.
  const again = writerA.writeMany!([new Uint8Array([5]), new Uint8Array([6])]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  a.finishAll();
  await again;
  assert.deepEqual(a.finished, [[1, 1, 2, 2], [5, 6]]);
  assert.deepEqual(b.finished, [[3, 4, 4, 4]]);
});

test("denoConnTransport reports failures in read() only; closed asked for early settles at the end", async () => {
  const conn = fakeConn([]);
  const { reader } = denoConnTransport(conn).direct!();
  // The channel does not watch `closed` of such a reader.
  assert.equal(reader.failsOnlyInRead, true);
  const closed = reader.closed;
  assert.equal(reader.closed, closed);
  let settled = false;
  closed.then(() => settled = true);
  const read = reader.read();
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(settled, false);
  conn.end();
  assert.equal((await read).done, true);
  await closed;
  assert.equal(settled, true);
});
