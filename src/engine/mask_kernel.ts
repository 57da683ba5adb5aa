/**
 * A WebAssembly SIMD masking kernel (RFC 6455 §5.3): XORs 64 bytes per loop
 * turn with a 4-byte key splatted over a 128-bit vector. WebAssembly and its
 * fixed-width SIMD are web standards, present on Node ≥ 16.4, Deno, Bun and
 * every current browser; where compiling is not allowed (a page whose CSP
 * lacks `wasm-unsafe-eval`) or SIMD is missing, {@linkcode loadMaskKernel}
 * returns `null` and masking stays in JavaScript.
 *
 * The module, in text form (its bytes are spelled out below, so there is
 * nothing to assemble at build time and no dependency):
 *
 * ```wat
 * (module
 *   (memory (export "memory") 3)                     ;; a 128 KiB block and room to place it
 *   (func (export "mask") (param $ptr i32) (param $len i32) (param $key i32)
 *     (local $end i32) (local $k v128)
 *     (local.set $k (i32x4.splat (local.get $key)))
 *     (local.set $end (i32.add (local.get $ptr) (i32.and (local.get $len) (i32.const -64))))
 *     (block $done
 *       (loop $next
 *         (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
 *         (v128.store offset=0  (local.get $ptr) (v128.xor (v128.load offset=0  (local.get $ptr)) (local.get $k)))
 *         (v128.store offset=16 (local.get $ptr) (v128.xor (v128.load offset=16 (local.get $ptr)) (local.get $k)))
 *         (v128.store offset=32 (local.get $ptr) (v128.xor (v128.load offset=32 (local.get $ptr)) (local.get $k)))
 *         (v128.store offset=48 (local.get $ptr) (v128.xor (v128.load offset=48 (local.get $ptr)) (local.get $k)))
 *         (local.set $ptr (i32.add (local.get $ptr) (i32.const 64)))
 *         (br $next))))
 * )
 * ```
 *
 * Only whole 64-byte groups are masked (`len & ~63`); the caller does the rest.
 *
 * @module
 */

/**
 * Bytes masked per call at most: payloads pass through the kernel's memory
 * one block at a time, so that the copy in, the masking and the copy out of a
 * block stay in the core's 1 MiB L2 cache however large the payload, and the
 * memory holds one block plus 4 KiB and 32 bytes (so that a block can be
 * placed at any offset within a page) and never grows. bench/mask.ts blocks
 * of 16 KiB to 256 KiB in one process, kernel ÷ JS at 1-16 MiB: 16 and
 * 32 KiB 5-30 % behind, 64, 128 and 256 KiB within noise of one another,
 * 128 KiB ahead in most cells.
 */
export const MASK_KERNEL_BLOCK = 131072;
// WebAssembly pages (64 KiB) of the kernel's memory.
const MEMORY_PAGES = Math.ceil((MASK_KERNEL_BLOCK + 4096 + 32) / 65536);
const MEMORY_BYTES = MEMORY_PAGES * 65536;

// `local.get $ptr; local.get $ptr; v128.load offset; local.get $k; v128.xor; v128.store offset`
const xorAt = (offset: number) => [
  0x20,
  0x00,
  0x20,
  0x00,
  0xfd,
  0x00,
  0x00,
  offset, // v128.load align=1 offset
  0x20,
  0x04,
  0xfd,
  0x51, // v128.xor with $k
  0xfd,
  0x0b,
  0x00,
  offset, // v128.store align=1 offset
];

const BODY = [
  0x02,
  0x01,
  0x7f,
  0x01,
  0x7b, // locals: 1 × i32 ($end), 1 × v128 ($k)
  0x20,
  0x02,
  0xfd,
  0x11,
  0x21,
  0x04, // $k = i32x4.splat($key)
  0x20,
  0x00,
  0x20,
  0x01,
  0x41,
  0x40,
  0x71,
  0x6a,
  0x21,
  0x03, // $end = $ptr + ($len & -64)
  0x02,
  0x40,
  0x03,
  0x40, // block, loop
  0x20,
  0x00,
  0x20,
  0x03,
  0x4f,
  0x0d,
  0x01, // br_if 1 ($ptr >= $end)
  ...xorAt(0),
  ...xorAt(16),
  ...xorAt(32),
  ...xorAt(48),
  0x20,
  0x00,
  0x41,
  0xc0,
  0x00,
  0x6a,
  0x21,
  0x00, // $ptr += 64
  0x0c,
  0x00,
  0x0b,
  0x0b,
  0x0b, // br 0, end loop, end block, end func
];

const section = (id: number, content: number[]) => [id, content.length, ...content];
const name = (text: string) => [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];

/**
 * The module's binary (WebAssembly core spec §5), 158 bytes.
 *
 * @example
 * ```ts
 * import { MASK_KERNEL_WASM } from "./mask_kernel.ts";
 *
 * console.assert(WebAssembly.validate(MASK_KERNEL_WASM));
 * ```
 */
export const MASK_KERNEL_WASM: Uint8Array<ArrayBuffer> = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // "\0asm", version 1
  ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // type: (i32 i32 i32) -> ()
  ...section(3, [0x01, 0x00]), // one function of type 0
  ...section(5, [0x01, 0x00, MEMORY_PAGES]), // one memory, MEMORY_PAGES pages, no max
  ...section(7, [0x02, ...name("memory"), 0x02, 0x00, ...name("mask"), 0x00, 0x00]),
  ...section(10, [0x01, BODY.length, ...BODY]),
]);

/** The instantiated kernel: its memory and the masking function. */
export interface MaskKernel {
  /**
   * The kernel's memory (192 KiB, fixed: nothing grows it): copy a block in,
   * mask it, copy it back out.
   */
  memory: Uint8Array;
  /**
   * Masks `memory[at .. at + (length & ~63))` in place with `key`, the 4 key
   * bytes as a little-endian 32-bit word (byte 0 of the word meets
   * `memory[at]`).
   */
  mask(at: number, length: number, key: number): void;
}

/**
 * Compiles and instantiates the kernel, or returns `null` where WebAssembly
 * (or its SIMD) is unavailable or not allowed.
 *
 * @example
 * ```ts
 * import { loadMaskKernel } from "./mask_kernel.ts";
 *
 * const kernel = loadMaskKernel();
 * if (kernel !== null) {
 *   kernel.memory.fill(0xff, 16, 80);
 *   kernel.mask(16, 64, 0x0f0f0f0f);
 *   console.assert(kernel.memory[16] === 0xf0);
 * }
 * ```
 */
export function loadMaskKernel(): MaskKernel | null {
  try {
    if (typeof WebAssembly !== "object") return null;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(MASK_KERNEL_WASM), {});
    const exports = instance.exports as {
      memory: WebAssembly.Memory;
      mask: (ptr: number, length: number, key: number) => void;
    };
    return { memory: new Uint8Array(exports.memory.buffer, 0, MEMORY_BYTES), mask: exports.mask };
  } catch {
    return null;
  }
}
