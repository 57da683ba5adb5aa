/**
 * The user-facing `compression` option and its validation.
 *
 * @module
 */

import { optionValues } from "../_util/option_values.ts";
import type { DeflateCodec } from "./deflate_codec.ts";

/**
 * permessage-deflate settings (RFC 7692). Every field is optional.
 *
 * Two compressors exist. On Node, Deno and Bun the server adapters and
 * `connect()` use `node:zlib` (`codec`): one deflate and one inflate stream
 * per connection, sync-flushed after each message, so both directions may
 * keep their context (as `ws` does) and every window size is honoured.
 * Elsewhere (browsers have their own compression; `fromStreams` without a
 * codec; `codec: null`) the platform `CompressionStream('deflate-raw')`
 * compresses each message in a fresh stream: it has no sync flush and no
 * window-size control, so our direction never keeps context and uses a
 * 15-bit window. The fields below shape what we ask of, or allow, the peer:
 *
 * | field | as client | as server |
 * |---|---|---|
 * | `serverNoContextTakeover` | request it in the first offer | with a codec: sent when `true`; without: always sent (a fresh stream per message keeps no context) |
 * | `clientNoContextTakeover` | with a codec: offered when `true`; without: always offered | with a codec: default `false` (the client may keep its context: a zlib inflater keeps the window for free); without: default `true`, tell the client to reset its context (RFC 7692 §7.1.1.2), because replaying a kept window costs about 2× the CPU per 1 KiB message |
 * | `serverMaxWindowBits` | request `server_max_window_bits=N` in the first offer | announce N (without a codec we then compress only messages ≤ 2^N bytes) |
 * | `clientMaxWindowBits` | offer `client_max_window_bits` (`true` = no value); a smaller agreed window limits compression to messages ≤ 2^N bytes without a codec | when the client offered the parameter, answer with N |
 *
 * Window sizes are 9–15: zlib cannot compress a raw-deflate stream with a
 * window of 8 (madler/zlib#171), so asking a peer for 8 breaks many peers.
 */
export interface CompressionOptions {
  /** Messages shorter than this many bytes are sent uncompressed. @default 1024 */
  threshold?: number;
  /** See the table above. @default false */
  serverNoContextTakeover?: boolean;
  /** See the table above. @default true (a server includes it in every response) */
  clientNoContextTakeover?: boolean;
  /** 9–15. See the table above. */
  serverMaxWindowBits?: number;
  /** 9–15, or `true` (client: offer the parameter without a value). See the table above. */
  clientMaxWindowBits?: number | boolean;
  /**
   * Maximum number of asynchronous (de)compressions (on zlib's thread pool,
   * in `CompressionStream`s) running at once in this process, over all
   * connections that use the same value (ws uses 10, ws#1202). Those the
   * codec runs on the calling thread go one at a time anyway.
   * @default 10
   */
  maxConcurrency?: number;
  /**
   * The raw-deflate codec: `node:zlib` by default on Node, Deno and Bun
   * (supplied by the adapters), `null` for the platform `CompressionStream`
   * (a fresh stream per message; the only choice where there is no codec).
   */
  codec?: DeflateCodec | null;
}

/** The `compression` option: `false`/absent (off), `true` (defaults) or settings. */
export type Compression = boolean | CompressionOptions;

/**
 * The names of {@linkcode CompressionOptions}: read wherever a settings
 * object has them (an instance of a class may inherit them), so a copy keeps
 * them all.
 */
const COMPRESSION_KEYS = [
  "threshold",
  "serverNoContextTakeover",
  "clientNoContextTakeover",
  "serverMaxWindowBits",
  "clientMaxWindowBits",
  "maxConcurrency",
  "codec",
] as const;

/** Fails to type-check when {@linkcode CompressionOptions} gains a field the list lacks. */
const _everyCompressionOption:
  Exclude<keyof CompressionOptions, typeof COMPRESSION_KEYS[number]> extends never ? true : never =
    true;

/** The settings as a plain object, each read once (see {@linkcode COMPRESSION_KEYS}). */
function settingsOf(options: CompressionOptions): CompressionOptions {
  return optionValues(options, COMPRESSION_KEYS, []);
}

/** Default {@linkcode CompressionOptions.threshold}: 1 KiB. */
export const DEFAULT_THRESHOLD = 1024;
/** Default {@linkcode CompressionOptions.maxConcurrency}. */
export const DEFAULT_MAX_CONCURRENCY = 10;

