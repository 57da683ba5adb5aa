/**
 * Memory for large buffers the engine fills completely before anyone sees
 * them: the buffer a frame that spans chunks is decoded into, and a masked
 * frame the client sends. ECMAScript zero-fills every new buffer; for a
 * buffer that is overwritten at once that is a wasted pass over the memory
 * (a 16 MiB buffer: 4.8-5.3 ms on Node 20 against 2.5-2.7 ms without
 * zero-filling, 4.8-6.7 against 2.3-5.7 ms on Bun; no difference below
 * 1 MiB). Runtime adapters that can skip it (Node and Bun through
 * `Buffer.allocUnsafeSlow`) install an allocator here; the engine itself
 * touches no runtime global.
 *
 * @module
 */

/**
 * Buffers of at least this many bytes come from the installed allocator;
 * smaller ones are plain zero-filled `Uint8Array`s, as fast at that size.
 *
 * @example
 * ```ts
 * import { PAYLOAD_ALLOCATOR_THRESHOLD } from "./payload_memory.ts";
 *
 * console.assert(PAYLOAD_ALLOCATOR_THRESHOLD === 1024 * 1024);
 * ```
 */
export const PAYLOAD_ALLOCATOR_THRESHOLD = 1024 * 1024;

/**
 * Returns a `Uint8Array` of exactly `size` bytes, at offset 0 of its own
 * `ArrayBuffer`, whose contents may be anything.
 */
export type PayloadAllocator = (size: number) => Uint8Array;

let installed: PayloadAllocator | undefined;

/**
 * Makes `allocator` the source of large buffers the engine overwrites
 * completely (the process-wide choice of the runtime adapter).
 *
 * @param allocator Allocates without zero-filling.
 *
 * @example
 * ```ts
 * import { installPayloadAllocator } from "./payload_memory.ts";
 *
 * installPayloadAllocator((size) => new Uint8Array(size));
 * ```
 */
export function installPayloadAllocator(allocator: PayloadAllocator): void {
  installed = allocator;
}

/**
 * A buffer of `size` bytes that the caller overwrites entirely before any
 * byte of it is read or handed out.
 *
 * @param size The length in bytes.
 * @returns A `Uint8Array` of exactly `size` bytes at offset 0 of its own
 * `ArrayBuffer`; its contents are unspecified.
 *
 * @example
 * ```ts
 * import { allocatePayload } from "./payload_memory.ts";
 *
 * const bytes = allocatePayload(4);
 * bytes.set([1, 2, 3, 4]);
 * console.assert(bytes.byteLength === 4 && bytes[3] === 4);
 * ```
 */
export function allocatePayload(size: number): Uint8Array {
  if (size < PAYLOAD_ALLOCATOR_THRESHOLD || installed === undefined) return new Uint8Array(size);
  return installed(size);
}

/**
 * `parts` copied one after another into the start of a buffer of `length`
 * bytes. With `unfilled` 0 (the parts fill it, or the caller writes the rest
 * before anyone reads it) it comes from {@linkcode allocatePayload}; a
 * buffer whose rest a transport reads into is zero-filled.
 *
 * @param parts The pieces, in order.
 * @param length The buffer's length.
 * @param unfilled Bytes after the parts that a transport is to read into.
 * @returns A `Uint8Array` of `length` bytes at offset 0 of its own buffer.
 *
 * @example
 * ```ts
 * import { joinPayload } from "./payload_memory.ts";
 *
 * const joined = joinPayload([new Uint8Array([1, 2]), new Uint8Array([3])], 3);
 * console.assert(joined.join() === "1,2,3");
 * ```
 */
export function joinPayload(parts: Uint8Array[], length: number, unfilled = 0): Uint8Array {
  const payload = unfilled === 0 ? allocatePayload(length) : new Uint8Array(length);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    payload.set(parts[i], at);
    at += parts[i].length;
  }
  return payload;
}

let early = false;

/**
 * Makes a long payload that spans chunks get its own buffer (from
 * {@linkcode allocatePayload}) once a sixteenth of it arrived, every later
 * chunk then unmasked straight into it while that chunk is still in the
 * cache; by default the chunks are kept, unmasked in place, and copied into
 * the payload's buffer once its last byte is in. The process-wide choice of
 * the runtime adapter: on Bun, whose sockets hand every read over in a fresh
 * buffer of up to 512 KiB, the early buffer saves a pass over the payload;
 * on Node 20 a buffer that lives while megabytes arrive is promoted out of
 * V8's young generation and brings full collections (see frame_decoder.ts).
 *
 * @param value Whether long payloads get their buffer early.
 *
 * @example
 * ```ts
 * import { earlyPayloadBuffers, setEarlyPayloadBuffers } from "./payload_memory.ts";
 *
 * setEarlyPayloadBuffers(true);
 * console.assert(earlyPayloadBuffers());
 * setEarlyPayloadBuffers(false);
 * ```
 */
export function setEarlyPayloadBuffers(value: boolean): void {
  early = value;
}

/**
 * Whether long payloads get their buffer early ({@linkcode setEarlyPayloadBuffers}).
 *
 * @example
 * ```ts
 * import { earlyPayloadBuffers } from "./payload_memory.ts";
 *
 * console.assert(typeof earlyPayloadBuffers() === "boolean");
 * ```
 */
export function earlyPayloadBuffers(): boolean {
  return early;
}
