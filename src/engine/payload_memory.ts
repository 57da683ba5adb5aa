/**
 * Memory for large buffers the engine fills completely before anyone sees
 * them: the buffer a frame that spans chunks is decoded into, a masked
 * frame the client sends, and a large frame's header and copied payload.
 * ECMAScript zero-fills every new buffer; for a buffer that is overwritten
 * at once that is a wasted pass over the memory (a 16 MiB buffer: 4.8-5.3 ms
 * on Node 20 against 2.5-2.7 ms without zero-filling, 4.8-6.7 against
 * 2.3-5.7 ms on Bun). Runtime adapters that can skip it (Node and Bun
 * through `Buffer.allocUnsafeSlow`) install an allocator here; the engine
 * itself touches no runtime global.
 *
 * @module
 */

/**
 * Buffers of at least this many bytes come from the installed allocator;
 * smaller ones are plain zero-filled `Uint8Array`s, as fast at that size.
 * Per buffer, `new Uint8Array(n)` against `Buffer.allocUnsafeSlow(n)` seen
 * as a `Uint8Array`: on Node 20 1.1 against 1.0 µs at 2 KiB, 1.7–1.8
 * against 1.1 at 16 KiB, 4.7 against 1.6–1.8 at 64 KiB; on Bun 0.24 against
 * 0.45 at 2 KiB, 0.65–1.6 against 0.67–1.1 at 8 KiB, 1.1 against 0.84–0.90
 * at 16 KiB, 5.0 against 1.1–1.4 at 64 KiB.
 *
 * @example
 * ```ts
 * import { PAYLOAD_ALLOCATOR_THRESHOLD } from "./payload_memory.ts";
 *
 * console.assert(PAYLOAD_ALLOCATOR_THRESHOLD === 16 * 1024);
 * ```
 */
export const PAYLOAD_ALLOCATOR_THRESHOLD = 16 * 1024;

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
 * Whether {@linkcode allocatePayload} may return memory that is not
 * zero-filled for `size` bytes (an allocator is installed and `size` is at
 * least {@linkcode PAYLOAD_ALLOCATOR_THRESHOLD}).
 *
 * @param size The length in bytes.
 * @returns `false` when the buffer would be zero-filled.
 *
 * @example
 * ```ts
 * import { payloadMayBeDirty } from "./payload_memory.ts";
 *
 * console.assert(payloadMayBeDirty(16) === false);
 * ```
 */
export function payloadMayBeDirty(size: number): boolean {
  return size >= PAYLOAD_ALLOCATOR_THRESHOLD && installed !== undefined;
}

// The built-in getters of every typed array, read from the prototype once: a
// subclass's getter or an own property of the caller's object cannot answer
// for them.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
function builtInGetter<T>(name: string): (this: Uint8Array) => T {
  return Object.getOwnPropertyDescriptor(typedArrayPrototype, name)!.get as (this: Uint8Array) => T;
}
const bufferOf = builtInGetter<ArrayBufferLike>("buffer");
const byteOffsetOf = builtInGetter<number>("byteOffset");
const lengthOf = builtInGetter<number>("length");

/**
 * A plain `Uint8Array` over exactly the bytes `view` holds (no copy), made
 * from its internal slots. A caller's object may say otherwise: a subclass,
 * or an own `length`, `subarray` or `Symbol.species`, can claim more bytes
 * than it holds. The engine sizes a frame from the length and then copies
 * what the view really holds, so a claimed length would leave part of a
 * buffer unwritten, and the unwritten part of an unzeroed buffer
 * ({@linkcode allocatePayload}), of the masking kernel's memory or of a
 * transport's scratch space is old memory. The plain view's answers are the
 * bytes themselves.
 *
 * @param view Bytes from outside the engine.
 * @returns A plain view over the same bytes.
 *
 * @example
 * ```ts
 * import { plainBytes } from "./payload_memory.ts";
 *
 * const bytes = new Uint8Array(8);
 * Object.defineProperty(bytes, "length", { value: 1 << 20 });
 * console.assert(plainBytes(bytes).length === 8);
 * ```
 */
export function plainBytes(view: Uint8Array): Uint8Array {
  return new Uint8Array(bufferOf.call(view), byteOffsetOf.call(view), lengthOf.call(view));
}
