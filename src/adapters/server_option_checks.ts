/**
 * The checks that every server entry point runs on its options when
 * called, and the plain copy of them that it keeps.
 *
 * @module
 */
import { type Compression, resolveCompression } from "../deflate/compression_options.ts";
import { withZlibCodec } from "./zlib_codec.ts";
import { type AnswerPingMessages, pingAnswerer } from "../channel/ping_messages.ts";
import { checkNumberOption, checkTypeOption, MAX_TIMEOUT } from "../_util/option_checks.ts";
import { optionValues } from "../_util/option_values.ts";
import type { ServeOptions } from "./serve_options.ts";

/** The options that {@linkcode checkServerOptions} validates. */
export interface CheckedServerOptions {
  /** See {@linkcode ServeOptions.compression}. */
  compression?: Compression;
  /** See {@linkcode ServeOptions.handshakeTimeout}. */
  handshakeTimeout?: number;
  /** See {@linkcode ServeOptions.maxPendingHandshakes}. */
  maxPendingHandshakes?: number;
  /** See {@linkcode ServeOptions.requireOrigin}. */
  requireOrigin?: boolean;
  /** See {@linkcode ServeOptions.onUpgrade}. */
  onUpgrade?: unknown;
  /** See {@linkcode ServeOptions.onError}. */
  onError?: unknown;
  /** See {@linkcode ServeOptions.answerPingMessages}. */
  answerPingMessages?: AnswerPingMessages;
  /** See {@linkcode ServeOptions.maxMessageSize}. */
  maxMessageSize?: number;
  /** See {@linkcode ServeOptions.maxFragments}. */
  maxFragments?: number;
  /** See {@linkcode ServeOptions.idleTimeout}. */
  idleTimeout?: number;
  /** See {@linkcode ServeOptions.closeTimeout}. */
  closeTimeout?: number;
  /** See {@linkcode ServeOptions.port}. */
  port?: number;
  /** See {@linkcode ServeOptions.hostname}. */
  hostname?: string;
  /** See {@linkcode ServeOptions.onChannel}. */
  onChannel?: unknown;
}

/**
 * Validates the options once, when a server entry point is configured, so a
 * mistake throws there (`TypeError` for a wrong type, `RangeError` out of
 * range) instead of failing every handshake later: `compression`,
 * `handshakeTimeout` (milliseconds, more than 0, at most 2^31 − 1),
 * `maxPendingHandshakes` (an integer, at least 1, or `Infinity`),
 * `requireOrigin` (a boolean), `onUpgrade`, `onError` and `onChannel`
 * (functions), `answerPingMessages`, `maxMessageSize`, `maxFragments`,
 * `idleTimeout`, `closeTimeout`, `port`, `hostname`, and the
 * `readableHighWaterMark` / `writableHighWaterMark` that the engine servers
 * pass on to their channels (numbers, at least 0). Returns a copy of the
 * options ({@linkcode serverOptionValues}: inherited options included,
 * callbacks bound to the caller's object) with a validated copy of the compression
 * settings (`false` when off), so that changing the caller's object
 * afterwards cannot break handshakes either, with the `node:zlib` codec
 * filled in unless the caller chose a `codec` (or `null` for
 * `CompressionStream`).
 *
 * @example
 * ```ts
 * import { checkServerOptions } from "./server_option_checks.ts";
 *
 * const checked = checkServerOptions({ compression: true as boolean });
 * console.assert(checked.compression !== false);
 * try {
 *   checkServerOptions({ compression: { threshold: -1 } });
 * } catch (error) {
 *   console.assert(error instanceof RangeError);
 * }
 * try {
 *   checkServerOptions({ handshakeTimeout: 0 });
 * } catch (error) {
 *   console.assert(error instanceof RangeError);
 * }
 * ```
 */
