/**
 * The decoded form of one WebSocket frame (RFC 6455 §5.2).
 *
 * @module
 */

import type { Opcode } from "./opcode.ts";

/**
 * Which end of the connection the engine plays. It decides the masking
 * direction: clients mask every frame, servers never do (RFC 6455 §5.1).
 *
 * @example
 * ```ts
 * import type { Role } from "@wsc/websocket-channel/engine";
 *
 * const role: Role = "server";
 * console.assert(role === "server");
 * ```
 */
export type Role = "client" | "server";

/**
 * One frame, header fields plus the unmasked payload. RSV2 and RSV3 have no
 * field: no extension we support defines them, so a frame carrying them never
 * gets decoded (1002) and is never encoded.
 *
 * @example
 * ```ts
 * import type { Frame } from "@wsc/websocket-channel/engine";
 * import { Opcode } from "@wsc/websocket-channel/engine";
 *
 * const frame: Frame = {
 *   fin: true,
 *   rsv1: false,
 *   opcode: Opcode.text,
 *   payload: new TextEncoder().encode("Hello"),
 * };
 * console.assert(frame.payload.length === 5);
 * ```
 */
export interface Frame {
  /** Last frame of its message; always `true` for control frames. */
  fin: boolean;
  /** RSV1, "Per-Message Compressed" under permessage-deflate (RFC 7692 §6). */
  rsv1: boolean;
  /** What the payload is; see {@linkcode Opcode}. */
  opcode: Opcode;
  /** Application data, already unmasked. */
  payload: Uint8Array;
}

/**
 * The header of a frame whose payload has not been read yet. The decoder
 * reports it before buffering any payload, so size and ordering rules can fail
 * the connection before memory is spent.
 *
 * @example
 * ```ts
 * import type { FrameHeader } from "@wsc/websocket-channel/engine";
 *
 * const header: FrameHeader = { fin: true, rsv1: false, opcode: 0x2, length: 1024, masked: true };
 * console.assert(header.length === 1024);
 * ```
 */
export interface FrameHeader {
  /** Last frame of its message. */
  fin: boolean;
  /** RSV1 bit. */
  rsv1: boolean;
  /** The frame's opcode (already checked to be a known one). */
  opcode: Opcode;
  /** Declared payload length in bytes (at most 2^53 − 1). */
  length: number;
  /** Whether the MASK bit was set. */
  masked: boolean;
}

/**
 * Builds a final, uncompressed frame.
 *
 * @param opcode The frame's opcode.
 * @param payload The unmasked payload (not copied).
 * @returns The frame.
 *
 * @example
 * ```ts
 * import { createFrame } from "@wsc/websocket-channel/engine";
 * import { Opcode } from "@wsc/websocket-channel/engine";
 *
 * const ping = createFrame(Opcode.ping, new Uint8Array([1, 2]));
 * console.assert(ping.fin && ping.payload.length === 2);
 * ```
 */
export function createFrame(opcode: Opcode, payload: Uint8Array = new Uint8Array(0)): Frame {
  return { fin: true, rsv1: false, opcode, payload };
}
