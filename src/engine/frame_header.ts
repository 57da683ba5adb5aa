/**
 * The rules of a frame header (RFC 6455 §5.2, RFC 7692 §6.1), checked
 * before any length is trusted or any payload byte is buffered.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";
import { isKnownOpcode } from "./opcode.ts";

function fail(code: string, message: string, closeCode = 1002): never {
  throw new ProtocolError(code, message, closeCode);
}

/**
 * Checks everything a frame's first two bytes decide, in the order that
 * matters for hostile input: no length is trusted until opcode and flags
 * passed (Jetty CVE-2026-19204 allocated before validating the opcode).
 *
 * @param b0 The first byte (FIN, RSV, opcode).
 * @param b1 The second byte (MASK, 7-bit length).
 * @param allowRsv1 permessage-deflate was negotiated.
 * @param expectMasked The peer is a client (its frames must be masked).
 * @returns The header's size in bytes (2 to 14).
 * @throws {ProtocolError} On the first rule broken.
 *
 * @example
 * ```ts
 * import { checkHeaderStart } from "./frame_header.ts";
 *
 * console.assert(checkHeaderStart(0x81, 0x85, false, true) === 6); // masked text, 5 bytes
 * ```
 */
export function checkHeaderStart(
  b0: number,
  b1: number,
  allowRsv1: boolean,
  expectMasked: boolean,
): number {
  const opcode = b0 & 0x0f;
  // RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail_".
  if (!isKnownOpcode(opcode)) fail("WS_INVALID_OPCODE", `Invalid opcode ${opcode}`);
  // RFC 6455 §5.2: RSV bits "MUST be 0 unless an extension is negotiated that defines meanings".
  if ((b0 & 0x30) !== 0) fail("WS_INVALID_RSV", "RSV2 and RSV3 must be clear");
  if ((b0 & 0x40) !== 0) {
    // RFC 7692 §6.1: RSV1 only on the first frame of a data message.
    if (!allowRsv1 || opcode === 0 || opcode >= 0x8) {
      fail("WS_INVALID_RSV", `RSV1 must be clear on this frame (opcode ${opcode})`);
    }
  }
  const length7 = b1 & 0x7f;
  if (opcode >= 0x8) {
    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less
    // and MUST NOT be fragmented."
    if ((b0 & 0x80) === 0) {
      fail("WS_FRAGMENTED_CONTROL_FRAME", "Control frames must not be fragmented");
    }
    if (length7 > 125) {
      fail("WS_CONTROL_FRAME_TOO_LONG", "Control frame payload exceeds 125 bytes");
    }
  }
  const masked = (b1 & 0x80) !== 0;
  if (masked !== expectMasked) {
    // RFC 6455 §5.1: the server "MUST close the connection upon receiving a frame that is
    // not masked"; the client "MUST close a connection if it detects a masked frame".
    if (masked) fail("WS_UNEXPECTED_MASK", "Frames from a server must not be masked");
    fail("WS_MASK_REQUIRED", "Frames from a client must be masked");
  }
  const base = length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Reads a frame's payload length (RFC 6455 §5.2) from a header at `offset`
 * whose first two bytes passed {@linkcode checkHeaderStart}.
 *
 * @param bytes The header's bytes.
 * @param offset Where the header starts.
 * @param maxPayloadLength The limit (1009 past it).
 * @returns The length.
 * @throws {ProtocolError} For a 64-bit length with its top bit set, past
 * 2^53 − 1, or past the limit.
 *
 * @example
 * ```ts
 * import { readPayloadLength } from "./frame_header.ts";
 *
 * console.assert(readPayloadLength(new Uint8Array([0x82, 126, 0x01, 0x00]), 0, 1 << 20) === 256);
 * ```
 */
export function readPayloadLength(
  bytes: Uint8Array,
  offset: number,
  maxPayloadLength: number,
): number {
  let length = bytes[offset + 1] & 0x7f;
  const p = offset + 2;
  if (length === 126) {
    // Non-minimal encodings are accepted, as ws and python-websockets do (documented choice).
    length = (bytes[p] << 8) | bytes[p + 1];
  } else if (length === 127) {
    const high = ((bytes[p] << 24) | (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3]) >>>
      0;
    const low =
      ((bytes[p + 4] << 24) | (bytes[p + 5] << 16) | (bytes[p + 6] << 8) | bytes[p + 7]) >>>
      0;
    // RFC 6455 §5.2: "the most significant bit MUST be 0".
    if (high >= 0x80000000) {
      fail("WS_INVALID_PAYLOAD_LENGTH", "64-bit length has its top bit set");
    }
    if (high > 0x1fffff) {
      fail("WS_UNSUPPORTED_PAYLOAD_LENGTH", "Payload length exceeds 2^53 - 1", 1009);
    }
    length = high * 0x100000000 + low;
  }
  // RFC 6455 §10.4: implementations "MUST protect themselves against exceeding those limits".
  if (length > maxPayloadLength) {
    fail("WS_MESSAGE_TOO_BIG", `Frame payload of ${length} bytes exceeds the limit`, 1009);
  }
  return length;
}
