/**
 * Payload masking (RFC 6455 §5.3) and a pooled source of mask keys.
 *
 * Masking dominates the cost of large frames in JavaScript. From
 * {@linkcode KERNEL_MASK_THRESHOLD} bytes up it runs in a WebAssembly SIMD
 * kernel (mask_kernel.ts), 128 KiB at a time copied through the kernel's
 * memory; below, and wherever WebAssembly is not available, in JavaScript: a
 * 32-bit word at a time through a `Uint32Array` over the aligned middle of
 * the data, and a byte loop below {@linkcode WORD_MASK_THRESHOLD} bytes,
 * where the view allocation costs more than it saves. Thresholds measured by
 * bench/mask.ts on each of the three server runtimes.
 *
 * @module
 */

import { loadMaskKernel, MASK_KERNEL_BLOCK, type MaskKernel } from "./mask_kernel.ts";

/** Payloads shorter than this are masked byte by byte. */
export const WORD_MASK_THRESHOLD = 64;

/**
 * Payloads of at least this many bytes are masked by the WebAssembly SIMD
 * kernel. bench/mask.ts (GB/s, kernel ÷ JS, in place and fused copy): at
 * 1 KiB 0.9-1.2× on all three runtimes; from 2 KiB to 4 MiB 1.4-2.7×; at
 * 16 MiB (past the caches) 1.4× on Node 20, 0.9-1.4× on Deno and 1.0-1.2×
 * on Bun, so there is no upper bound.
 */
export const KERNEL_MASK_THRESHOLD = 2048;

// Compiled on the first payload that needs it; null where WebAssembly is unavailable.
let kernel: MaskKernel | null | undefined;

const rotatedKeyBytes = new Uint8Array(4);
const rotatedKeyWord = new Uint32Array(rotatedKeyBytes.buffer);

/** Options of {@linkcode applyMask}. */
export interface ApplyMaskOptions {
  /**
   * Position of `data[0]` within the frame's payload, for masking a payload
   * that arrives in pieces: byte `i` is XORed with `key[(offset + i) % 4]`.
   * @default {0}
   */
  offset?: number;
}

/**
 * XORs `data` in place with the 4-byte masking `key` (RFC 6455 §5.3). Applying
 * it twice with the same key and offset restores the original bytes, so the
 * same function masks and unmasks.
 *
 * @param data The bytes to (un)mask, changed in place.
 * @param key The 4-byte masking key.
 * @param options Where `data` starts within the payload.
 *
 * @example Mask and unmask "Hello" with the RFC 6455 §5.7 key
 * ```ts
 * import { applyMask } from "@wsc/websocket-channel/engine";
 *
 * const data = new TextEncoder().encode("Hello");
 * applyMask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
 * console.assert(data[0] === 0x7f && data[4] === 0x58);
 * ```
 */
export function applyMask(data: Uint8Array, key: Uint8Array, options: ApplyMaskOptions = {}): void {
  if (key.length !== 4) throw new RangeError("Cannot mask: key must be 4 bytes");
  maskRange(data, 0, data.length, key, options.offset ?? 0);
}

/**
 * The hot-path form of {@linkcode applyMask}: masks `data[start..end)` in
 * place with `key` (read from `key[keyStart..keyStart+4)`), treating
 * `data[start]` as payload byte number `offset`.
 *
 * @example
 * ```ts
 * import { maskRange } from "./mask.ts";
 *
 * const frame = new Uint8Array([0, 0, 1, 1, 1, 1]);
 * maskRange(frame, 2, 6, new Uint8Array([1, 2, 3, 4]), 0);
 * console.assert(frame[2] === 0 && frame[5] === 5);
 * ```
 */
export function maskRange(
  data: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  offset: number,
  keyStart = 0,
): void {
  if (
    end - start < KERNEL_MASK_THRESHOLD ||
    !maskRangeInKernel(data, start, end, key, offset, keyStart)
  ) {
    maskRangeInJs(data, start, end, key, offset, keyStart);
  }
}

