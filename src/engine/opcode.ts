/**
 * WebSocket frame opcodes (RFC 6455 §5.2, §11.8) and their classification.
 *
 * @module
 */

/**
 * The opcodes RFC 6455 defines. Every other value (3–7, 0xB–0xF) is reserved
 * and fails the connection with 1002.
 *
 * @example
 * ```ts
 * import { Opcode } from "@wsc/websocket-channel/engine";
 *
 * console.assert(Opcode.text === 0x1 && Opcode.close === 0x8);
 * ```
 */
export const Opcode = {
  /** Continues a fragmented data message. */
  continuation: 0x0,
  /** A UTF-8 text message (or its first fragment). */
  text: 0x1,
  /** A binary message (or its first fragment). */
  binary: 0x2,
  /** Starts or answers the closing handshake. */
  close: 0x8,
  /** Asks the peer for a pong. */
  ping: 0x9,
  /** Answers a ping, or a unidirectional heartbeat. */
  pong: 0xa,
} as const;

/** One of the values of {@linkcode Opcode}. */
export type Opcode = typeof Opcode[keyof typeof Opcode];

/**
 * Whether `opcode` is a control opcode (close, ping, pong). Control opcodes
 * have the most significant bit of the nibble set (RFC 6455 §5.5).
 *
 * @example
 * ```ts
 * import { isControlOpcode, Opcode } from "@wsc/websocket-channel/engine";
 *
 * console.assert(isControlOpcode(Opcode.ping));
 * console.assert(!isControlOpcode(Opcode.text));
 * ```
 */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/**
 * Whether `opcode` is one RFC 6455 defines (0, 1, 2, 8, 9, 10).
 *
 * @example
 * ```ts
 * import { isKnownOpcode } from "@wsc/websocket-channel/engine";
 *
 * console.assert(isKnownOpcode(0x2));
 * console.assert(!isKnownOpcode(0x3));
 * ```
 */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}
