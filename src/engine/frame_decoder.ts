/**
 * Incremental frame decoder (RFC 6455 §5.2): bytes in any chunking → frames.
 *
 * A frame that lies wholly inside one chunk is returned as a view into that
 * chunk, unmasked in place (no copy). A frame that straddles chunks is
 * unmasked into a buffer of exactly its length: at once for up to 256 KiB;
 * a longer one is kept as the pieces received (unmasked in place, small ones
 * copied together) and copied into its buffer once its last byte arrives, so
 * memory follows the bytes received, never the length the peer merely
 * declared.
 * Every header rule is checked before any payload byte is buffered.
 *
 * @module
 */

import type { Frame, FrameHeader, Role } from "./frame.ts";
import { checkHeaderStart, readPayloadLength } from "./frame_header.ts";
import { maskCopy, maskRange, unmaskedCopy } from "./mask.ts";
import type { Opcode } from "./opcode.ts";
import { allocatePayload, payloadMayBeDirty } from "./payload_memory.ts";

/**
 * Default limit on a frame's declared payload length: 64 MiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_PAYLOAD_LENGTH } from "@wsc/websocket-channel/engine";
 *
 * console.assert(DEFAULT_MAX_PAYLOAD_LENGTH === 64 * 1024 * 1024);
 * ```
 */
export const DEFAULT_MAX_PAYLOAD_LENGTH = 64 * 1024 * 1024;

/**
 * A piece of a payload that spans chunks is kept by reference (a view of its
 * chunk, no copy until the payload is complete) when it is at least
 * {@linkcode HOLD_MIN} bytes long and the buffers such views keep alive stay
 * within twice the bytes received plus {@linkcode HOLD_SLACK}: a chunk of a
 * buffer of its own, or the next read of a buffer that an earlier piece
 * already lies in (a transport that reads one after another into a larger
 * slab). Other pieces are copied together into buffers of up to
 * {@linkcode JOIN_SIZE} bytes, so a peer trickling small reads out of large
 * buffers pins none of them.
 *
 * Past {@linkcode DIRECT_MAX} bytes, the payload's own buffer is allocated
 * only when its last byte is in, as ws does. A buffer of the full length filled from the first megabyte on lived
 * while the rest arrived: at 16 MiB the young-generation collections that
 * every few megabytes of new buffers bring promoted it to the old generation,
 * where only a full collection frees it, and its external memory brought one
 * full collection per three echoed messages on Node 20 (about one per twenty
 * when gathered first; none with ws). Never sizing a buffer from the declared
 * length also keeps a header that declares 64 MiB and sends a byte from
 * reserving 64 MiB.
 */
const HOLD_MIN = 4 * 1024;
/**
 * A payload of at most this many bytes that spans chunks gets one buffer of
 * its length at once and each piece is unmasked straight into it (one pass
 * over the bytes, where holding then copying takes two). It is also all a
 * header alone can make a connection reserve.
 */
const DIRECT_MAX = 256 * 1024;
const HOLD_SLACK = 1024 * 1024;
/**
 * A transport that reads into a caller's buffer ({@linkcode FrameDecoder.readTarget})
 * gets a longer payload's own buffer once this many times the bytes received
 * reach its length, and reads the rest straight into it (no buffer of its
 * own, no copy at the end). Only then: a header alone never reserves more
 * than {@linkcode DIRECT_MAX}.
 */
const TARGET_RECEIVED_FACTOR = 16;
const JOIN_SIZE = 64 * 1024;

const EMPTY = new Uint8Array(0);

