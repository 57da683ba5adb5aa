/**
 * Fuzz cases for the engine: a seeded stream of valid frames (data messages
 * in fragments, pings, pongs, closes; masked towards a server), then
 * mutations (bit flips, length-field corruption, opcode/RSV/mask/FIN flips,
 * truncation, splices of valid frames, inserted and deleted ranges) and a
 * random chunking. One case depends only on its own seed, so a failure
 * reproduces from `(run seed, case index)`.
 *
 * Unmutated cases ("control" cases) carry the events a correct engine must
 * report, limits included, so the fuzz also checks decoding, not only
 * robustness.
 *
 * @module
 */
import type { Role } from "../../src/engine/frame.ts";
import { DEFAULT_MAX_PAYLOAD_LENGTH } from "../../src/engine/frame_decoder.ts";
import { maxCompressedSize } from "../../src/engine/message_assembler.ts";

/** Mulberry32, the generator of test/_util/seeded_random.ts. */
export class Rng {
  #state: number;

  /** @param seed Any 32-bit integer. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next 32-bit value. */
  u32(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, max). */
  int(max: number): number {
    return Math.floor((this.u32() / 4294967296) * max);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** The seed of case `index` of the run seeded with `seed` (a 32-bit mix of both). */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The engine options of a case. */
export interface CaseOptions {
  role: Role;
  allowRsv1: boolean;
  maxMessageSize: number | undefined;
  maxFragments: number | undefined;
  deferFailure: boolean;
  deferCloseReply: boolean;
}

/** What a correct engine reports for an unmutated case. */
export type Expected =
  | { type: "text"; data: string }
  | { type: "binary" | "ping" | "pong"; data: Uint8Array }
  | { type: "compressed"; binary: boolean; data: Uint8Array }
  | { type: "close"; code: number; reason: string }
  | { type: "error"; closeCode: number };

/** One fuzz case: options, the byte stream and where its chunks end. */
export interface FuzzCase {
  seed: number;
  options: CaseOptions;
  bytes: Uint8Array;
  /** Chunk end offsets, increasing, the last one `bytes.length`. */
  cuts: number[];
  /** Frames generated before mutation. */
  frames: number;
  mutations: string[];
  /** The events of an unmutated case; `null` when mutated. */
  expected: Expected[] | null;
}

// Payload pools, the same in every run: random bytes, and valid UTF-8 with
// 1- to 4-byte sequences (and U+FEFF, which must reach the application).
const POOL_SIZE = 1 << 17;
const binaryPool = new Uint8Array(POOL_SIZE);
const textPieces = [
  "a",
  "Z",
  " ",
  "0",
  "\u0000",
  "\u007f",
  "é",
  "ß",
  "\u07ff",
  "€",
  "\ufeff",
  "\uffff",
  "😀",
  "\u{10ffff}",
];
const textChunks: number[] = [];
const textStarts: number[] = [];
{
  const rng = new Rng(0x5eed);
  for (let i = 0; i < POOL_SIZE; i++) binaryPool[i] = rng.u32() & 0xff;
  const encoder = new TextEncoder();
  const encoded = textPieces.map((piece) => encoder.encode(piece));
  while (textChunks.length < POOL_SIZE) {
    // Mostly ASCII, as real text; multi-byte sequences often enough to be split by fragments.
    const piece = rng.chance(0.6) ? encoded[rng.int(4)] : rng.pick(encoded);
    textStarts.push(textChunks.length);
    for (const byte of piece) textChunks.push(byte);
  }
}
const textPool = Uint8Array.from(textChunks);
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** Valid UTF-8 of about `size` bytes (whole code points). */
function textPayload(rng: Rng, size: number): Uint8Array {
  let i = rng.int(textStarts.length >> 1);
  const start = textStarts[i];
  while (i < textStarts.length - 1 && textStarts[i] - start < size) i++;
  return textPool.slice(start, textStarts[i]);
}

function binaryPayload(rng: Rng, size: number): Uint8Array {
  const start = rng.int(POOL_SIZE - size);
  return binaryPool.slice(start, start + size);
}

function payloadSize(rng: Rng, big: boolean): number {
  const r = rng.u32() / 4294967296;
  if (r < 0.55) return rng.int(21);
  if (r < 0.8) return 21 + rng.int(105);
  if (r < 0.9) return 126 + rng.int(400);
  if (r < 0.99 || !big) return 526 + rng.int(3000);
  return 65_536 + rng.int(4000);
}

interface RawFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Uint8Array;
}

class Writer {
  bytes = new Uint8Array(1024);
  length = 0;
  ensure(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + extra));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
  frame(rng: Rng, frame: RawFrame, masked: boolean): void {
    const length = frame.payload.length;
    this.ensure(14 + length);
    const b = this.bytes;
    let p = this.length;
    b[p++] = (frame.fin ? 0x80 : 0) | (frame.rsv1 ? 0x40 : 0) | frame.opcode;
    const maskBit = masked ? 0x80 : 0;
    // Non-minimal length encodings of data frames are accepted (as ws does); a control
    // frame's 7-bit field may not exceed 125 (RFC 6455 §5.5).
    if (length < 126 && (frame.opcode >= 0x8 || !rng.chance(0.02))) {
      b[p++] = maskBit | length;
    } else if (length < 65_536 && !rng.chance(0.02)) {
      b[p++] = maskBit | 126;
      b[p++] = length >>> 8;
      b[p++] = length & 0xff;
    } else {
      b[p++] = maskBit | 127;
      b.fill(0, p, p + 4);
      p += 4;
      b[p++] = length >>> 24;
      b[p++] = (length >>> 16) & 0xff;
      b[p++] = (length >>> 8) & 0xff;
      b[p++] = length & 0xff;
    }
    if (masked) {
      const key = rng.u32();
      const k = [key >>> 24, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff];
      b.set(k, p);
      p += 4;
      const payload = frame.payload;
      for (let i = 0; i < length; i++) b[p + i] = payload[i] ^ k[i & 3];
    } else {
      b.set(frame.payload, p);
    }
    this.length = p + length;
  }
}

