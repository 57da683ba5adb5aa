/**
 * Frame encoding (RFC 6455 §5.2): header with 7-, 16- or 64-bit payload
 * length, optional masking. Unmasked payloads are passed through by reference,
 * so a server sends a large message without copying it. The one encoder of
 * the engine: {@linkcode encodeFrame} for callers, {@linkcode encodeFrameTo}
 * for the protocol's send path.
 *
 * @module
 */

import type { Frame } from "./frame.ts";
import { KERNEL_MASK_THRESHOLD, maskCopy, MaskKeyPool } from "./mask.ts";
import { allocatePayload, PAYLOAD_ALLOCATOR_THRESHOLD, plainBytes } from "./payload_memory.ts";

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

// One pool for every connection of the process: a per-connection pool cost
// 8 KiB each (even for servers, which never mask). Every key is still fresh
// CSPRNG output used once (RFC 6455 §10.3); only the refill calls are shared.
const sharedKeys = new MaskKeyPool();

// Unmasked payloads up to this size are copied next to their header by
// encodeFrameTo (unless its caller says otherwise), so small frames leave as
// one buffer; larger ones are passed by reference.
const COPY_THRESHOLD = 1024;

// Frames up to SLAB_FRAME_LIMIT bytes are carved from a shared slab instead of
// getting an ArrayBuffer each, as Node's Buffer pool does: allocating (and
// zero-filling) a buffer per small frame was the largest cost of encoding
// 1 KiB frames (bench/engine.ts). Outgoing views may therefore share
// an ArrayBuffer: callers must not transfer or detach them.
const SLAB_SIZE = 64 * 1024;
const SLAB_FRAME_LIMIT = 4096;
let slab = new Uint8Array(SLAB_SIZE);
let slabOffset = 0;

function allocateFrame(size: number): Uint8Array {
  // Every byte is written (header, key, masked payload): no need to zero-fill a large one.
  if (size > SLAB_FRAME_LIMIT) return allocatePayload(size);
  if (slabOffset + size > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabOffset = 0;
  }
  const view = slab.subarray(slabOffset, slabOffset + size);
  // Keep frames 8-byte aligned so masking finds word boundaries at the same place.
  slabOffset = (slabOffset + size + 7) & ~7;
  return view;
}

/**
 * From this length on a payload is measured by its own bytes ({@linkcode plainBytes})
 * before it is encoded: it may go to the masking kernel, into an unzeroed
 * buffer, or to the transport by reference. A shorter one claiming more bytes
 * than it holds is copied into zero-filled memory of its claimed size, or
 * fails to fit; either way nothing old goes out.
 */
const MEASURED_FROM = Math.min(KERNEL_MASK_THRESHOLD, PAYLOAD_ALLOCATOR_THRESHOLD);

/**
 * The key `fillMask` gives, taken before the frame is measured or allocated:
 * the caller's function runs first and sees neither the frame nor what its
 * memory held before.
 */
function keyFrom(fillMask: (key: Uint8Array) => void): Uint8Array {
  const key = new Uint8Array(4);
  fillMask(key);
  return key;
}

// Writes the key at the end of the header in `bytes` (the caller's, or else
// from the shared pool) and masks `payload` into `bytes` after it. Masking into
// our own buffer leaves the caller's bytes untouched.
function maskInto(
  bytes: Uint8Array,
  headerSize: number,
  payload: Uint8Array,
  key: Uint8Array | undefined,
): void {
  const keyAt = headerSize - 4;
  if (key === undefined) {
    sharedKeys.fill(bytes, keyAt);
  } else {
    // Byte by byte: all four are written even if the key's buffer was taken away.
    bytes[keyAt] = key[0];
    bytes[keyAt + 1] = key[1];
    bytes[keyAt + 2] = key[2];
    bytes[keyAt + 3] = key[3];
  }
  maskCopy(payload, bytes, headerSize, bytes, keyAt, 0);
}

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
  const first = (header.fin ? 0x80 : 0) | (header.rsv1 ? 0x40 : 0) | header.opcode;
  return putHeader(target, offset, first, header.length, header.masked);
}