/** Options of {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Our role: a server requires masked frames, a client forbids them. */
  role: Role;
  /**
   * Largest declared payload length accepted; longer frames fail with 1009
   * before anything is allocated.
   * @default {67108864}
   */
  maxPayloadLength?: number;
  /**
   * Allow RSV1 on the first frame of a data message (permessage-deflate was
   * negotiated). RSV1 on control and continuation frames always fails.
   * @default {false}
   */
  allowRsv1?: boolean;
  /**
   * Called once per frame after its header passed validation and before any
   * payload byte is buffered; may throw a {@linkcode ProtocolError} to stop.
   * The header object is reused: read it, do not keep it.
   */
  onHeader?: (header: Readonly<FrameHeader>) => void;
  /**
   * Called with each unmasked piece of a payload that spans several chunks,
   * as it arrives (for fail-fast validation). Not called for a payload that
   * arrives in one chunk. The view is only valid during the call, and the
   * rest of its `buffer` is not part of it (it may hold anything until the
   * payload's bytes arrive).
   */
  onPayloadPart?: (part: Uint8Array) => void;
  /**
   * Let a payload of 16 KiB to 256 KiB that spans chunks take its buffer
   * from the runtime adapter's allocator, which may skip zero-filling (see
   * `payload_memory.ts`): for an {@linkcode onPayloadPart} that reads only
   * the part it is given, never the rest of `part.buffer`, which may then
   * hold memory the process used before. The payload is returned only once
   * every byte of it is written, and a {@linkcode FrameDecoder.readTarget}
   * view is zero-filled before a transport sees it, either way.
   * @default {false}
   */
  unzeroedParts?: boolean;
  /**
   * Payloads of up to this many bytes that lie whole in one pushed chunk are
   * returned in a buffer of their own (unmasked as they are copied) instead
   * of as a view into the chunk. For a runtime where a view of a fresh chunk
   * costs more than the copy (JavaScriptCore makes the chunk's `ArrayBuffer`
   * on the first view: 0.3–0.6 µs, against tens of nanoseconds to copy 20
   * bytes); on V8 a buffer per message costs more than the view.
   * @default {0}
   */
  copyPayloadsUpTo?: number;
}

/**
 * Turns a byte stream into frames. Feed a chunk with {@linkcode push}, then
 * call {@linkcode next} until it returns `null`, then push the next chunk.
 * Throws {@linkcode ProtocolError} (with its close code) on the first rule the
 * peer breaks; the decoder is unusable afterwards.
 *
 * The decoder takes ownership of pushed chunks: masked payloads are unmasked
 * in place and returned frames may be views into them.
 *
 * @example Decode the RFC 6455 §5.7 masked "Hello", one byte at a time
 * ```ts
 * import { FrameDecoder } from "@wsc/websocket-channel/engine";
 *
 * const decoder = new FrameDecoder({ role: "server" });
 * const wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
 * const frames = [];
 * for (const byte of wire) {
 *   decoder.push(new Uint8Array([byte]));
 *   for (let frame; (frame = decoder.next()) !== null;) frames.push(frame);
 * }
 * console.assert(new TextDecoder().decode(frames[0].payload) === "Hello");
 * ```
 */
export class FrameDecoder {
  readonly #expectMasked: boolean;
  readonly #maxPayloadLength: number;
  readonly #allowRsv1: boolean;
  readonly #onHeader: ((header: Readonly<FrameHeader>) => void) | undefined;
  readonly #onPayloadPart: ((part: Uint8Array) => void) | undefined;
  /** Whole payloads up to this length are copied out of their chunk (-1: none). */
  readonly #copyUpTo: number;
  readonly #unzeroed: boolean;
  readonly #header: FrameHeader = { fin: true, rsv1: false, opcode: 0, length: 0, masked: false };

  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  // A header that straddles chunks is gathered here (at most 14 bytes).
  #head: Uint8Array | undefined;
  #headFill = 0;
  #length = 0;
  // The pieces of a payload that straddles chunks (null when none does), in order.
  #parts: Uint8Array[] | null = null;
  #partialFill = 0;
  // Small pieces are copied together here before they join #parts.
  #join: Uint8Array | undefined;
  #joinFill = 0;
  // The buffer the last piece kept by reference lies in, and the bytes of the distinct
  // buffers such pieces of the current payload lie in.
  #heldBuffer: ArrayBufferLike | undefined;
  #heldMemory = 0;
  #key: Uint8Array | undefined;
  /** The join buffer is the payload's own buffer (a short payload, or a read target's). */
  #own = false;
  /** The own buffer's unwritten rest may hold old memory (not zero-filled yet). */
  #dirty = false;
  /** The current chunk lies in the payload's own buffer where its bytes belong (pushTarget). */
  #inPlace = false;