const CLOSE_CODES = [
  1000,
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  3000,
  4000,
  4999,
];

/** The frames of a case: data messages (fragmented, control frames between fragments), pings, pongs, closes. */
function generateFrames(rng: Rng, options: CaseOptions, count: number): RawFrame[] {
  const frames: RawFrame[] = [];
  const big = rng.chance(0.01);
  const control = (): RawFrame => {
    const payload = rng.chance(0.5)
      ? binaryPayload(rng, rng.int(8))
      : binaryPayload(rng, rng.int(126));
    return { fin: true, rsv1: false, opcode: rng.chance(0.6) ? 0x9 : 0xa, payload };
  };
  while (frames.length < count) {
    const r = rng.u32() / 4294967296;
    if (r < 0.6) {
      const text = rng.chance(0.5);
      const compressed = options.allowRsv1 && rng.chance(0.3);
      const size = payloadSize(rng, big);
      const payload = text && !compressed ? textPayload(rng, size) : binaryPayload(rng, size);
      const pieces = rng.chance(0.6) ? 1 : 2 + rng.int(4);
      const cuts = Array.from({ length: pieces - 1 }, () => rng.int(payload.length + 1)).sort((
        a,
        b,
      ) => a - b);
      cuts.push(payload.length);
      let from = 0;
      for (let i = 0; i < cuts.length; i++) {
        frames.push({
          fin: i === cuts.length - 1,
          rsv1: compressed && i === 0,
          opcode: i === 0 ? (text ? 0x1 : 0x2) : 0x0,
          payload: payload.subarray(from, cuts[i]),
        });
        from = cuts[i];
        if (i < cuts.length - 1 && rng.chance(0.2)) frames.push(control());
      }
    } else if (r < 0.93) {
      frames.push(control());
    } else {
      let payload = new Uint8Array(0);
      if (!rng.chance(0.2)) {
        const reason = rng.chance(0.5) ? new Uint8Array(0) : textPayload(rng, rng.int(110));
        const code = rng.pick(CLOSE_CODES);
        payload = new Uint8Array(2 + reason.length);
        payload[0] = code >>> 8;
        payload[1] = code & 0xff;
        payload.set(reason, 2);
      }
      frames.push({ fin: true, rsv1: false, opcode: 0x8, payload });
    }
  }
  return frames;
}

