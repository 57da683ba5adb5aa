/**
 * Reassembles data frames into messages (RFC 6455 §5.4): fragment order, the
 * message size limit across fragments, and fail-fast UTF-8 validation of text
 * as bytes arrive (RFC 6455 §8.1).
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import type { Frame, FrameHeader } from "./frame.ts";
import { DEFAULT_MAX_PAYLOAD_LENGTH } from "./frame_decoder.ts";

/** A complete data message. */
export type AssembledMessage =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "compressed"; binary: boolean; data: Uint8Array };

/**
 * Default limit on the frames of one data message: 131,072, as ws. Twice
 * the most any Autobahn case sends (9.3.1: 4 MiB in 64-byte fragments), and
 * far more than a browser or ws ever splits a message into.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_FRAGMENTS } from "@wsc/websocket-channel/engine";
 *
 * console.assert(DEFAULT_MAX_FRAGMENTS === 128 * 1024);
 * ```
 */
export const DEFAULT_MAX_FRAGMENTS = 128 * 1024;

/**
 * Largest permessage-deflate payload (RSV1 message, as sent on the wire) that
 * can inflate to at most `maxMessageSize` bytes, so that the message limit,
 * which counts inflated bytes (checked while inflating), never refuses a
 * message that fits it. Deflate can grow data that does not compress
 * (RFC 1951 §3.2.4: a stored block costs 5 bytes per up to 65,535; a fixed
 * Huffman block spends 9 bits on some literals): this is zlib's
 * `deflateBound` for any window and memory level, n + ⌈n/8⌉ + ⌈n/64⌉, plus
 * 64 bytes for the empty blocks a flush may add.
 *
 * @param maxMessageSize The limit on the inflated message.
 * @returns The limit on its compressed payload.
 *
 * @example
 * ```ts
 * import { maxCompressedSize } from "@wsc/websocket-channel/engine";
 *
 * console.assert(maxCompressedSize(65536) === 65536 + 8192 + 1024 + 64);
 * ```
 */
export function maxCompressedSize(maxMessageSize: number): number {
  return maxMessageSize + Math.ceil(maxMessageSize / 8) + Math.ceil(maxMessageSize / 64) + 64;
}

/** Options of {@linkcode MessageAssembler}. */
export interface MessageAssemblerOptions {
  /**
   * Largest message in bytes, summed over its fragments; more fails with
   * 1009. An RSV1 message may take {@linkcode maxCompressedSize} bytes: its
   * inflated size is for the caller to check.
   * @default {67108864}
   */
  maxMessageSize?: number;
  /**
   * Most frames one data message may arrive in, empty ones included; one
   * more fails with 1008 (`WS_TOO_MANY_FRAGMENTS`).
   * @default {131072}
   */
  maxFragments?: number;
}

// Text decoded from pieces shorter than this is batched before it joins the
// message, so that a message in many tiny fragments (or a frame trickling in
// 1-byte reads) does not cost a string node per piece.
const SMALL_PIECE = 1024;
const PIECE_BATCH = 64;

const STREAM = { stream: true } as const;
const FATAL = { fatal: true, ignoreBOM: true } as const;
// Whole text frames are decoded by one decoder shared by every connection: a
// call without `stream` carries no state over. Only a message whose bytes
// arrive in pieces needs its own streaming decoder, created on first use, so
// an idle connection holds none.
const wholeDecoder = new TextDecoder("utf-8", FATAL);

function invalidUtf8(): never {
  // RFC 6455 §8.1: "the endpoint MUST _Fail the WebSocket Connection_" (1007, §7.4.1).
  throw new ProtocolError("WS_INVALID_UTF8", "Text message is not valid UTF-8", 1007);
}

/**
 * Turns data frames into messages. Call {@linkcode beginFrame} with each data
 * frame's header before its payload is buffered (the decoder's `onHeader`
 * hook), {@linkcode addPart} with payload pieces as they arrive (the decoder's
 * `onPayloadPart` hook), and {@linkcode endFrame} with the complete frame;
 * or {@linkcode push} for a frame that is already complete.
 *
 * Text is decoded with a reused `TextDecoder({ fatal: true })` in streaming
 * mode, which throws at the first invalid byte, so an invalid fragment fails
 * the message before its FIN arrives (Autobahn 6.4.x strict).
 *
 * @example A message in two fragments
 * ```ts
 * import { MessageAssembler } from "@wsc/websocket-channel/engine";
 *
 * const assembler = new MessageAssembler();
 * const bytes = new TextEncoder().encode("Hello");
 * assembler.push({ fin: false, rsv1: false, opcode: 0x1, payload: bytes.subarray(0, 3) });
 * const message = assembler.push({ fin: true, rsv1: false, opcode: 0x0, payload: bytes.subarray(3) });
 * console.assert(message?.type === "text" && message.data === "Hello");
 * ```
 */
