/**
 * The bytes a {@linkcode Protocol} (protocol.ts) owes its peer: frames encoded
 * by the frame encoder, kept in wire order until taken, with automatic pongs
 * bounded (RFC 6455 §5.5.3).
 *
 * @module
 */

import { encodeFrameTo } from "./frame_encoder.ts";
import { Opcode } from "./opcode.ts";

/**
 * Automatic pongs kept in the outgoing bytes until they are taken; past this,
 * the pong for a newer ping replaces the latest one still waiting (RFC 6455
 * §5.5.3), so a peer that floods pings and does not read costs at most this
 * many queued pongs. Pings that arrive together (Autobahn 2.10 sends ten) are
 * all answered.
 *
 * @example
 * ```ts
 * import { MAX_PENDING_PONGS } from "./outgoing_frames.ts";
 *
 * console.assert(MAX_PENDING_PONGS === 16);
 * ```
 */
export const MAX_PENDING_PONGS = 16;

/**
 * The outgoing byte queue of one connection: encodes frames (masked for a
 * client) and hands them out in order.
 *
 * @example
 * ```ts
 * import { OutgoingFrames } from "./outgoing_frames.ts";
 *
 * const out = new OutgoingFrames(false, undefined);
 * out.frame(0x1, new Uint8Array([0x68, 0x69]), false);
 * console.assert(out.bytes === 4);
 * const [frame] = out.take();
 * console.assert(frame[0] === 0x81 && frame[1] === 2 && out.take().length === 0);
 * ```
 */
export class OutgoingFrames {
  readonly #masked: boolean;
  readonly #fillMask: ((key: Uint8Array) => void) | undefined;
  readonly #copyLimit: number | undefined;
  #buffers: Uint8Array[] = [];
  #bytes = 0;
  // Automatic pongs in #buffers not taken yet, and the index of the latest of them.
  #pendingPongs = 0;
  #lastPongAt = -1;

  /**
   * @param masked Mask every frame (the client role).
   * @param fillMask Fills each 4-byte key; by default from the shared pool.
   * @param copyLimit Unmasked payloads up to this length are copied next to
   * their header (see {@linkcode encodeFrameTo}; 1 KiB if undefined).
   */
  constructor(
    masked: boolean,
    fillMask: ((key: Uint8Array) => void) | undefined,
    copyLimit?: number,
  ) {
    this.#masked = masked;
    this.#fillMask = fillMask;
    this.#copyLimit = copyLimit;
  }

  /** Bytes queued and not taken yet. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues one final frame.
   *
   * @param opcode The frame's opcode.
   * @param payload The unmasked payload; large unmasked ones are queued by reference.
   * @param rsv1 Set RSV1.
   */
  frame(opcode: Opcode, payload: Uint8Array, rsv1: boolean): void {
    this.#bytes += encodeFrameTo(
      this.#buffers,
      opcode,
      payload,
      rsv1,
      this.#masked,
      this.#fillMask,
      this.#copyLimit,
    );
  }

  /**
   * Queues a ping or an application's pong.
   *
   * @param opcode `Opcode.ping` or `Opcode.pong`.
   * @param data Application data.
   * @throws {TypeError} If `data` is not a `Uint8Array`.
   * @throws {RangeError} If it is longer than 125 bytes.
   */
  control(opcode: Opcode, data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError("Cannot send control frame: data must be a Uint8Array");
    }
    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less".
    if (data.length > 125) {
      throw new RangeError("Cannot send control frame: payload exceeds 125 bytes");
    }
    this.frame(opcode, data, false);
  }

  /**
   * Queues bytes that are already frames, by reference.
   *
   * @param bytes Complete frames.
   * @throws {TypeError} On the client side (each frame needs a fresh mask,
   * RFC 6455 §5.3), or if `bytes` is not a `Uint8Array`.
   */
  encoded(bytes: Uint8Array): void {
    if (this.#masked) {
      throw new TypeError(
        "Cannot send pre-encoded frames as a client: each frame needs its own mask",
      );
    }
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError("Cannot send pre-encoded frames: frames must be a Uint8Array");
    }
    this.#buffers.push(bytes);
    this.#bytes += bytes.length;
  }

  /**
   * Queues the automatic pong for a ping, keeping at most
   * {@linkcode MAX_PENDING_PONGS} of them until the next {@linkcode take}.
   *
   * @param payload The ping's application data (at most 125 bytes).
   */
  pong(payload: Uint8Array): void {
    // A control frame (at most 125 bytes of payload) is always queued as exactly one buffer.
    this.frame(Opcode.pong, payload, false);
    const buffers = this.#buffers;
    if (this.#pendingPongs < MAX_PENDING_PONGS) {
      this.#pendingPongs++;
      this.#lastPongAt = buffers.length - 1;
      return;
    }
    // RFC 6455 §5.5.3: "If an endpoint receives a Ping frame and has not yet sent Pong frame(s) in
    // response to previous Ping frame(s), the endpoint MAY elect to send a Pong frame for only the
    // most recently processed Ping frame." The newer pong takes the place of the latest waiting
    // one, so it leaves when that one would have and data frames keep their order.
    const fresh = buffers.pop()!;
    const at = this.#lastPongAt;
    this.#bytes -= buffers[at].length;
    buffers[at] = fresh;
  }

  /**
   * Takes the queued buffers, in order.
   *
   * @returns The buffers (empty when none).
   */
  take(): Uint8Array[] {
    const out = this.#buffers;
    this.#buffers = [];
    this.#bytes = 0;
    this.#pendingPongs = 0;
    this.#lastPongAt = -1;
    return out;
  }
}