/**
 * Validates a `compression` option. Returns `null` when compression is off,
 * otherwise a copy with defaults applied for `threshold` and
 * `maxConcurrency`. Invalid values throw (`TypeError` / `RangeError`) so that
 * mistakes surface at configuration time, not during a handshake.
 *
 * @example
 * ```ts
 * import { resolveCompression } from "./compression_options.ts";
 *
 * console.assert(resolveCompression(false) === null);
 * console.assert(resolveCompression(true)?.threshold === 1024);
 * ```
 */
export function resolveCompression(
  value: Compression | undefined,
): CompressionOptions & { threshold: number; maxConcurrency: number } | null {
  if (value === undefined || value === false) return null;
  checkKind(value);
  // Read once into a plain object: the values checked are the values kept.
  const options = value === true ? {} : settingsOf(value);
  return { ...options, ...checkSettings(options) };
}

/**
 * Throws as {@linkcode resolveCompression} does for an invalid `compression`
 * option, without copying it: the check where the settings are not kept
 * (the browser's own compression, whose `connect()` still refuses a bad
 * value at the call).
 *
 * @param value The `compression` option.
 *
 * @example
 * ```ts
 * import { checkCompression } from "./compression_options.ts";
 *
 * checkCompression({ threshold: 0 });
 * try {
 *   checkCompression({ serverMaxWindowBits: 8 });
 * } catch (error) {
 *   console.assert(error instanceof RangeError);
 * }
 * ```
 */
export function checkCompression(value: Compression | undefined): void {
  if (value === undefined || value === false) return;
  checkKind(value);
  if (value !== true) checkSettings(value);
}

function checkKind(value: Compression): void {
  if (value !== true && (typeof value !== "object" || value === null)) {
    throw new TypeError("compression must be a boolean or an options object");
  }
}

/** Validates `options`; returns `threshold` and `maxConcurrency` with their defaults. */
function checkSettings(options: CompressionOptions): { threshold: number; maxConcurrency: number } {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  if (!Number.isFinite(threshold) || threshold < 0) {
    throw new RangeError(`compression.threshold must be a non-negative number, got ${threshold}`);
  }
  const maxConcurrency = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new RangeError(
      `compression.maxConcurrency must be a positive integer, got ${maxConcurrency}`,
    );
  }
  const codec = options.codec;
  if (
    codec !== undefined && codec !== null &&
    (typeof codec !== "object" || typeof codec.deflater !== "function" ||
      typeof codec.inflater !== "function")
  ) {
    throw new TypeError("compression.codec must have deflater() and inflater(), or be null");
  }
  checkBits("serverMaxWindowBits", options.serverMaxWindowBits, false);
  checkBits("clientMaxWindowBits", options.clientMaxWindowBits, true);
  return { threshold, maxConcurrency };
}

function checkBits(name: string, bits: unknown, allowBoolean: boolean): void {
  if (bits === undefined) return;
  if (allowBoolean && typeof bits === "boolean") return;
  if (typeof bits !== "number" || !Number.isInteger(bits) || bits < 9 || bits > 15) {
    throw new RangeError(
      `compression.${name} must be an integer from 9 to 15, got ${String(bits)}`,
    );
  }
}

/**
 * A `compression` option with `codec` filled in when the caller chose none
 * (an explicit `codec: null` keeps `CompressionStream`); off stays off.
 *
 * @example
 * ```ts
 * import { withCodec } from "./compression_options.ts";
 * import type { DeflateCodec } from "@wsc/websocket-channel/engine";
 *
 * const codec = { deflater: () => ({}), inflater: () => ({}) } as unknown as DeflateCodec;
 * console.assert((withCodec(true, codec) as { codec: unknown }).codec === codec);
 * console.assert(withCodec(false, codec) === false);
 * console.assert((withCodec({ codec: null }, codec) as { codec: unknown }).codec === null);
 * ```
 */
export function withCodec(
  compression: Compression | undefined,
  codec: DeflateCodec,
): Compression | undefined {
  if (compression === undefined || compression === false) return compression;
  if (compression === true) return { codec };
  if (typeof compression !== "object" || compression === null) return compression;
  const options = settingsOf(compression);
  return options.codec !== undefined ? options : { ...options, codec };
}
