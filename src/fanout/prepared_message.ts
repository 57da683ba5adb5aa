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
 * ```
 */
export class PreparedMessage {
  /** The message as published. */
  readonly data: string | Uint8Array;
  /** Text (a string) or binary. */
  readonly text: boolean;
  #bytes: Uint8Array | undefined;
  #frame: Uint8Array | undefined;
  #compressed: Promise<CompressedFrame> | undefined;

  /** @param data A string (a text message) or bytes (a binary message); never modified. */
  constructor(data: string | Uint8Array) {
    this.data = data;
    this.text = typeof data === "string";
  }

  /** The payload bytes (UTF-8 for text). */
  get bytes(): Uint8Array {
    return this.#bytes ??= typeof this.data === "string" ? encoder.encode(this.data) : this.data;
  }

  /** Bytes of the message on the wire, uncompressed. */
  get size(): number {
    return this.frame.byteLength;
  }

  /** The uncompressed, unmasked frame. */
  get frame(): Uint8Array {
    return this.#frame ??= encode(this.text ? Opcode.text : Opcode.binary, this.bytes, false);
  }

  /**
   * The permessage-deflate frame, compressed once in a fresh stream (no
   * context takeover): with `codec` when given, sync-flushed (RFC 7692
   * §7.2.1); otherwise with the platform `CompressionStream`, which ends the
   * payload in a final block on most runtimes (§7.2.3.4). The first call
   * decides.
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