/**
 * {@linkcode maskRange} through the WebAssembly SIMD kernel at any length.
 *
 * @returns `false` (and nothing masked) where the kernel is unavailable.
 *
 * @example
 * ```ts
 * import { maskRangeInKernel } from "./mask.ts";
 *
 * const data = new Uint8Array(100).fill(1);
 * if (maskRangeInKernel(data, 0, 100, new Uint8Array([1, 1, 1, 1]), 0)) console.assert(data[99] === 0);
 * ```
 */
export function maskRangeInKernel(
  data: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  offset: number,
  keyStart = 0,
): boolean {
  if ((kernel ??= loadMaskKernel()) === null) return false;
  maskThroughKernel(kernel, data, start, end, data, start, key, keyStart, offset);
  return true;
}

/**
 * {@linkcode maskRange} in JavaScript at any length (words over the aligned
 * middle from {@linkcode WORD_MASK_THRESHOLD} bytes, else bytes).
 *
 * @example
 * ```ts
 * import { maskRangeInJs } from "./mask.ts";
 *
 * const data = new Uint8Array(100).fill(1);
 * maskRangeInJs(data, 0, 100, new Uint8Array([1, 1, 1, 1]), 0);
 * console.assert(data[99] === 0);
 * ```
 */
export function maskRangeInJs(
  data: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  offset: number,
  keyStart = 0,
): void {
  const k0 = key[keyStart], k1 = key[keyStart + 1], k2 = key[keyStart + 2], k3 = key[keyStart + 3];
  if (end - start < WORD_MASK_THRESHOLD) {
    // Four bytes per iteration when the payload position is key-aligned (always, for whole
    // frames): 2-3× faster than a per-byte key lookup on V8 for 20-60 byte payloads.
    let i = start;
    let j = offset;
    if ((j & 3) === 0) {
      for (const stop = end - 3; i < stop; i += 4) {
        data[i] ^= k0;
        data[i + 1] ^= k1;
        data[i + 2] ^= k2;
        data[i + 3] ^= k3;
      }
      j += i - start;
    }
    for (; i < end; i++, j++) {
      const r = j & 3;
      data[i] ^= r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3;
    }
    return;
  }
  // Byte loop up to the first 4-byte aligned address of the underlying buffer.
  let i = start;
  let j = offset;
  const head = (4 - ((data.byteOffset + start) & 3)) & 3;
  for (const stop = start + head; i < stop; i++, j++) {
    const r = j & 3;
    data[i] ^= r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3;
  }
  const words = (end - i) >>> 2;
  // The key rotated so that word byte 0 lines up with payload byte j.
  const r = j & 3;
  rotatedKeyBytes[0] = r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3;
  rotatedKeyBytes[1] = r === 0 ? k1 : r === 1 ? k2 : r === 2 ? k3 : k0;
  rotatedKeyBytes[2] = r === 0 ? k2 : r === 1 ? k3 : r === 2 ? k0 : k1;
  rotatedKeyBytes[3] = r === 0 ? k3 : r === 1 ? k0 : r === 2 ? k1 : k2;
  const w = rotatedKeyWord[0];
  const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
  let n = 0;
  for (const unrolled = words & ~3; n < unrolled; n += 4) {
    view[n] ^= w;
    view[n + 1] ^= w;
    view[n + 2] ^= w;
    view[n + 3] ^= w;
  }
  for (; n < words; n++) view[n] ^= w;
  i += words << 2;
  j += words << 2;
  for (; i < end; i++, j++) {
    const q = j & 3;
    data[i] ^= q === 0 ? k0 : q === 1 ? k1 : q === 2 ? k2 : k3;
  }
}