export function checkServerOptions<T extends CheckedServerOptions>(options: T): T {
  checkTypeOption("options", options, "object");
  // Each option read once, and the values kept are the values checked.
  const copy = serverOptionValues(options);
  checkNumberOption("handshakeTimeout", copy.handshakeTimeout, { above: 0, max: MAX_TIMEOUT });
  checkNumberOption("maxPendingHandshakes", copy.maxPendingHandshakes, {
    min: 1,
    integer: true,
  });
  checkTypeOption("requireOrigin", copy.requireOrigin, "boolean");
  checkTypeOption("onUpgrade", copy.onUpgrade, "function");
  checkTypeOption("onError", copy.onError, "function");
  checkTypeOption("onChannel", copy.onChannel, "function");
  pingAnswerer(copy.answerPingMessages);
  checkNumberOption("maxMessageSize", copy.maxMessageSize, { min: 0 });
  checkNumberOption("maxFragments", copy.maxFragments, { min: 1, integer: true });
  checkNumberOption("idleTimeout", copy.idleTimeout, { min: 0, max: MAX_TIMEOUT / 1000 });
  checkNumberOption("closeTimeout", copy.closeTimeout, { above: 0, max: MAX_TIMEOUT });
  checkNumberOption("port", copy.port, { min: 0, max: 65535, integer: true });
  const passedOn = copy as { readableHighWaterMark?: unknown; writableHighWaterMark?: unknown };
  checkNumberOption("readableHighWaterMark", passedOn.readableHighWaterMark, { min: 0 });
  checkNumberOption("writableHighWaterMark", passedOn.writableHighWaterMark, { min: 0 });
  checkTypeOption("hostname", copy.hostname, "string");
  // The engine paths compress with node:zlib unless the caller chose a codec (or null).
  copy.compression = withZlibCodec(resolveCompression(copy.compression) ?? false);
  return copy;
}

/** Every option name of the server entry points (all runtimes). */
const SERVER_OPTION_KEYS = [
  "protocols",
  "origins",
  "requireOrigin",
  "onUpgrade",
  "onError",
  "maxMessageSize",
  "maxFragments",
  "idleTimeout",
  "closeTimeout",
  "compression",
  "channels",
  "answerPingMessages",
  "port",
  "hostname",
  "tls",
  "onChannel",
  "signal",
  "handshakeTimeout",
  "maxPendingHandshakes",
  // attach() and handleUpgrade() on Node; createBunHandler() and Deno's upgrade().
  "path",
  "maxQueuedBytes",
  "backpressureLimit",
  // Settings of fromStreams() that serverOverStreams() declares and the engine servers pass on.
  "readableHighWaterMark",
  "writableHighWaterMark",
] as const;
/** An option name that {@linkcode serverOptionValues} reads wherever the object has it. */
export type ServerOptionKey = typeof SERVER_OPTION_KEYS[number];

/**
 * `true` when every key of `Options` is a {@linkcode ServerOptionKey}, else
 * `never`: each entry point's options type is checked against the list
 * where it is declared, so an option added to it and not to the list fails
 * to type-check.
 */
export type ListsEveryOption<Options> = Exclude<keyof Options, ServerOptionKey> extends never ? true
  : never;

const _everyServeOption: ListsEveryOption<ServeOptions<unknown>> = true;

/** The options that are called: with the caller's object as `this`. */
const SERVER_CALLBACKS = ["onChannel", "onUpgrade", "onError", "protocols", "origins"];

/**
 * A server's options as a plain object ({@linkcode optionValues}): the
 * options a class instance inherits are kept by later copies, and its
 * callbacks keep the instance as `this`.
 *
 * @param options The options as the caller passed them.
 * @returns A new plain object.
 *
 * @example
 * ```ts
 * import { serverOptionValues } from "./server_option_checks.ts";
 *
 * class Options {
 *   readonly #name = "room";
 *   get port(): number {
 *     return 0;
 *   }
 *   onChannel(): string {
 *     return this.#name;
 *   }
 * }
 * const { port, onChannel } = serverOptionValues(new Options());
 * console.assert(port === 0 && onChannel() === "room");
 * ```
 */
export function serverOptionValues<T extends object>(options: T): T {
  return optionValues(options, SERVER_OPTION_KEYS, SERVER_CALLBACKS);
}