  /**
   * Creates a decoder for one connection.
   *
   * @param options Role, limits and hooks.
   */
  constructor(options: FrameDecoderOptions) {
    this.#expectMasked = options.role === "server";
    this.#maxPayloadLength = options.maxPayloadLength ?? DEFAULT_MAX_PAYLOAD_LENGTH;
    this.#allowRsv1 = options.allowRsv1 ?? false;
    this.#onHeader = options.onHeader;
    this.#onPayloadPart = options.onPayloadPart;
    this.#copyUpTo = options.copyPayloadsUpTo ?? -1;
    this.#unzeroed = options.unzeroedParts ?? false;
  }

  /** Bytes of the current chunk not consumed yet. */
  get pendingBytes(): number {
    return this.#chunk.length - this.#pos;
  }

  /**
   * Hands the decoder the next chunk. Call only after {@linkcode next}
   * returned `null` (the previous chunk is fully consumed).
   *
   * @param chunk Bytes from the peer; the decoder may modify them in place.
   */
  push(chunk: Uint8Array): void {
    if (this.#pos < this.#chunk.length) {
      throw new Error("Cannot push: the previous chunk is not fully decoded");
    }
    this.#chunk = chunk;
    this.#pos = 0;
    this.#inPlace = false;
  }

  /**
   * Where the next bytes from the peer may go straight: the rest of the
   * payload under way (one that spans chunks), in the payload's own buffer,
   * so a transport that reads into a caller's buffer can skip its own buffer
   * and the copy. `null` while no payload is under way, the current chunk is
   * not fully decoded, or a long payload's bytes received are still under a
   * sixteenth of its length (its buffer is never sized from the declared
   * length alone). After reading `n` bytes to the start of the view, call
   * {@linkcode pushTarget} instead of {@linkcode push}, then
   * {@linkcode next} as usual.
   *
   * @example A payload read straight into its buffer
   * ```ts
   * import { FrameDecoder } from "@wsc/websocket-channel/engine";
   *
   * const decoder = new FrameDecoder({ role: "client" });
   * decoder.push(new Uint8Array([0x82, 0x05, 1]));
   * console.assert(decoder.next() === null);
   * const target = decoder.readTarget()!;
   * console.assert(target.length === 4);
   * target.set([2, 3, 4, 5]); // what a transport's read would do
   * decoder.pushTarget(4);
   * console.assert(decoder.next()!.payload.join() === "1,2,3,4,5");
   * ```
   */
  readTarget(): Uint8Array | null {
    const parts = this.#parts;
    if (parts === null || this.#pos < this.#chunk.length) return null;
    if (!this.#own) {
      const fill = this.#partialFill;
      const length = this.#header.length;
      if (fill * TARGET_RECEIVED_FACTOR < length) return null;
      // The payload's own buffer, holding what came so far; the rest goes straight in.
      this.#closeJoin();
      this.#join = joinParts(parts, length, fill);
      this.#joinFill = fill;
      this.#parts = [];
      this.#heldBuffer = undefined;
      this.#heldMemory = 0;
      this.#own = true;
      // joinParts zero-fills a buffer it does not fill.
      this.#dirty = false;
    }
    const join = this.#join!;
    if (this.#dirty) {
      // A transport reads into this view: it must not see what the memory held before.
      join.fill(0, this.#joinFill);
      this.#dirty = false;
    }
    return join.subarray(this.#joinFill);
  }

  /**
   * Takes `length` bytes a transport read to the start of
   * {@linkcode readTarget}'s view, in place of a {@linkcode push}.
   *
   * @param length Bytes written there (at most the view's length).
   */
  pushTarget(length: number): void {
    const target = this.readTarget();
    if (target === null || length > target.length) {
      throw new Error("Cannot push in place: no read target of that length");
    }
    this.#chunk = target.subarray(0, length);
    this.#pos = 0;
    this.#inPlace = true;
  }

  /**
   * Decodes the next complete frame from the bytes pushed so far.
   *
   * @returns The frame, or `null` when more bytes are needed.
   * @throws {ProtocolError} When the peer broke a framing rule.
   */
  next(): Frame | null {
    if (this.#parts !== null) return this.#continuePayload();
    const chunk = this.#chunk;
    const pos = this.#pos;
    const available = chunk.length - pos;
    if (available === 0) {
      // Consumed: not kept until the next chunk (an idle connection would hold its last read).
      this.#chunk = EMPTY;
      this.#pos = 0;
      return null;
    }
    if (this.#headFill === 0 && available >= 2) {
      // Fast path: the whole header is in this chunk.
      const size = checkHeaderStart(
        chunk[pos],
        chunk[pos + 1],
        this.#allowRsv1,
        this.#expectMasked,
      );
      if (available >= size) {
        const length = readPayloadLength(chunk, pos, this.#maxPayloadLength);
        this.#pos = pos + size;
        return this.#afterHeader(chunk, pos, size, length);
      }
    }
    return this.#gatherHeader();
  }

  #gatherHeader(): Frame | null {
    const chunk = this.#chunk;
    // Created the first time a header straddles chunks: most connections never need it.
    const head = this.#head ??= new Uint8Array(14);
    let pos = this.#pos;
    let fill = this.#headFill;
    let size = 14;
    let lengthEnd = 14;
    if (fill >= 2) {
      size = checkHeaderStart(head[0], head[1], this.#allowRsv1, this.#expectMasked);
      lengthEnd = (head[1] & 0x80) !== 0 ? size - 4 : size;
    }
    while (fill < size && pos < chunk.length) {
      head[fill++] = chunk[pos++];
      if (fill === 2) {
        size = checkHeaderStart(head[0], head[1], this.#allowRsv1, this.#expectMasked);
        lengthEnd = (head[1] & 0x80) !== 0 ? size - 4 : size;
      }
      // Limits are checked as soon as the length is known, before the mask key arrives.
      if (fill === lengthEnd) this.#length = readPayloadLength(head, 0, this.#maxPayloadLength);
    }
    this.#pos = pos;
    if (fill < size) {
      this.#headFill = fill;
      return null;
    }
    this.#headFill = 0;
    return this.#afterHeader(head, 0, size, this.#length);
  }

  #afterHeader(bytes: Uint8Array, offset: number, size: number, length: number): Frame | null {
    const b0 = bytes[offset];
    const masked = (bytes[offset + 1] & 0x80) !== 0;
    const keyAt = offset + size - 4;
    const header = this.#header;
    header.fin = (b0 & 0x80) !== 0;
    header.rsv1 = (b0 & 0x40) !== 0;
    header.opcode = (b0 & 0x0f) as Opcode;
    header.length = length;
    header.masked = masked;
    if (this.#onHeader !== undefined) this.#onHeader(header);

    const chunk = this.#chunk;
    const pos = this.#pos;
    if (chunk.length - pos >= length) {
      // The whole payload is here: a view, unmasked in place, or a short one's copy.
      const end = pos + length;
      let payload: Uint8Array;
      if (length <= this.#copyUpTo) {
        payload = masked ? unmaskedCopy(chunk, pos, end, bytes, keyAt) : chunk.slice(pos, end);
      } else {
        if (masked) maskRange(chunk, pos, end, bytes, 0, keyAt);
        payload = chunk.subarray(pos, end);
      }
      this.#pos = end;
      return { fin: header.fin, rsv1: header.rsv1, opcode: header.opcode, payload };
    }
    if (masked) {
      const key = this.#key ??= new Uint8Array(4);
      key[0] = bytes[keyAt];
      key[1] = bytes[keyAt + 1];
      key[2] = bytes[keyAt + 2];
      key[3] = bytes[keyAt + 3];
    }
    this.#parts = [];
    this.#partialFill = 0;
    // A short payload gets its buffer at once and every piece is unmasked straight into it.
    // Every byte is written before it is handed out (it needs no zero-filling): pieces
    // fill it from the start, and only its filled part is ever seen until it is full.
    this.#own = length <= DIRECT_MAX;
    // Set for every payload: a flag left from the last one would zero-fill a clean buffer.
    this.#dirty = this.#own && this.#unzeroed && payloadMayBeDirty(length);
    if (this.#own) this.#join = this.#dirty ? allocatePayload(length) : new Uint8Array(length);
    return this.#continuePayload();
  }

  #continuePayload(): Frame | null {
    const header = this.#header;
    const chunk = this.#chunk;
    const pos = this.#pos;
    const fill = this.#partialFill;
    const length = header.length;
    const take = Math.min(length - fill, chunk.length - pos);
    if (take === 0) return null;
    const end = pos + take;
    let part: Uint8Array;
    const join = this.#join;
    const buffer = chunk.buffer;
    const memory = buffer === this.#heldBuffer ? 0 : buffer.byteLength;
    const inPlace = this.#inPlace;
    this.#inPlace = false;
    if (inPlace) {
      // Read straight into the payload's own buffer (pushTarget): only the unmasking is left.
      const at = this.#joinFill;
      if (header.masked) maskRange(join!, at, at + take, this.#key!, fill);
      this.#joinFill = at + take;
      part = chunk;
    } else if (
      take >= HOLD_MIN && this.#heldMemory + memory <= 2 * (fill + take) + HOLD_SLACK &&
      (join === undefined || join.length - this.#joinFill < take)
    ) {
      // Kept by reference, unmasked in place.
      if (header.masked) maskRange(chunk, pos, end, this.#key!, fill);
      part = take === chunk.length ? chunk : chunk.subarray(pos, end);
      this.#closeJoin();
      this.#parts!.push(part);
      this.#heldBuffer = buffer;
      this.#heldMemory += memory;
    } else {
      part = this.#copyPiece(chunk, pos, end, fill);
    }
    this.#pos = end;
    this.#partialFill = fill + take;
    if (this.#onPayloadPart !== undefined) this.#onPayloadPart(part);
    if (fill + take < length) return null;
    this.#closeJoin();
    const parts = this.#parts!;
    this.#parts = null;
    this.#heldBuffer = undefined;
    this.#heldMemory = 0;
    return {
      fin: header.fin,
      rsv1: header.rsv1,
      opcode: header.opcode,
      payload: parts.length === 1 ? parts[0] : joinParts(parts, length),
    };
  }

  /** Copies `chunk[pos..end)` (payload bytes from `fill` on) unmasked into the join buffer. */
  #copyPiece(chunk: Uint8Array, pos: number, end: number, fill: number): Uint8Array {
    const take = end - pos;
    let join = this.#join;
    if (join === undefined || join.length - this.#joinFill < take) {
      this.#closeJoin();
      // Never longer than the rest of the payload: a short frame gets a short buffer.
      join = this.#join = new Uint8Array(
        Math.min(this.#header.length - fill, Math.max(JOIN_SIZE, take)),
      );
    }
    const at = this.#joinFill;
    const piece = take === chunk.length ? chunk : chunk.subarray(pos, end);
    // Unmasked on the way in: one pass over the bytes.
    if (this.#header.masked) maskCopy(piece, join, at, this.#key!, 0, fill);
    else join.set(piece, at);
    this.#joinFill = at + take;
    return join.subarray(at, at + take);
  }

  /** Moves the join buffer's bytes (if any) to the payload's pieces. */
  #closeJoin(): void {
    const join = this.#join;
    if (join === undefined) return;
    this.#join = undefined;
    const fill = this.#joinFill;
    this.#joinFill = 0;
    this.#parts!.push(fill === join.length ? join : join.subarray(0, fill));
  }
}

/**
 * The pieces (`filled` bytes in all) copied into one buffer of `length`
 * bytes. Filled completely here, it need not be zero-filled; a buffer whose
 * rest a transport reads into is.
 */
function joinParts(parts: Uint8Array[], length: number, filled = length): Uint8Array {
  const payload = filled === length ? allocatePayload(length) : new Uint8Array(length);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    payload.set(parts[i], at);
    at += parts[i].length;
  }
  return payload;
}