/**
 * The bytes `source[start..end)` unmasked into a buffer of their own, byte by
 * byte (a whole frame's payload: key byte `i & 3` for payload byte `i`),
 * leaving `source` untouched. No view of `source.buffer` is made: on
 * JavaScriptCore a read the runtime hands over has no `ArrayBuffer` until
 * one is asked for, and making it costs more than copying a short payload.
 *
 * @example
 * ```ts
 * import { unmaskedCopy } from "./mask.ts";
 *
 * const frame = new Uint8Array([0x82, 0x82, 1, 2, 3, 4, 1 ^ 7, 2 ^ 9]);
 * const payload = unmaskedCopy(frame, 6, 8, frame, 2);
 * console.assert(payload.join() === "7,9" && frame[6] === (1 ^ 7));
 * ```
 */
export function unmaskedCopy(
  source: Uint8Array,
  start: number,
  end: number,
  key: Uint8Array,
  keyStart: number,
): Uint8Array {
  const k0 = key[keyStart], k1 = key[keyStart + 1], k2 = key[keyStart + 2], k3 = key[keyStart + 3];
  const out = new Uint8Array(end - start);
  let i = 0;
  for (const stop = out.length - 3; i < stop; i += 4) {
    const at = start + i;
    out[i] = source[at] ^ k0;
    out[i + 1] = source[at + 1] ^ k1;
    out[i + 2] = source[at + 2] ^ k2;
    out[i + 3] = source[at + 3] ^ k3;
  }
  for (; i < out.length; i++) {
    const r = i & 3;
    out[i] = source[start + i] ^ (r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3);
  }
  return out;
}

/**
 * Writes `source` masked into `target` from `targetStart`, leaving `source`
 * untouched: the copy a client makes anyway (RFC 6455 §10.3: the caller's
 * bytes must not change once sent) and the masking in one pass, where the
 * copy-then-mask form read and wrote every byte twice. `key` is read from
 * `key[keyStart..keyStart+4)` before anything is written, so it may lie in
 * `target` (a frame header); `source[0]` is payload byte number `offset`.
 *
 * @example
 * ```ts
 * import { maskCopy } from "./mask.ts";
 *
 * const frame = new Uint8Array([0x82, 0x84, 1, 2, 3, 4, 0, 0, 0, 0]);
 * maskCopy(new Uint8Array([1, 1, 1, 1]), frame, 6, frame, 2, 0);
 * console.assert(frame[6] === 0 && frame[9] === 5);
 * ```
 */
export function maskCopy(
  source: Uint8Array,
  target: Uint8Array,
  targetStart: number,
  key: Uint8Array,
  keyStart: number,
  offset: number,
): void {
  const length = source.length;
  if (
    length >= KERNEL_MASK_THRESHOLD &&
    maskCopyInKernel(source, target, targetStart, key, keyStart, offset)
  ) return;
  target.set(source, targetStart);
  maskRangeInJs(target, targetStart, targetStart + length, key, offset, keyStart);
}

/**
 * {@linkcode maskCopy} through the WebAssembly SIMD kernel at any length.
 *
 * @returns `false` (and nothing written) where the kernel is unavailable.
 *
 * @example
 * ```ts
 * import { maskCopyInKernel } from "./mask.ts";
 *
 * const target = new Uint8Array(100);
 * const key = new Uint8Array([1, 1, 1, 1]);
 * if (maskCopyInKernel(new Uint8Array(99).fill(1), target, 1, key, 0, 0)) console.assert(target[99] === 0);
 * ```
 */
export function maskCopyInKernel(
  source: Uint8Array,
  target: Uint8Array,
  targetStart: number,
  key: Uint8Array,
  keyStart: number,
  offset: number,
): boolean {
  if ((kernel ??= loadMaskKernel()) === null) return false;
  maskThroughKernel(kernel, source, 0, source.length, target, targetStart, key, keyStart, offset);
  return true;
}

/**
 * Masks `source[from..to)` into `target` from `at` (the same array for in
 * place), through the kernel's memory one block at a time.
 */
