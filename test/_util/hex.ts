/**
 * Hex helpers for byte-exact test vectors: `hex("81 05 48")` and back.
 *
 * @module
 */

/**
 * Parses hex digits, ignoring whitespace.
 *
 * @example
 * ```ts
 * import { hex } from "./hex.ts";
 *
 * console.assert(hex("81 05")[0] === 0x81);
 * ```
 */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  if (digits.length % 2 !== 0 || /[^0-9a-fA-F]/.test(digits)) {
    throw new TypeError(`Invalid hex string: ${text}`);
  }
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Formats bytes as space-separated lower-case hex.
 *
 * @example
 * ```ts
 * import { toHex } from "./hex.ts";
 *
 * console.assert(toHex(new Uint8Array([0x81, 5])) === "81 05");
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * Concatenates byte arrays.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./hex.ts";
 *
 * console.assert(concatBytes([new Uint8Array([1]), new Uint8Array([2])]).length === 2);
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
