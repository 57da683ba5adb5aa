/**
 * `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` (RFC 6455 §4.1, §4.2.2).
 *
 * @module
 */

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const encoder = new TextEncoder();

const BASE64 = new TextEncoder().encode(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
);
const PAD = 61; // "="

/**
 * Base64 (RFC 4648 §4, padded) of a few bytes: the characters' codes, then
 * one string (no binary string for `btoa`, no string per character).
 */
function toBase64(bytes: Uint8Array): string {
  const codes: number[] = [];
  for (let i = 0; i < bytes.length; i += 3) {
    const rest = bytes.length - i;
    const v = (bytes[i] << 16) | ((rest > 1 ? bytes[i + 1] : 0) << 8) |
      (rest > 2 ? bytes[i + 2] : 0);
    codes.push(
      BASE64[v >> 18],
      BASE64[(v >> 12) & 63],
      rest > 1 ? BASE64[(v >> 6) & 63] : PAD,
      rest > 2 ? BASE64[v & 63] : PAD,
    );
  }
  return String.fromCharCode.apply(null, codes);
}

/**
 * Computes the `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`:
 * base64(SHA-1(key + GUID)), RFC 6455 §4.2.2 step 5.4.
 *
 * @param key The client's `Sec-WebSocket-Key` exactly as sent.
 * @returns The value the server must send in `Sec-WebSocket-Accept`.
 *
 * @example RFC 6455 §1.3 example
 * ```ts
 * import { signKey } from "@wsc/websocket-channel";
 *
 * console.assert(await signKey("dGhlIHNhbXBsZSBub25jZQ==") === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export async function signKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return toBase64(new Uint8Array(digest));
}

/**
 * Generates a fresh `Sec-WebSocket-Key`. RFC 6455 §4.1: "a randomly selected
 * 16-byte value that has been base64-encoded", chosen anew for each connection.
 *
 * @returns 24 characters of base64 encoding 16 random bytes.
 *
 * @example
 * ```ts
 * import { generateKey } from "@wsc/websocket-channel/engine";
 * import { isValidKey } from "./accept_key.ts";
 *
 * console.assert(isValidKey(generateKey()));
 * ```
 */
export function generateKey(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)));
}

function isBase64Char(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2b || c === 0x2f;
}

/**
 * Whether `key` is a valid `Sec-WebSocket-Key`: canonical base64 of exactly
 * 16 bytes (RFC 6455 §4.2.1 item 5), i.e. 22 base64 characters then `==`.
 *
 * @param key The header value (a combined value of repeated headers fails).
 * @returns `true` when the key decodes to exactly 16 bytes.
 *
 * @example
 * ```ts
 * import { isValidKey } from "./accept_key.ts";
 *
 * console.assert(isValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
 * console.assert(!isValidKey("dGhlIHNhbXBsZSBub25jZQ")); // padding missing
 * ```
 */
export function isValidKey(key: string): boolean {
  if (key.length !== 24 || key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) {
    return false;
  }
  for (let i = 0; i < 22; i++) {
    if (!isBase64Char(key.charCodeAt(i))) return false;
  }
  // Like `atob`, we ignore the 4 spare bits of the 22nd character: every
  // encoder zeroes them, and they carry no data either way.
  return true;
}
