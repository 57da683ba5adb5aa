/**
 * Two connected in-memory byte-stream endpoints, like a loopback TCP
 * connection: what one writes, the other reads, with backpressure.
 *
 * @module
 */

/** One end of {@linkcode createByteStreamPair}. */
export interface ByteStreamEndpoint {
  /** Bytes written by the other end. Closes when the other end closes its writable. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the other end; `close()` is a half-close (the peer reads EOF). */
  writable: WritableStream<Uint8Array>;
  /**
   * Drops the connection at once, like a reset: both ends' readables error
   * and pending writes fail.
   */
  destroy(): void;
  /** The same as `destroy()`, under the name `ByteStreams.close` uses. */
  close(): void;
}

/** Options of {@linkcode createByteStreamPair}. */
export interface ByteStreamPairOptions {
  /**
   * Bytes buffered in each direction before writes wait (the "socket
   * buffer"); small values make backpressure visible in tests.
   * @default {65536}
   */
  bufferSize?: number;
}

/**
 * Creates a connected pair of byte-stream endpoints. Chunks are copied on the
 * way, so neither side ever sees the other's buffers (as over a socket).
 *
 * @example
 * ```ts
 * import { createByteStreamPair } from "@wsc/websocket-channel/testing";
 *
 * const [a, b] = createByteStreamPair();
 * const writer = a.writable.getWriter();
 * writer.write(new Uint8Array([1, 2, 3]));
 * const { value } = await b.readable.getReader().read();
 * console.assert(value?.length === 3);
 * ```
 */
export function createByteStreamPair(
  options: ByteStreamPairOptions = {},
): [ByteStreamEndpoint, ByteStreamEndpoint] {
  const bufferSize = options.bufferSize ?? 64 * 1024;
  const aToB = pipe(bufferSize);
  const bToA = pipe(bufferSize);
  const destroy = () => {
    const error = new Error("Connection reset");
    aToB.destroy(error);
    bToA.destroy(error);
  };
  return [
    { readable: bToA.readable, writable: aToB.writable, destroy, close: destroy },
    { readable: aToB.readable, writable: bToA.writable, destroy, close: destroy },
  ];
}

function pipe(bufferSize: number) {
  let readController!: ReadableStreamDefaultController<Uint8Array>;
  let writeController!: WritableStreamDefaultController;
  let done = false;
  let space: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  const wake = () => {
    const waiter = space;
    space = undefined;
    waiter?.resolve();
  };
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      readController = controller;
    },
    pull: wake,
    cancel() {
      // The reader went away: the writer's next write fails, like EPIPE.
      done = true;
      const error = new Error("Connection reset by peer");
      writeController.error(error);
      space?.reject(error);
      space = undefined;
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: bufferSize }));
  const writable = new WritableStream<Uint8Array>({
    start(controller) {
      writeController = controller;
    },
    write(chunk) {
      if (done) throw new Error("Connection reset");
      readController.enqueue(chunk.slice());
      if ((readController.desiredSize ?? 0) > 0) return;
      return new Promise<void>((resolve, reject) => {
        space = { resolve, reject };
      });
    },
    close() {
      if (done) return;
      done = true;
      readController.close();
    },
    abort(reason) {
      if (done) return;
      done = true;
      readController.error(reason ?? new Error("Connection reset"));
    },
  });
  return {
    readable,
    writable,
    destroy(error: Error) {
      if (!done) {
        done = true;
        try {
          readController.error(error);
        } catch { /* already closed */ }
      }
      try {
        writeController.error(error);
      } catch { /* already errored */ }
      space?.reject(error);
      space = undefined;
    },
  };
}