export class MessageAssembler {
  readonly #maxMessageSize: number;
  readonly #maxCompressedSize: number;
  readonly #maxFragments: number;
  #streamDecoder: TextDecoder | undefined;
  // The streaming decoder holds state of the current message.
  #streaming = false;
  // Opcode of the message in progress; 0 when none is.
  #opcode = 0;
  #compressed = false;
  #size = 0;
  // Frames of the message in progress.
  #fragments = 0;
  // Text: decoded so far, and bytes of the current frame already decoded by addPart.
  // Small decoded pieces wait in #pieces and join #text in batches: appending each
  // to #text made one rope node (~32 bytes) per piece, 32x a message of 1-byte pieces.
  #text = "";
  #pieces: string[] = [];
  #decodedInFrame = 0;
  // Binary and compressed: the first fragment as a view; later ones are copied into #buffer.
  #first: Uint8Array | null = null;
  #buffer: Uint8Array | null = null;
  #fill = 0;

  /**
   * Creates an assembler for one connection.
   *
   * @param options The size and fragment limits.
   */
  constructor(options: MessageAssemblerOptions = {}) {
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_PAYLOAD_LENGTH;
    this.#maxCompressedSize = maxCompressedSize(this.#maxMessageSize);
    this.#maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
  }

  /** Whether a fragmented message has started and not finished. */
  get inMessage(): boolean {
    return this.#opcode !== 0;
  }

  /**
   * Checks a data frame's header against the message in progress.
   *
   * @param header The header (data opcodes only).
   * @throws {ProtocolError} 1002 for fragments out of order, 1009 over the size
   * limit, 1008 over the fragment limit.
   */
  beginFrame(header: Readonly<FrameHeader>): void {
    if (header.opcode === 0) {
      // RFC 6455 §5.4: fragments after the first carry opcode 0 and only continue a message.
      if (this.#opcode === 0) {
        throw new ProtocolError(
          "WS_UNEXPECTED_CONTINUATION",
          "Continuation frame without a message",
          1002,
        );
      }
    } else {
      // RFC 6455 §5.4: fragments of different messages "MUST NOT be interleaved".
      if (this.#opcode !== 0) {
        throw new ProtocolError(
          "WS_EXPECTED_CONTINUATION",
          "New data frame inside a fragmented message",
          1002,
        );
      }
      this.#opcode = header.opcode;
      this.#compressed = header.rsv1;
      this.#size = 0;
      this.#fragments = 0;
    }
    // RFC 6455 §10.4 names "a long stream of small frames that are a part of a fragmented
    // message" as an attack; empty frames count too (they cost a header each, and time).
    // 1008, not 1009: the message need not be big at all (ws closes with 1008 here too).
    if (++this.#fragments > this.#maxFragments) {
      throw new ProtocolError(
        "WS_TOO_MANY_FRAGMENTS",
        `Message exceeds ${this.#maxFragments} fragments`,
        1008,
      );
    }
    // RFC 6455 §10.4: "SHOULD impose a limit on ... the total message size after reassembly".
    const limit = this.#compressed ? this.#maxCompressedSize : this.#maxMessageSize;
    if (this.#size + header.length > limit) {
      throw new ProtocolError("WS_MESSAGE_TOO_BIG", "Message exceeds the size limit", 1009);
    }
    this.#size += header.length;
    this.#decodedInFrame = 0;
  }

