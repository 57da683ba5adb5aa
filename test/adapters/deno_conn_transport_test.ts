import { test } from "node:test";
import assert from "node:assert/strict";
import { denoConnTransport } from "../../src/adapters/deno_conn_transport.ts";

/** A fake connection: `reads` are served in order (a number = that many bytes), then EOF or the error. */
function fakeConn(reads: (number | Error)[], options: { writeLimit?: number } = {}) {
  const sizes: number[] = [];
  const written: number[] = [];
  const log: string[] = [];
  let pendingRead: ((n: number | null) => void) | undefined;
  let failRead: ((e: unknown) => void) | undefined;
  return {
    sizes,
    written,
    log,
    read(buffer: Uint8Array): Promise<number | null> {
      sizes.push(buffer.byteLength);
      const next = reads.shift();
      if (next === undefined) {
        return new Promise((resolve, reject) => {
          pendingRead = resolve;
          failRead = reject;
        });
      }
      if (next instanceof Error) return Promise.reject(next);
      const n = Math.min(next, buffer.byteLength);
      buffer.fill(1, 0, n);
      return Promise.resolve(n);
    },
    write(bytes: Uint8Array): Promise<number> {
      const n = Math.min(bytes.byteLength, options.writeLimit ?? Infinity);
      written.push(...bytes.subarray(0, n));
      return Promise.resolve(n);
    },
    closeWrite(): Promise<void> {
      log.push("closeWrite");
      return Promise.resolve();
    },
    close(): void {
      log.push("close");
      failRead?.(new Error("BadResource"));
      pendingRead = undefined;
    },
    end(): void {
      pendingRead?.(null);
    },
  };
}

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
    1024, // the EOF read
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