/** The events of the unmutated frames, with the limits the engine must apply. */
function expectedEvents(frames: RawFrame[], options: CaseOptions): Expected[] {
  const max = options.maxMessageSize ?? DEFAULT_MAX_PAYLOAD_LENGTH;
  const maxFragments = options.maxFragments ?? 131_072;
  const maxPayload = options.allowRsv1 ? maxCompressedSize(max) : max;
  const events: Expected[] = [];
  let opcode = 0;
  let compressed = false;
  let size = 0;
  let fragments = 0;
  let parts: Uint8Array[] = [];
  for (const frame of frames) {
    const length = frame.payload.length;
    if (length > maxPayload) {
      events.push({ type: "error", closeCode: 1009 });
      break;
    }
    if (frame.opcode < 0x8) {
      if (frame.opcode !== 0) {
        opcode = frame.opcode;
        compressed = frame.rsv1;
        size = 0;
        fragments = 0;
        parts = [];
      }
      if (++fragments > maxFragments) {
        events.push({ type: "error", closeCode: 1008 });
        break;
      }
      if (size + length > (compressed ? maxCompressedSize(max) : max)) {
        events.push({ type: "error", closeCode: 1009 });
        break;
      }
      size += length;
      parts.push(frame.payload);
      if (!frame.fin) continue;
      const data = new Uint8Array(size);
      let at = 0;
      for (const part of parts) {
        data.set(part, at);
        at += part.length;
      }
      if (compressed) events.push({ type: "compressed", binary: opcode === 0x2, data });
      else if (opcode === 0x1) events.push({ type: "text", data: utf8.decode(data) });
      else events.push({ type: "binary", data });
      opcode = 0;
    } else if (frame.opcode === 0x8) {
      const p = frame.payload;
      const code = p.length === 0 ? 1005 : (p[0] << 8) | p[1];
      events.push({ type: "close", code, reason: utf8.decode(p.subarray(2)) });
      break;
    } else {
      events.push({ type: frame.opcode === 0x9 ? "ping" : "pong", data: frame.payload });
    }
  }
  return events;
}

const INTERESTING_LENGTHS = [
  0,
  1,
  125,
  126,
  127,
  65_535,
  65_536,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 - 1,
];

function insert(bytes: Uint8Array, at: number, piece: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + piece.length);
  out.set(bytes.subarray(0, at));
  out.set(piece, at);
  out.set(bytes.subarray(at), at + piece.length);
  return out;
}

function remove(bytes: Uint8Array, from: number, to: number): Uint8Array {
  const out = new Uint8Array(bytes.length - (to - from));
  out.set(bytes.subarray(0, from));
  out.set(bytes.subarray(to), from);
  return out;
}

/** Applies one mutation; `starts` are the frame offsets before any mutation (hints after). */
function mutate(
  rng: Rng,
  bytes: Uint8Array,
  starts: number[],
  options: CaseOptions,
): [string, Uint8Array] {
  const n = bytes.length;
  if (n < 2) return ["insert", insert(bytes, 0, binaryPayload(rng, 1 + rng.int(16)))];
  const frameAt = () => Math.min(rng.pick(starts), n - 2);
  const kind = rng.int(13);
  switch (kind) {
    case 0: {
      for (let i = 1 + rng.int(4); i > 0; i--) bytes[rng.int(n)] ^= 1 << rng.int(8);
      return ["bitflip", bytes];
    }
    case 1: {
      bytes[rng.int(n)] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x7e, 0xc0, 0xed, rng.int(256)]);
      return ["byte", bytes];
    }
    case 2: {
      const at = frameAt();
      bytes[at + 1] = (bytes[at + 1] & 0x80) | rng.pick([0, 1, 125, 126, 127, rng.int(128)]);
      return ["length7", bytes];
    }
    case 3: {
      // A 64-bit (or 16-bit) length field with an interesting value, sized for this case's limit.
      const at = frameAt();
      const hadField = (bytes[at + 1] & 0x7f) >= 126;
      const max = options.maxMessageSize ?? DEFAULT_MAX_PAYLOAD_LENGTH;
      const value = rng.pick([
        ...INTERESTING_LENGTHS,
        max,
        max + 1,
        maxCompressedSize(max),
        maxCompressedSize(max) + 1,
      ]);
      const wide = value > 0xffff || rng.chance(0.5);
      const field = new Uint8Array(wide ? 8 : 2);
      if (wide) {
        const high = Math.floor(value / 2 ** 32);
        const top = rng.chance(0.1) ? 0x80000000 : 0;
        new DataView(field.buffer).setUint32(0, (high | top) >>> 0);
        new DataView(field.buffer).setUint32(4, value >>> 0);
      } else {
        new DataView(field.buffer).setUint16(0, value);
      }
      bytes[at + 1] = (bytes[at + 1] & 0x80) | (wide ? 127 : 126);
      // Overwrite the existing extended field when there is one, else insert ours.
      if (hadField && rng.chance(0.5)) {
        bytes.set(field.subarray(0, Math.min(field.length, n - at - 2)), at + 2);
        return ["length-field", bytes];
      }
      return ["length-field", insert(bytes, at + 2, field)];
    }
    case 4: {
      const at = frameAt();
      bytes[at] = (bytes[at] & 0xf0) | rng.int(16);
      return ["opcode", bytes];
    }
    case 5: {
      bytes[frameAt()] ^= rng.pick([0x40, 0x20, 0x10]);
      return ["rsv", bytes];
    }
    case 6: {
      bytes[frameAt() + 1] ^= 0x80;
      return ["mask-bit", bytes];
    }
    case 7: {
      bytes[frameAt()] ^= 0x80;
      return ["fin", bytes];
    }
    case 8:
      return ["truncate", bytes.slice(0, rng.int(n))];
    case 9: {
      // A valid frame of this stream, again, at a frame boundary or anywhere.
      const i = rng.int(starts.length);
      const from = Math.min(starts[i], n);
      const to = Math.min(i + 1 < starts.length ? starts[i + 1] : n, n);
      const at = rng.chance(0.7) ? Math.min(rng.pick(starts), n) : rng.int(n + 1);
      return ["splice-frame", insert(bytes, at, bytes.slice(from, to))];
    }
    case 10: {
      const from = rng.int(n);
      const to = Math.min(n, from + 1 + rng.int(32));
      return ["duplicate", insert(bytes, rng.int(n + 1), bytes.slice(from, to))];
    }
    case 11: {
      const from = rng.int(n);
      return ["delete", remove(bytes, from, Math.min(n, from + 1 + rng.int(16)))];
    }
    default:
      return ["insert", insert(bytes, rng.int(n + 1), binaryPayload(rng, 1 + rng.int(16)))];
  }
}

