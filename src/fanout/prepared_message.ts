/**
 * One published message, encoded once for every subscriber: the unmasked
 * server frame, and (on first need) its permessage-deflate frame.
 *
 * @module
 */
import { frameHeaderSize, writeFrameHeader } from "../engine/frame_encoder.ts";
import { Opcode } from "../engine/opcode.ts";
import { compressMessageForm } from "../deflate/compress_message.ts";
import { sharedLimiter } from "../deflate/concurrency_limiter.ts";
import { DEFAULT_MAX_CONCURRENCY } from "../deflate/compression_options.ts";
import { compressOnce, type DeflateCodec } from "../deflate/deflate_codec.ts";

const encoder = new TextEncoder();

/** A compressed frame and the facts a connection needs to decide whether it may use it. */
export interface CompressedFrame {
  /** The whole frame (header with RSV1, then the RFC 7692 payload). */
  frame: Uint8Array;
  /** Length of the compressed payload. */
  length: number;
  /** The payload ends in a BFINAL block. */
  final: boolean;
}

/**
 * Frames one message for many server connections. Everything is computed on
 * first use and kept, so a publish to N subscribers encodes (and compresses)
 * once, not N times.
 *
 * @example
 * ```ts
 * import { PreparedMessage } from "./prepared_message.ts";
 *
 * const message = new PreparedMessage("hi");
 * console.assert(message.frame[0] === 0x81 && message.frame[1] === 2);
 * console.assert(message.frame === message.frame); // built once
 *
 * const bytes = new Uint8Array([1, 2]);
 * const binary = new PreparedMessage(bytes);
 * binary.own(); // copied into the frame
 * bytes.fill(0);
 * console.assert(binary.frame[2] === 1 && (binary.data as Uint8Array)[1] === 2);
 * ```
 */
export class PreparedMessage {
  /** Text (a string) or binary. */
  readonly text: boolean;
  #data: string | Uint8Array;
  #bytes: Uint8Array | undefined;
  #frame: Uint8Array | undefined;
  #compressed: Promise<CompressedFrame> | undefined;

  /**
   * @param data A string (a text message) or bytes (a binary message); never
   * modified, and read only until {@linkcode PreparedMessage.own} or the
   * first use of `frame`, which copy the payload into the frame.
   */
  constructor(data: string | Uint8Array) {
    this.#data = data;
    this.text = typeof data === "string";
  }

  /** The message: the string, or the payload bytes (the frame's copy once there is a frame). */
  get data(): string | Uint8Array {
    return this.#data;
  }

  /** The payload bytes (UTF-8 for text). */
  get bytes(): Uint8Array {
    return this.#bytes ??= typeof this.#data === "string" ? encoder.encode(this.#data) : this.#data;
  }

  /** Bytes of the message on the wire, uncompressed. */
  get size(): number {
    return this.frame.byteLength;
  }

  /** The uncompressed, unmasked frame. */
  get frame(): Uint8Array {
    if (this.#frame !== undefined) return this.#frame;
    const payload = this.bytes;
    const frame = this.#frame = encode(this.text ? Opcode.text : Opcode.binary, payload, false);
    if (!this.text) {
      // The frame holds a copy of the payload: from now on nothing reads the caller's buffer.
      this.#data = this.#bytes = frame.subarray(frame.byteLength - payload.byteLength);
    }
    return frame;
  }

  /**
   * Stops reading the bytes given to the constructor, for a message used
   * after its publisher may have refilled them: the frame (and its copy of
   * the payload) is built now if it was not. One copy, whoever uses the
   * message later.
   *
   * @returns {@linkcode PreparedMessage.data}, now the message's own.
   */
  own(): string | Uint8Array {
    if (!this.text) void this.frame;
    return this.#data;
  }

  /**
   * The permessage-deflate frame, compressed once in a fresh stream (no
   * context takeover): with `codec` when given, sync-flushed (RFC 7692
   * §7.2.1); otherwise with the platform `CompressionStream`, which ends the
   * payload in a final block on most runtimes (§7.2.3.4). The first call
   * decides. Reads `bytes` after this returns: {@linkcode PreparedMessage.own}
   * first when the publisher's buffer may change meanwhile.
   */
  compressed(codec?: DeflateCodec | null): Promise<CompressedFrame> {
    return this.#compressed ??= sharedLimiter(DEFAULT_MAX_CONCURRENCY).run(async () => {
      const { payload, final } = codec
        ? { payload: await compressOnce(codec, this.bytes), final: false }
        : await compressMessageForm(this.bytes);
      return {
        frame: encode(this.text ? Opcode.text : Opcode.binary, payload, true),
        length: payload.byteLength,
        final,
      };
    });
  }
}

/** One buffer holding header and payload: each subscriber gets one write of shared bytes. */
function encode(opcode: Opcode, payload: Uint8Array, rsv1: boolean): Uint8Array {
  const length = payload.byteLength;
  const headerSize = frameHeaderSize(length, false);
  const frame = new Uint8Array(headerSize + length);
  writeFrameHeader(frame, 0, { fin: true, rsv1, opcode, length, masked: false });
  frame.set(payload, headerSize);
  return frame;
}
