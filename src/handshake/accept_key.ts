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
 * Base64 (RFC 4648 §4, padded) of `bytes` into `codes` (the characters'
 * codes, `Math.ceil(bytes.length / 3) * 4` of them): no binary string for
 * `btoa`, no string per character, no array grown push by push.
 */
function base64Codes(bytes: Uint8Array, codes: Uint8Array): Uint8Array {
  for (let i = 0, o = 0; i < bytes.length; i += 3, o += 4) {
    const rest = bytes.length - i;
    const v = (bytes[i] << 16) | ((rest > 1 ? bytes[i + 1] : 0) << 8) |
      (rest > 2 ? bytes[i + 2] : 0);
    codes[o] = BASE64[v >> 18];
    codes[o + 1] = BASE64[(v >> 12) & 63];
    codes[o + 2] = rest > 1 ? BASE64[(v >> 6) & 63] : PAD;
    codes[o + 3] = rest > 2 ? BASE64[v & 63] : PAD;
  }
  return codes;
}

/** Base64 of a few bytes as a string. */
function toBase64(bytes: Uint8Array): string {
  const codes = base64Codes(bytes, new Uint8Array(Math.ceil(bytes.length / 3) * 4));
  return String.fromCharCode.apply(null, codes as unknown as number[]);
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
 * What {@linkcode signKeySync} works in, reused by every call (a handshake
 * allocates only the answer's string): the hashed bytes (a valid key's 24
 * ASCII characters, then the GUID), the digest and the base64 codes.
 */
const KEY_LENGTH = 24;
const SIGNED = encoder.encode("k".repeat(KEY_LENGTH) + GUID);
const DIGEST = new Uint8Array(20);
const ACCEPT_CODES = new Uint8Array(28);
const ASCII = new TextDecoder();

/**
 * {@linkcode signKey} on the calling thread, with the SHA-1 below instead of
 * `crypto.subtle`: what a server's handshake uses. `crypto.subtle.digest` is
 * asynchronous (on Node it runs on the libuv thread pool) and allocates its
 * WebCrypto job; hashing these 60 bytes here takes a few microseconds, keeps
 * the handshake in one turn of the event loop, and left an idle Node server
 * about 1.1 KiB less RSS per connection (3,000 connections). The client's
 * handshake keeps `signKey`, so each side checks the other's implementation.
 *
 * @param key The client's `Sec-WebSocket-Key` exactly as sent.
 * @returns The `Sec-WebSocket-Accept` value.
 *
 * @example
 * ```ts
 * import { signKeySync } from "./accept_key.ts";
 *
 * console.assert(signKeySync("dGhlIHNhbXBsZSBub25jZQ==") === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export function signKeySync(key: string): string {
  sha1Into(copiedKey(key) ? SIGNED : encoder.encode(key + GUID), DIGEST);
  return ASCII.decode(base64Codes(DIGEST, ACCEPT_CODES));
}

/** Whether `key` has the 24 ASCII characters of a valid key, then copied into `SIGNED`. */
function copiedKey(key: string): boolean {
  if (key.length !== KEY_LENGTH) return false;
  for (let i = 0; i < KEY_LENGTH; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return false;
    SIGNED[i] = c;
  }
  return true;
}

/** The message schedule of {@linkcode sha1}, reused by every call. */
const SCHEDULE = new Uint32Array(80);

/**
 * SHA-1 (FIPS 180-4 §6.1) of `message`: only for `Sec-WebSocket-Accept`,
 * which RFC 6455 defines with it (no security rests on it there).
 *
 * @param message The bytes to hash.
 * @returns The 20-byte digest.
 *
 * @example The FIPS 180-4 example "abc"
 * ```ts
 * import { sha1 } from "./accept_key.ts";
 *
 * const digest = sha1(new TextEncoder().encode("abc"));
 * const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
 * console.assert(hex === "a9993e364706816aba3e25717850c26c9cd0d89d");
 * ```
 */
export function sha1(message: Uint8Array): Uint8Array {
  return sha1Into(message, new Uint8Array(20));
}

/** {@linkcode sha1} of `message` written into the 20 bytes of `digest`. */
function sha1Into(message: Uint8Array, digest: Uint8Array): Uint8Array {
  const length = message.length;
  // §5.1.1: the message, a 1 bit, zeros, and the length in bits as 64 bits, in 64-byte blocks.
  const blocks = Math.floor((length + 8) / 64) + 1;
  const w = SCHEDULE;
  let h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0;
  for (let block = 0; block < blocks; block++) {
    const start = block * 64;
    for (let t = 0; t < 16; t++) {
      let word = 0;
      for (let i = start + t * 4, end = i + 4; i < end; i++) {
        word = (word << 8) | (i < length ? message[i] : i === length ? 0x80 : 0);
      }
      w[t] = word;
    }
    if (block === blocks - 1) {
      w[14] = Math.floor(length / 0x20000000);
      w[15] = length * 8;
    }
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let t = 0; t < 80; t++) {
      const f = t < 20
        ? ((b & c) | (~b & d)) + 0x5a827999
        : t < 40
        ? (b ^ c ^ d) + 0x6ed9eba1
        : t < 60
        ? ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc
        : (b ^ c ^ d) + 0xca62c1d6;
      const next = (((a << 5) | (a >>> 27)) + f + e + w[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = next;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  putWord(digest, 0, h0);
  putWord(digest, 4, h1);
  putWord(digest, 8, h2);
  putWord(digest, 12, h3);
  putWord(digest, 16, h4);
  return digest;
}

/** `word` big-endian at `at` (a `Uint8Array` keeps the low 8 bits of each store). */
function putWord(out: Uint8Array, at: number, word: number): void {
  out[at] = word >>> 24;
  out[at + 1] = word >>> 16;
  out[at + 2] = word >>> 8;
  out[at + 3] = word;
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