  /**
   * Takes a piece of the current frame's payload as it arrives, so invalid
   * text fails before the frame is complete.
   *
   * @param part Unmasked payload bytes, in order.
   * @throws {ProtocolError} 1007 for invalid UTF-8 in a text message.
   */
  addPart(part: Uint8Array): void {
    if (this.#opcode !== 1 || this.#compressed) return;
    try {
      this.#addText(this.#stream().decode(part, STREAM));
    } catch {
      invalidUtf8();
    }
    this.#decodedInFrame += part.length;
  }

  /**
   * Adds a complete data frame whose header went through {@linkcode beginFrame}.
   *
   * @param frame The frame.
   * @returns The message when `frame` finished one, else `null`.
   * @throws {ProtocolError} 1007 for invalid UTF-8 in a text message.
   */
  endFrame(frame: Frame): AssembledMessage | null {
    const payload = frame.payload;
    if (this.#opcode === 1 && !this.#compressed) {
      const rest = this.#decodedInFrame === 0 ? payload : payload.subarray(this.#decodedInFrame);
      try {
        if (!frame.fin) {
          if (rest.length > 0) this.#addText(this.#stream().decode(rest, STREAM));
          return null;
        }
        // A decode call without `stream` flushes: a truncated sequence at the end throws.
        const last = this.#streaming
          ? this.#streamDecoder!.decode(rest)
          : wholeDecoder.decode(rest);
        this.#streaming = false;
        if (this.#pieces.length > 0) this.#joinPieces();
        const data = this.#text === "" ? last : this.#text + last;
        this.#text = "";
        this.#opcode = 0;
        return { type: "text", data };
      } catch {
        invalidUtf8();
      }
    }
    if (!frame.fin) {
      this.#append(payload);
      return null;
    }
    let data: Uint8Array;
    if (this.#first === null) {
      data = payload;
    } else {
      this.#append(payload);
      data = this.#buffer === null ? this.#first : this.#buffer.subarray(0, this.#fill);
    }
    const binary = this.#opcode === 2;
    const compressed = this.#compressed;
    this.#first = null;
    this.#buffer = null;
    this.#fill = 0;
    this.#opcode = 0;
    if (compressed) return { type: "compressed", binary, data };
    return binary ? { type: "binary", data } : { type: "text", data: "" };
  }

  /**
   * {@linkcode beginFrame} and {@linkcode endFrame} for a complete frame.
   *
   * @param frame A data frame.
   * @returns The message when `frame` finished one, else `null`.
   */
  push(frame: Frame): AssembledMessage | null {
    this.beginFrame({
      fin: frame.fin,
      rsv1: frame.rsv1,
      opcode: frame.opcode,
      length: frame.payload.length,
      masked: false,
    });
    return this.endFrame(frame);
  }

  /** Drops any message in progress (after a close arrived mid-message). */
  reset(): void {
    this.#opcode = 0;
    this.#text = "";
    this.#pieces.length = 0;
    this.#first = null;
    this.#buffer = null;
    this.#fill = 0;
    if (!this.#streaming) return;
    this.#streaming = false;
    try {
      this.#streamDecoder!.decode(); // flushes a pending partial sequence so the next message starts clean
    } catch {
      // A truncated sequence is irrelevant once the message is dropped.
    }
  }

  #addText(piece: string): void {
    if (piece === "") return;
    const pieces = this.#pieces;
    if (piece.length >= SMALL_PIECE) {
      if (pieces.length > 0) this.#joinPieces();
      this.#text += piece;
      return;
    }
    pieces.push(piece);
    if (pieces.length === PIECE_BATCH) this.#joinPieces();
  }

  #joinPieces(): void {
    this.#text += this.#pieces.join("");
    this.#pieces.length = 0;
  }

  #stream(): TextDecoder {
    this.#streaming = true;
    return this.#streamDecoder ??= new TextDecoder("utf-8", FATAL);
  }

  #append(payload: Uint8Array): void {
    if (payload.length === 0) return;
    if (this.#first === null) {
      this.#first = payload;
      this.#fill = payload.length;
      return;
    }
    const needed = this.#fill + payload.length;
    let buffer = this.#buffer;
    if (buffer === null || needed > buffer.length) {
      // Geometric growth: memory ≤ 2× the message, copies amortised linear, no per-fragment
      // bookkeeping (ws CVE-2026-48779 was memory per retained fragment).
      const doubled = Math.min((buffer?.length ?? this.#fill) * 2, this.#maxMessageSize);
      const grown = new Uint8Array(Math.max(needed, doubled));
      grown.set(buffer === null ? this.#first : buffer.subarray(0, this.#fill));
      buffer = this.#buffer = grown;
    }
    buffer.set(payload, this.#fill);
    this.#fill = needed;
  }
}
