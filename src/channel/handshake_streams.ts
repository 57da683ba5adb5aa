/**
 * What both sides of an opening handshake over a raw byte-stream pair share:
 * their limits, reading one HTTP head, and dropping the connection after a
 * failure.
 *
 * @module
 */
import type { Compression } from "../deflate/compression_options.ts";
import { Http1HeadReader, type Http1HeadResult } from "../handshake/http1_codec.ts";
import { concat } from "../_util/bytes.ts";
import { ConnectError } from "./errors.ts";
import type { ByteReader, ByteStreams, ByteWriter } from "./stream_channel_options.ts";

/** Options shared by both sides of the handshake. */
export interface HandshakeLimits {
  /**
   * Milliseconds allowed for the whole opening handshake (slowloris guard).
   * @default {30000}
   */
  handshakeTimeout?: number;
  /** Largest HTTP head accepted, in bytes (more is HTTP 431). @default {16384} */
  maxHeadSize?: number;
  /** permessage-deflate: off by default; `true` for defaults or settings. */
  compression?: Compression;
}

/** Default of {@linkcode HandshakeLimits.handshakeTimeout}, in milliseconds. */
export const DEFAULT_STREAM_HANDSHAKE_TIMEOUT = 30_000;

/** A stream reader, or a transport's direct reader (which has no lock to release). */
export type HandshakeReader = ByteReader & { releaseLock?(): void };
/** A stream writer, or a transport's direct writer. */
export type HandshakeWriter = ByteWriter & { releaseLock?(): void };

/**
 * Reads one HTTP head from `reader`: resolves with the head and the bytes
 * that came after it, rejects on a malformed or oversized head
 * (`HandshakeError` with status 400 / 431) or with `WS_CONNECT_FAILED` when
 * the connection ends first. Stops quietly, never settling, once `stopped`
 * says so after a read.
 *
 * @param reader Where the bytes come from.
 * @param maxHeadSize The size limit of the head. @default {16384}
 * @param stopped Whether the caller gave up on the head meanwhile.
 * @returns The head, and a copy of the bytes after it.
 *
 * @example
 * ```ts
 * import { readHead } from "./handshake_streams.ts";
 *
 * const readable = new ReadableStream<Uint8Array>({
 *   start(controller) {
 *     controller.enqueue(new TextEncoder().encode("HTTP/1.1 101 Switching Protocols\r\n\r\nx"));
 *   },
 * });
 * const { head, rest } = await readHead(readable.getReader());
 * console.assert(head.startLine.startsWith("HTTP/1.1 101") && rest.length === 1);
 * ```
 */
export async function readHead(
  reader: Pick<ByteReader, "read">,
  maxHeadSize?: number,
  stopped: () => boolean = () => false,
): Promise<Http1HeadResult> {
  const parser = new Http1HeadReader({ maxHeadSize });
  for (;;) {
    const { value, done } = await reader.read();
    if (stopped()) return new Promise<never>(() => {});
    if (done) {
      throw new ConnectError(
        "WS_CONNECT_FAILED",
        "The connection closed during the opening handshake",
      );
    }
    const result = parser.push(value);
    // `rest` is a view into this chunk: copy it, the transport may reuse its buffers.
    if (result) return { head: result.head, rest: concat([result.rest]) };
  }
}

/**
 * Drops a connection whose handshake failed: aborts the writer (or the
 * writable), cancels the reading side and closes the transport at once.
 * Never throws.
 *
 * @param streams The connection.
 * @param writer The writer taken from it, if any.
 *
 * @example
 * ```ts
 * import { createByteStreamPair } from "@wsc/websocket-channel/testing";
 * import { dropStreams } from "./handshake_streams.ts";
 *
 * const [a, b] = createByteStreamPair();
 * dropStreams(a);
 * const ended = await b.readable.getReader().read().then(() => true, () => true);
 * console.assert(ended);
 * ```
 */
export function dropStreams(streams: ByteStreams, writer?: HandshakeWriter): void {
  const swallow = () => {};
  if (writer) writer.abort().catch(swallow);
  else if (!streams.direct && !streams.writable.locked) streams.writable.abort().catch(swallow);
  if (streams.direct) streams.direct().reader.cancel().catch(swallow);
  else if (!streams.readable.locked) streams.readable.cancel().catch(swallow);
  // Aborting waits for a write in progress; closing the transport does not.
  try {
    streams.close?.();
  } catch { /* already closed */ }
}