function chunking(rng: Rng, length: number, starts: number[]): number[] {
  const cuts: number[] = [];
  const mode = rng.int(8);
  if (mode < 2 || length === 0) {
    cuts.push(length);
  } else if (mode === 2 && length <= 2048) {
    for (let i = 1; i <= length; i++) cuts.push(i);
  } else if (mode < 6) {
    for (let at = 0; at < length;) {
      at = Math.min(length, at + 1 + rng.int(1 << rng.int(12)));
      cuts.push(at);
    }
  } else {
    // Near frame boundaries, where header parsing switches paths.
    for (const start of starts) {
      const at = start + rng.int(4) - 1;
      if (at > (cuts.at(-1) ?? 0) && at < length) cuts.push(at);
    }
    cuts.push(length);
  }
  return cuts;
}

const SIZES = [undefined, undefined, 0, 16, 125, 126, 1000, 65_535, 65_536, 100_000];
const FRAGMENT_LIMITS = [undefined, 1, 2, 3, 8, 64];

/** The case of `seed`: a pure function of it. */
export function generateCase(seed: number): FuzzCase {
  const rng = new Rng(seed);
  const options: CaseOptions = {
    role: rng.chance(0.5) ? "server" : "client",
    allowRsv1: rng.chance(0.5),
    maxMessageSize: rng.pick(SIZES),
    maxFragments: rng.pick(FRAGMENT_LIMITS),
    deferFailure: rng.chance(0.125),
    deferCloseReply: rng.chance(0.125),
  };
  const frames = generateFrames(rng, options, 1 + rng.int(12));
  const writer = new Writer();
  const starts: number[] = [];
  const masked = options.role === "server";
  for (const frame of frames) {
    starts.push(writer.length);
    writer.frame(rng, frame, masked);
  }
  let bytes: Uint8Array = writer.bytes.subarray(0, writer.length);
  const control = rng.chance(0.1);
  const mutations: string[] = [];
  if (!control) {
    for (let i = 1 + (rng.chance(0.3) ? rng.int(4) : 0); i > 0; i--) {
      const [name, next] = mutate(rng, bytes, starts, options);
      mutations.push(name);
      bytes = next;
    }
  }
  return {
    seed,
    options,
    bytes,
    cuts: chunking(rng, bytes.length, starts),
    frames: frames.length,
    mutations,
    expected: control ? expectedEvents(frames, options) : null,
  };
}