function maskThroughKernel(
  kernel: MaskKernel,
  source: Uint8Array,
  from: number,
  to: number,
  target: Uint8Array,
  at: number,
  key: Uint8Array,
  keyStart: number,
  offset: number,
): void {
  const k0 = key[keyStart], k1 = key[keyStart + 1], k2 = key[keyStart + 2], k3 = key[keyStart + 3];
  const r = offset & 3;
  // The key rotated so that word byte 0 meets payload byte `offset`, little-endian as
  // WebAssembly memory is. Blocks are a multiple of 4 bytes long: the rotation holds for all.
  const b0 = r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3;
  const b1 = r === 0 ? k1 : r === 1 ? k2 : r === 2 ? k3 : k0;
  const b2 = r === 0 ? k2 : r === 1 ? k3 : r === 2 ? k0 : k1;
  const b3 = r === 0 ? k3 : r === 1 ? k0 : r === 2 ? k1 : k2;
  const word = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24);
  const memory = kernel.memory;
  for (let block = from; block < to; block += MASK_KERNEL_BLOCK) {
    const n = Math.min(MASK_KERNEL_BLOCK, to - block);
    const out = at + (block - from);
    const base = placeBlock(source.byteOffset + block, target.byteOffset + out);
    memory.set(source.subarray(block, block + n), base);
    kernel.mask(base, n, word);
    const whole = n & ~63;
    target.set(memory.subarray(base, base + whole), out);
    // The last 0-63 bytes: position i has key byte (i & 3) of the rotated key.
    for (let i = whole; i < n; i++) {
      const q = i & 3;
      target[out + i] = source[block + i] ^ (q === 0 ? b0 : q === 1 ? b1 : q === 2 ? b2 : b3);
    }
  }
}

/**
 * Where a block goes in the kernel's memory: at the target's offset within a
 * 4 KiB page (so the copy out keeps its alignment), moved by 32 when that
 * would put the copy-in destination 1-31 bytes past its source (modulo
 * 4 KiB). Bun's typed-array copies slow down up to fourfold when the
 * destination lies a few bytes past the source modulo 4 KiB: masking 16 MiB
 * in place through the kernel, 2.8 GB/s 8 bytes past, 6.6 GB/s 16 bytes
 * past, 10 GB/s at 0 or 32 and more (Bun 1.4.5; Node and Deno do not care).
 * Large buffers start on page boundaries, so byte offsets stand in for
 * addresses.
 */
function placeBlock(sourceOffset: number, targetOffset: number): number {
  let base = targetOffset & 4095;
  if ((((base - sourceOffset) & 4095) - 1) >>> 0 < 31) base += 32;
  return base;
}

/** Bytes of randomness fetched per refill of a {@linkcode MaskKeyPool}. */
const POOL_SIZE = 8192;

/**
 * Hands out fresh 4-byte mask keys from a pool of random bytes, so one
 * `crypto.getRandomValues` call serves 2048 frames. RFC 6455 §10.3: keys
 * "MUST be derived from a strong source of entropy"; the pool only batches
 * the calls, every key is still new CSPRNG output used once.
 *
 * @example
 * ```ts
 * import { MaskKeyPool } from "@wsc/websocket-channel/engine";
 *
 * const pool = new MaskKeyPool();
 * const key = new Uint8Array(4);
 * pool.fill(key);
 * ```
 */
export class MaskKeyPool {
  // Allocated on the first key: a server-role connection never masks, and
  // 8 KiB per idle connection was a fifth of its memory (bench/echo.ts).
  #pool: Uint8Array | undefined;
  #position = POOL_SIZE;

  /**
   * Writes the next key into `target[offset..offset+4)`.
   *
   * @param target Where to write the key (e.g. straight into a frame header).
   * @param offset Index of the first key byte in `target`.
   */
  fill(target: Uint8Array, offset = 0): void {
    if (this.#position === POOL_SIZE) {
      this.#pool ??= new Uint8Array(POOL_SIZE);
      crypto.getRandomValues(this.#pool);
      this.#position = 0;
    }
    const pool = this.#pool!, p = this.#position;
    target[offset] = pool[p];
    target[offset + 1] = pool[p + 1];
    target[offset + 2] = pool[p + 2];
    target[offset + 3] = pool[p + 3];
    this.#position = p + 4;
  }
}
