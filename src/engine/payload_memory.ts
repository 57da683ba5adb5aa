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
