/**
 * Turns `sink` messages into engine frames, in order: synchronously for the
 * common case, through one ordered queue for messages that must wait (the
 * opening handshake, a `Blob` read, compression).
 *
 * @module
 */
import type { Protocol } from "../engine/protocol.ts";
import { asBytes, toBytes } from "../_util/bytes.ts";
import type { BatchWriter } from "./batch_writer.ts";
import type { MessageDeflate, Sendable } from "./channel_types.ts";

/** The channel a {@linkcode MessageSender} works for. */
export interface SenderHost {
  /** The open connection, `undefined` before it opens. */
  readonly target: SenderTarget | undefined;
  /** Settles when the opening handshake does. */
  readonly opened: Promise<void>;
  /** Whether data frames may still be sent. */
  isOpen(): boolean;
  /** The error for sends after the close. */
  closedError(): Error;
}

/** What the sender needs from an open channel. */
export interface SenderTarget {
  /** The engine that frames the messages. */
  protocol: Protocol;
  /** Where the frames go. */
  batches: BatchWriter;
  /** The negotiated permessage-deflate, if any. */
  deflate: MessageDeflate | undefined;
}

const encoder = new TextEncoder();

/**
 * Sends messages in call order. `host.target` is the open connection, or
 * `undefined` while the opening handshake runs (messages then wait for
 * `host.opened`); `host.isOpen()` says whether data frames may still be sent.
 *
 * @example
 * ```ts
 * import { Protocol } from "@wsc/websocket-channel/engine";
 * import { BatchWriter } from "./batch_writer.ts";
 * import { MessageSender } from "./message_sender.ts";
 *
 * const protocol = new Protocol({ role: "server" });
 * const written: Uint8Array[] = [];
 * const writer = new WritableStream<Uint8Array>({ write: (c) => void written.push(c) }).getWriter();
 * const batches = new BatchWriter(writer, { takeOutgoing: () => protocol.takeOutgoing(), writeFailed: () => {} });
 * const sender = new MessageSender({
 *   target: { protocol, batches, deflate: undefined },
 *   opened: Promise.resolve(),
 *   isOpen: () => true,
 *   closedError: () => new Error("closed"),
 * });
 * await sender.send("hi");
 * console.assert(written[0][0] === 0x81);
 * ```
 */
export class MessageSender {
  readonly #host: SenderHost;
  #tail: Promise<unknown> | undefined;
  #queuedBytes = 0;

  /** @param host The channel. */
  constructor(host: SenderHost) {
    this.#host = host;
  }

  /** Resolves once every message accepted so far was handed to the engine; `undefined` if none waits. */
  get pending(): Promise<unknown> | undefined {
    return this.#tail;
  }

  /** Bytes of messages waiting here (the opening handshake, a `Blob` read, compression). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Bytes accepted but not yet written: waiting here, in the engine, or being written. */
  get backlog(): number {
    const target = this.#host.target;
    return this.#queuedBytes + (target?.protocol.outgoingBytes ?? 0) +
      (target?.batches.inFlight ?? 0);
  }

  /**
   * Sends one message; resolves when the transport accepted its bytes. The
   * shared `ACCEPTED` promise (`_util/deferred.ts`) when it took them at once.
   */
  send(message: Sendable): Promise<void> {
    try {
      const target = this.#host.target;
      if (this.#tail === undefined && target) {
        const { protocol, batches, deflate } = target;
        if (typeof message === "string") {
          if (!deflate) {
            protocol.sendText(message);
            return batches.flush();
          }
          const bytes = encoder.encode(message);
          if (!deflate.shouldCompress(bytes.byteLength)) {
            protocol.sendText(bytes);
            return batches.flush();
          }
          // Compressed on the calling thread when the codec can (see MessageDeflate.encodeSync).
          const ready = deflate.encodeSync?.(bytes);
          if (ready === undefined) return this.#later(bytes, true);
          protocol.sendText(ready.data, ready);
          return batches.flush();
        }
        if (!isBlob(message)) {
          const bytes = asBytes(message as ArrayBuffer | ArrayBufferView);
          if (!deflate || !deflate.shouldCompress(bytes.byteLength)) {
            protocol.sendBinary(bytes);
            return batches.flush();
          }
          const ready = deflate.encodeSync?.(bytes);
          if (ready !== undefined) {
            protocol.sendBinary(ready.data, ready);
            return batches.flush();
          }
        }
      }
      return this.#later(message, typeof message === "string");
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The ordered slow path. */
  #later(message: Sendable, text: boolean): Promise<void> {
    const size = typeof message === "string"
      ? message.length
      : isBlob(message)
      ? message.size
      : (message as ArrayBufferView | ArrayBuffer).byteLength;
    this.#queuedBytes += size;
    const previous = this.#tail ?? (this.#host.target ? Promise.resolve() : this.#host.opened);
    const enqueued = previous.then(async () => {
      try {
        let bytes = toBytes(message);
        if (bytes instanceof Promise) bytes = await bytes;
        const target = this.#host.target;
        let compressed = false;
        if (target?.deflate && target.deflate.shouldCompress(bytes.byteLength)) {
          ({ data: bytes, compressed } = await target.deflate.encode(bytes));
        }
        if (!target || !this.#host.isOpen()) throw this.#host.closedError();
        if (text) target.protocol.sendText(bytes, { compressed });
        else target.protocol.sendBinary(bytes, { compressed });
        // Wrapped so the queue moves on once the frame is queued, not once it is written.
        return { flushed: target.batches.flush() };
      } finally {
        this.#queuedBytes -= size;
      }
    });
    const tail = enqueued.then(() => {}, () => {});
    this.#tail = tail;
    tail.then(() => {
      if (this.#tail === tail) this.#tail = undefined;
    });
    return enqueued.then((result) => result.flushed);
  }
}

function isBlob(value: unknown): value is Blob {
  return typeof Blob !== "undefined" && value instanceof Blob;
}
