/**
 * A connection with the part of `Deno.Conn` the Deno transport uses, served
 * from a script of reads, for transport tests on every runtime.
 *
 * @module
 */

/** A fake connection: `reads` are served in order (a number = that many bytes), then EOF or the error. */
export function fakeConn(
  reads: (number | Error)[],
  options: { writeLimit?: number; writeError?: Error } = {},
) {
  const sizes: number[] = [];
  const written: number[] = [];
  /** The length of each conn.write call. */
  const writes: number[] = [];
  let readCount = 0;
  const log: string[] = [];
  let pendingRead: ((n: number | null) => void) | undefined;
  let failRead: ((e: unknown) => void) | undefined;
  let pendingBuffer: Uint8Array | undefined;
  const serve = (next: number | Error, buffer: Uint8Array): Promise<number> => {
    if (next instanceof Error) return Promise.reject(next);
    const n = Math.min(next, buffer.byteLength);
    // Each read's bytes carry its number, so a later read overwriting them shows.
    buffer.fill(++readCount, 0, n);
    return Promise.resolve(n);
  };
  return {
    sizes,
    written,
    writes,
    log,
    read(buffer: Uint8Array): Promise<number | null> {
      sizes.push(buffer.byteLength);
      const next = reads.shift();
      if (next === undefined) {
        pendingBuffer = buffer;
        return new Promise((resolve, reject) => {
          pendingRead = resolve;
          failRead = reject;
        });
      }
      return serve(next, buffer);
    },
    /** Serves the read waiting (or the next one) with `next`. */
    feed(next: number | Error): void {
      const resolve = pendingRead, reject = failRead, buffer = pendingBuffer;
      if (resolve === undefined || buffer === undefined) return void reads.push(next);
      pendingRead = failRead = pendingBuffer = undefined;
      serve(next, buffer).then(resolve, reject);
    },
    /** Whether a read is waiting for {@linkcode feed}. */
    get waiting(): boolean {
      return pendingRead !== undefined;
    },
    write(bytes: Uint8Array): Promise<number> {
      if (options.writeError) {
        writes.push(-1);
        return Promise.reject(options.writeError);
      }
      const n = Math.min(bytes.byteLength, options.writeLimit ?? Infinity);
      writes.push(n);
      for (let i = 0; i < n; i++) written.push(bytes[i]);
      return Promise.resolve(n);
    },
    closeWrite(): Promise<void> {
      log.push("closeWrite");
      return Promise.resolve();
    },
    close(): void {
      log.push("close");
      failRead?.(new Error("BadResource"));
      pendingRead = failRead = pendingBuffer = undefined;
    },
    end(): void {
      pendingRead?.(null);
      pendingRead = failRead = pendingBuffer = undefined;
    },
  };
}