/**
 * {@linkcode writeFrameHeader} with the first byte (FIN, RSV1, opcode)
 * already put together: the send path's form, which makes no object per frame.
 */
function putHeader(
  target: Uint8Array,
  offset: number,
  first: number,
  length: number,
  masked: boolean,
): number {
  if (!(length >= 0 && length <= Number.MAX_SAFE_INTEGER && Number.isInteger(length))) {
    throw new RangeError(`Cannot encode frame: invalid payload length ${length}`);
  }
  target[offset] = first;
  const maskBit = masked ? 0x80 : 0;
  // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
  if (length < 126) {
    target[offset + 1] = maskBit | length;
    return masked ? 6 : 2;
  }
  if (length < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = length >>> 8;
    target[offset + 3] = length & 0xff;
    return masked ? 8 : 4;
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
  return masked ? 14 : 10;
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
  const masked = options.mask === true || options.maskKey !== undefined;
  const { maskKey } = options;
  if (maskKey !== undefined && maskKey.length !== 4) {
    throw new RangeError("Cannot mask: key must be 4 bytes");
  }
  const payload = plainBytes(frame.payload);
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
  const bytes = allocatePayload(headerSize + payload.length);
  writeFrameHeader(bytes, 0, fields);
  maskInto(bytes, headerSize, payload, maskKey);
  return { header: bytes.subarray(0, headerSize), payload: bytes.subarray(headerSize) };
}

/**
 * Encodes one final (FIN) frame and appends its bytes to `out`: the protocol's
 * send path. Small frames are carved from a shared slab, so the appended views
 * may share an ArrayBuffer (never transfer or detach them). A masked frame, or
 * an unmasked one of up to `copyLimit` bytes, is one buffer; a larger unmasked
 * payload is appended by reference after its header.
 *
 * @param out Where the frame's buffers are appended, in wire order.
 * @param opcode The frame's opcode.
 * @param payload The unmasked payload; never modified.
 * @param rsv1 Set RSV1 (a permessage-deflate payload).
 * @param masked Mask the payload (RFC 6455 §5.3: every client frame, with a fresh key).
 * @param fillMask Fills the 4-byte key; by default drawn from a pool of
 * `crypto.getRandomValues` bytes.
 * @param copyLimit An unmasked payload of up to this many bytes is copied
 * next to its header (one buffer); a longer one is appended by reference.
 * @returns The number of bytes appended.
 *
 * @example
 * ```ts
 * import { encodeFrameTo } from "./frame_encoder.ts";
 *
 * const out: Uint8Array[] = [];
 * const size = encodeFrameTo(out, 0x1, new Uint8Array([0x68, 0x69]), false, false);
 * console.assert(size === 4 && out.length === 1 && out[0][0] === 0x81 && out[0][1] === 2);
 * ```
 */
export function encodeFrameTo(
  out: Uint8Array[],
  opcode: number,
  payload: Uint8Array,
  rsv1: boolean,
  masked: boolean,
  fillMask?: (key: Uint8Array) => void,
  copyLimit = COPY_THRESHOLD,
): number {
  // The caller's function first, so that what it does to the payload is measured.
  const key = masked && fillMask !== undefined ? keyFrom(fillMask) : undefined;
  if (payload.length >= MEASURED_FROM || payload.length > copyLimit) payload = plainBytes(payload);
  const length = payload.length;
  const first = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  const headerSize = frameHeaderSize(length, masked);
  if (masked) {
    const bytes = allocateFrame(headerSize + length);
    putHeader(bytes, 0, first, length, true);
    maskInto(bytes, headerSize, payload, key);
    out.push(bytes);
  } else if (length <= copyLimit) {
    const bytes = allocateFrame(headerSize + length);
    putHeader(bytes, 0, first, length, false);
    bytes.set(payload, headerSize);
    out.push(bytes);
  } else {
    const header = allocateFrame(headerSize);
    putHeader(header, 0, first, length, false);
    out.push(header, payload);
  }
  return headerSize + length;
}
