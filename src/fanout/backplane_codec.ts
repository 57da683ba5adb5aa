/**
 * The bytes one {@linkcode BackplaneMessage} travels as between processes,
 * shared by every backplane so that Redis and NATS carry the same layout:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 1 | format version, `1` |
 * | 1 | 1 | kind: `1` text, `2` binary (the WebSocket opcodes) |
 * | 2 | 2 | origin length in bytes, unsigned big-endian |
 * | 4 | n | origin, UTF-8 |
 * | 4 + n | rest | payload: UTF-8 for text, as is for binary |
 *
 * The topic is not in the payload: the bus carries it as the channel or
 * subject name. A kind byte (instead of guessing from the bytes) keeps text
 * text and bytes bytes, and the version byte lets a later layout coexist with
 * this one during a rolling upgrade (a hub drops what it cannot read).
 *
 * @example
 * ```ts
 * import { decodeBackplaneMessage, encodeBackplaneMessage } from "./backplane_codec.ts";
 *
 * const bytes = encodeBackplaneMessage("hello", "hub-1");
 * const { data, origin } = decodeBackplaneMessage(bytes);
 * console.assert(data === "hello" && origin === "hub-1");
 * ```
 *
 * @module
 */
import { BackplaneError } from "./backplane.ts";

/** The format version written in byte 0; {@linkcode decodeBackplaneMessage} accepts only this one. */
export const BACKPLANE_FORMAT_VERSION = 1;

/** The largest origin id, in UTF-8 bytes, that fits the two-byte length field. */
export const MAX_ORIGIN_BYTES = 0xffff;

/** What {@linkcode decodeBackplaneMessage} returns: a {@linkcode BackplaneMessage} without its topic. */
export interface DecodedBackplaneMessage {
  /** The payload: a `string` for text, a `Uint8Array` for binary. */
  readonly data: string | Uint8Array;
  /** Id of the hub that published it. */
  readonly origin: string;
}

const KIND_TEXT = 1;
const KIND_BINARY = 2;
const HEADER_BYTES = 4;

const encoder = new TextEncoder();
// fatal: a payload that is not UTF-8 is someone else's message, not text to repair.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Encodes a payload and the id of the hub that published it.
 *
 * @param data The message: a `string` is sent as text, a `Uint8Array` as binary.
 * @param origin The publishing hub's id (at most {@linkcode MAX_ORIGIN_BYTES} UTF-8 bytes).
 * @returns A new byte array in the layout described in the module documentation.
 * @throws {RangeError} If the origin does not fit the length field.
 *
 * @example
 * ```ts
 * import { encodeBackplaneMessage } from "./backplane_codec.ts";
 *
 * const bytes = encodeBackplaneMessage(new Uint8Array([7]), "a");
 * console.assert(bytes.join() === "1,2,0,1,97,7");
 * ```
 */
export function encodeBackplaneMessage(data: string | Uint8Array, origin: string): Uint8Array {
  const originBytes = encoder.encode(origin);
  if (originBytes.byteLength > MAX_ORIGIN_BYTES) {
    throw new RangeError(
      `Cannot encode a backplane message: the origin id is ${originBytes.byteLength} bytes, the limit is ${MAX_ORIGIN_BYTES}`,
    );
  }
  const text = typeof data === "string";
  const payload = text ? encoder.encode(data) : data;
  const out = new Uint8Array(HEADER_BYTES + originBytes.byteLength + payload.byteLength);
  out[0] = BACKPLANE_FORMAT_VERSION;
  out[1] = text ? KIND_TEXT : KIND_BINARY;
  out[2] = originBytes.byteLength >>> 8;
  out[3] = originBytes.byteLength & 0xff;
  out.set(originBytes, HEADER_BYTES);
  out.set(payload, HEADER_BYTES + originBytes.byteLength);
  return out;
}

/**
 * Decodes bytes written by {@linkcode encodeBackplaneMessage}. A binary
 * payload is a view into `bytes` (no copy): the caller owns `bytes` and must
 * not reuse it while the message is in use.
 *
 * @param bytes One message as received from the bus.
 * @returns The payload and the origin id.
 * @throws {BackplaneError} `WS_BACKPLANE_BAD_MESSAGE` if the bytes are not a
 * message of this format (unknown version or kind, truncated, text that is
 * not UTF-8).
 *
 * @example
 * ```ts
 * import { BackplaneError } from "@wsc/websocket-channel/fanout";
 * import { decodeBackplaneMessage } from "./backplane_codec.ts";
 *
 * try {
 *   decodeBackplaneMessage(new TextEncoder().encode("not ours"));
 * } catch (error) {
 *   console.assert(error instanceof BackplaneError && error.code === "WS_BACKPLANE_BAD_MESSAGE");
 * }
 * ```
 */
export function decodeBackplaneMessage(bytes: Uint8Array): DecodedBackplaneMessage {
  if (bytes.byteLength < HEADER_BYTES) {
    throw bad(`${bytes.byteLength} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  }
  if (bytes[0] !== BACKPLANE_FORMAT_VERSION) {
    throw bad(`unknown format version ${bytes[0]} (this build reads ${BACKPLANE_FORMAT_VERSION})`);
  }
  const kind = bytes[1];
  if (kind !== KIND_TEXT && kind !== KIND_BINARY) throw bad(`unknown kind ${kind}`);
  const originEnd = HEADER_BYTES + ((bytes[2] << 8) | bytes[3]);
  if (originEnd > bytes.byteLength) {
    throw bad(`the origin id runs past the end (${originEnd} > ${bytes.byteLength} bytes)`);
  }
  let origin: string;
  let data: string | Uint8Array;
  try {
    origin = decoder.decode(bytes.subarray(HEADER_BYTES, originEnd));
    data = kind === KIND_TEXT
      ? decoder.decode(bytes.subarray(originEnd))
      : bytes.subarray(originEnd);
  } catch (cause) {
    throw bad("the origin id or the text payload is not valid UTF-8", cause);
  }
  return { data, origin };
}

function bad(why: string, cause?: unknown): BackplaneError {
  return new BackplaneError(
    "WS_BACKPLANE_BAD_MESSAGE",
    `Cannot decode a backplane message: ${why}`,
    cause === undefined ? undefined : { cause },
  );
}
