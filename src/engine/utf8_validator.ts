/**
 * A streaming UTF-8 validator that rejects at the first byte that makes the
 * input invalid, keeping state across chunks and fragments (RFC 6455 §8.1;
 * Autobahn 6.4.x "fail fast").
 *
 * The protocol itself validates text with `TextDecoder({ fatal: true })` in
 * streaming mode, which also decodes, and which fails on the first invalid
 * byte on Deno, Bun and Node (checked in test/engine/utf8_validator_test.ts).
 * This class is for bytes that need checking without decoding, e.g. an
 * inflated message in the channel layer.
 *
 * @module
 */

/**
 * Incremental UTF-8 validator (Unicode 15 Table 3-7, well-formed byte
 * sequences: no overlongs, no surrogates, nothing above U+10FFFF).
 *
 * @example Fails as soon as the invalid piece arrives
 * ```ts
 * import { Utf8Validator } from "@wsc/websocket-channel/engine";
 *
 * const validator = new Utf8Validator();
 * console.assert(validator.write(new TextEncoder().encode("κόσμε")));
 * console.assert(!validator.write(new Uint8Array([0xf4, 0x90, 0x80, 0x80])));
 * ```
 *
 * @example A code point split across writes
 * ```ts
 * import { Utf8Validator } from "@wsc/websocket-channel/engine";
 *
 * const validator = new Utf8Validator();
 * validator.write(new Uint8Array([0xe2]));
 * validator.write(new Uint8Array([0x82, 0xac]));
 * console.assert(validator.end());
 * ```
 */
export class Utf8Validator {
  // Continuation bytes still expected, and the allowed range of the next one.
  #need = 0;
  #low = 0x80;
  #high = 0xbf;
  #invalid = false;

  /** Whether every byte written so far can start a valid sequence. */
  get valid(): boolean {
    return !this.#invalid;
  }

  /**
   * Validates the next piece of input.
   *
   * @param bytes The next bytes.
   * @returns `false` as soon as the input so far cannot be valid UTF-8.
   */
  write(bytes: Uint8Array): boolean {
    if (this.#invalid) return false;
    let need = this.#need;
    let low = this.#low;
    let high = this.#high;
    const length = bytes.length;
    for (let i = 0; i < length; i++) {
      const b = bytes[i];
      if (need === 0) {
        if (b < 0x80) continue;
        if (b < 0xc2) return this.#fail();
        if (b < 0xe0) {
          need = 1;
        } else if (b < 0xf0) {
          need = 2;
          // E0 needs A0..BF (no overlongs); ED needs 80..9F (no surrogates).
          if (b === 0xe0) low = 0xa0;
          else if (b === 0xed) high = 0x9f;
        } else if (b < 0xf5) {
          need = 3;
          // F0 needs 90..BF (no overlongs); F4 needs 80..8F (nothing above U+10FFFF).
          if (b === 0xf0) low = 0x90;
          else if (b === 0xf4) high = 0x8f;
        } else {
          return this.#fail();
        }
      } else {
        if (b < low || b > high) return this.#fail();
        low = 0x80;
        high = 0xbf;
        need--;
      }
    }
    this.#need = need;
    this.#low = low;
    this.#high = high;
    return true;
  }

  /**
   * Ends the input.
   *
   * @returns Whether the whole input was valid (no truncated sequence at the end).
   */
  end(): boolean {
    const ok = !this.#invalid && this.#need === 0;
    this.reset();
    return ok;
  }

  /** Forgets all state, to validate a new input. */
  reset(): void {
    this.#need = 0;
    this.#low = 0x80;
    this.#high = 0xbf;
    this.#invalid = false;
  }

  #fail(): false {
    this.#invalid = true;
    return false;
  }
}
