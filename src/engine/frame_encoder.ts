/**
 * Frame encoding (RFC 6455 §5.2): header with 7-, 16- or 64-bit payload
 * length, optional masking. Unmasked payloads are passed through by reference,
 * so a server sends a large message without copying it.
 *
 * @module
 */

import type { Frame } from "./frame.ts";
import { maskCopy, MaskKeyPool } from "./mask.ts";

/** Header plus payload of an encoded frame, to be written in this order. */
export interface EncodedFrame {
  /** 2–14 header bytes. */
  header: Uint8Array;
  /**
   * The payload as it goes on the wire. Unmasked: the caller's bytes, not
   * copied. Masked: a fresh buffer that directly follows `header` in memory.
   */
  payload: Uint8Array;
}

/** Options of {@linkcode encodeFrame}. */
export interface EncodeFrameOptions {
  /**
   * Mask the payload, as a client must (RFC 6455 §5.3). The key comes from
   * `maskKey`, or else from a pool of `crypto.getRandomValues` bytes.
   * @default {false}
   */
  mask?: boolean;
  /** A fixed 4-byte key (for test vectors); implies `mask`. */
  maskKey?: Uint8Array;
}

const defaultKeys = new MaskKeyPool();

/**
 * Length of the header for a payload of `length` bytes.
 *
 * @example
 * ```ts
 * import { frameHeaderSize } from "@wsc/websocket-channel/engine";
 *
 * console.assert(frameHeaderSize(125, false) === 2);
 * console.assert(frameHeaderSize(126, true) === 8);
 * console.assert(frameHeaderSize(65536, false) === 10);
 * ```
 */
export function frameHeaderSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `target` at `offset` (the hot-path form used by
 * the protocol). When `masked`, the MASK bit is set and the 4 key bytes are
 * left for the caller to fill at the end of the header.
 *
 * @returns The header length.
 *
 * @example
 * ```ts
 * import { writeFrameHeader } from "./frame_encoder.ts";
 *
 * const header = new Uint8Array(2);
 * writeFrameHeader(header, 0, { fin: true, rsv1: false, opcode: 0x1, length: 5, masked: false });
 * console.assert(header[0] === 0x81 && header[1] === 0x05);
 * ```
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  header: { fin: boolean; rsv1: boolean; opcode: number; length: number; masked: boolean },
): number {
  const { length } = header;
  if (!(length >= 0 && length <= Number.MAX_SAFE_INTEGER && Number.isInteger(length))) {
    throw new RangeError(`Cannot encode frame: invalid payload length ${length}`);
  }
  target[offset] = (header.fin ? 0x80 : 0) | (header.rsv1 ? 0x40 : 0) | header.opcode;
  const maskBit = header.masked ? 0x80 : 0;
  // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
  if (length < 126) {
    target[offset + 1] = maskBit | length;
    return header.masked ? 6 : 2;
  }
  if (length < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = length >>> 8;
    target[offset + 3] = length & 0xff;
    return header.masked ? 8 : 4;
  }
  target[offset + 1] = maskBit | 127;
  // RFC 6455 §5.2: "the most significant bit MUST be 0"; lengths ≤ 2^53 − 1 guarantee it.
  const high = Math.floor(length / 0x100000000);
  const low = length >>> 0;
  target[offset + 2] = high >>> 24;
  target[offset + 3] = (high >>> 16) & 0xff;
  target[offset + 4] = (high >>> 8) & 0xff;
  target[offset + 5] = high & 0xff;
  target[offset + 6] = low >>> 24;
  target[offset + 7] = (low >>> 16) & 0xff;
  target[offset + 8] = (low >>> 8) & 0xff;
  target[offset + 9] = low & 0xff;
  return header.masked ? 14 : 10;
}

/**
 * Encodes one frame. The caller's payload is never modified: masking writes
 * into a new buffer (RFC 6455 §10.3 wants the payload unmodifiable once the
 * frame starts going out, so masking the caller's memory in place is unsafe).
 *
 * @param frame The frame to encode; `payload` is unmasked application data.
 * @param options Masking.
 * @returns Header and payload, in wire order.
 *
 * @example RFC 6455 §5.7 unmasked "Hello"
 * ```ts
 * import { encodeFrame } from "@wsc/websocket-channel/engine";
 *
 * const { header, payload } = encodeFrame({
 *   fin: true,
 *   rsv1: false,
 *   opcode: 0x1,
 *   payload: new TextEncoder().encode("Hello"),
 * });
 * console.assert(header[0] === 0x81 && header[1] === 0x05 && payload.length === 5);
 * ```
 */
export function encodeFrame(frame: Frame, options: EncodeFrameOptions = {}): EncodedFrame {
  const { payload } = frame;
  const masked = options.mask === true || options.maskKey !== undefined;
  const fields = {
    fin: frame.fin,
    rsv1: frame.rsv1,
    opcode: frame.opcode,
    length: payload.length,
    masked,
  };
  if (!masked) {
    const header = new Uint8Array(frameHeaderSize(payload.length, false));
    writeFrameHeader(header, 0, fields);
    return { header, payload };
  }
  const headerSize = frameHeaderSize(payload.length, true);
  const bytes = new Uint8Array(headerSize + payload.length);
  writeFrameHeader(bytes, 0, fields);
  if (options.maskKey !== undefined) {
    if (options.maskKey.length !== 4) throw new RangeError("Cannot mask: key must be 4 bytes");
    bytes.set(options.maskKey, headerSize - 4);
  } else {
    defaultKeys.fill(bytes, headerSize - 4);
  }
  maskCopy(payload, bytes, headerSize, bytes, headerSize - 4, 0);
  return { header: bytes.subarray(0, headerSize), payload: bytes.subarray(headerSize) };
}
