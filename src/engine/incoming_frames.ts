/**
 * The receive side of a {@linkcode Protocol} connection: the frame decoder
 * and the message assembler its data frames feed, made together with the
 * first bytes from the peer (an idle connection has neither).
 *
 * @module
 */

import type { Frame, FrameHeader, Role } from "./frame.ts";
import { DEFAULT_MAX_PAYLOAD_LENGTH, FrameDecoder } from "./frame_decoder.ts";
import { type AssembledMessage, maxCompressedSize, MessageAssembler } from "./message_assembler.ts";

/** What the receive side is made from: the connection's role and limits. */
export interface IncomingOptions {
  role: Role;
  allowRsv1: boolean;
  maxMessageSize: number | undefined;
  maxFragments: number | undefined;
  /** Whole payloads up to this length are copied out of their chunk (`FrameDecoder` option). */
  copyPayloadsUpTo?: number;
  /** Whether we sent our close: data frames after it are discarded (RFC 6455 §7.1.4). */
  closeSent(): boolean;
}

/** Decodes the peer's frames and assembles its messages from their data frames. */
export class IncomingFrames {
  readonly decoder: FrameDecoder;
  readonly #assembler: MessageAssembler;
  readonly #closeSent: () => boolean;
  /** Whether the frame being received is a data frame whose payload is assembled. */
  #inDataFrame = false;

  constructor(options: IncomingOptions) {
    const { maxMessageSize, allowRsv1 } = options;
    this.#closeSent = options.closeSent;
    const assembler = this.#assembler = new MessageAssembler({
      maxMessageSize,
      maxFragments: options.maxFragments,
    });
    this.decoder = new FrameDecoder({
      role: options.role,
      // With permessage-deflate a frame may carry a compressed message's overhead; the
      // assembler keeps the exact limit for uncompressed messages.
      maxPayloadLength: allowRsv1
        ? maxCompressedSize(maxMessageSize ?? DEFAULT_MAX_PAYLOAD_LENGTH)
        : maxMessageSize,
      allowRsv1,
      copyPayloadsUpTo: options.copyPayloadsUpTo,
      onHeader: (header) => this.#onHeader(header),
      // The assembler reads each part's own bytes only (and copies what it keeps).
      unzeroedParts: true,
      onPayloadPart: (part) => {
        if (this.#inDataFrame) assembler.addPart(part);
      },
    });
  }

  /**
   * A data frame's end: the message it completes, or `null` (more fragments
   * to come, or the frame came after our close and is discarded).
   *
   * @throws {ProtocolError} For a message the assembler refuses (size, UTF-8, fragment order).
   */
  endDataFrame(frame: Frame): AssembledMessage | null {
    if (this.#closeSent()) return null;
    return this.#assembler.endFrame(frame);
  }

  /** The peer's close arrived: a message it interrupted is dropped. */
  closeReceived(): void {
    this.#assembler.reset();
  }

  #onHeader(header: Readonly<FrameHeader>): void {
    this.#inDataFrame = header.opcode < 0x8 && !this.#closeSent();
    if (this.#inDataFrame) this.#assembler.beginFrame(header);
  }
}
