/**
 * Ending a byte-stream transport, politely or not.
 *
 * @module
 */
import { deferred, handled } from "../_util/deferred.ts";
import type { ByteReader, ByteWriter } from "./stream_channel_options.ts";

/**
 * Waits for `flushed` (the last frames, e.g. our close), half-closes the
 * writable (FIN), then cancels the readable. If that takes longer than
 * `timeout` ms (a peer that stopped reading), the transport is dropped.
 * Resolves `true` when the bytes went out and `false` when the transport
 * was dropped with them unsent (our close frame then never reached the
 * peer: the close was not clean).
 *
 * @example
 * ```ts
 * import { closeTransport } from "./close_transport.ts";
 *
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const sent = await closeTransport(writable.getWriter(), readable.getReader(), Promise.resolve(), { timeout: 1000 });
 * console.assert(sent);
 * ```
 */
export async function closeTransport(
  writer: ByteWriter,
  reader: ByteReader,
  flushed: Promise<void>,
  options: { timeout: number; close?: () => void },
): Promise<boolean> {
  const limit = deferred<void>();
  const timer = setTimeout(() => limit.resolve(), options.timeout);
  try {
    await Promise.race([flushed.then(() => writer.close()), limit.promise]);
  } catch { /* the transport is gone already */ }
  clearTimeout(timer);
  if (limit.settled) {
    dropTransport(writer, reader, options.close);
    return false;
  }
  handled(reader.cancel());
  // Our FIN is out; release the connection itself too, for transports whose streams do not own it.
  try {
    options.close?.();
  } catch { /* already closed */ }
  return true;
}

/**
 * Drops the transport at once (abrupt loss, or after failing the connection
 * without a close frame to send).
 *
 * @example
 * ```ts
 * import { dropTransport } from "./close_transport.ts";
 *
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * dropTransport(writable.getWriter(), readable.getReader());
 * ```
 */
export function dropTransport(
  writer: ByteWriter,
  reader: ByteReader,
  close?: () => void,
): void {
  handled(writer.abort());
  handled(reader.cancel());
  try {
    close?.();
  } catch { /* already closed */ }
}
