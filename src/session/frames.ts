/**
 * The frames of the session protocol `wsc.session.1` (docs/session-protocol.md):
 * one binary WebSocket message each, a kind byte then varints, strings and a
 * raw payload.
 *
 * @example
 * ```ts
 * import { decodeFrame, encodeFrame, SESSION_PROTOCOL } from "@wsc/websocket-channel/session";
 *
 * const bytes = encodeFrame({ kind: "ack", seq: 300 });
 * console.assert(bytes.join() === "17,172,2" && SESSION_PROTOCOL === "wsc.session.1");
 * const frame = decodeFrame(bytes, "server");
 * console.assert(frame.kind === "ack" && frame.seq === 300);
 * ```
 *
 * @module
 */
import { SessionError } from "./errors.ts";

/**
 * The WebSocket subprotocol that turns the session layer on.
 *
 * @example
 * ```ts
 * import { SESSION_PROTOCOL } from "@wsc/websocket-channel/session";
 *
 * const serveOptions = { protocols: [SESSION_PROTOCOL] }; // offered by the server
 * console.assert(serveOptions.protocols[0] === "wsc.session.1");
 * ```
 */
export const SESSION_PROTOCOL = "wsc.session.1";
/**
 * The minor version this build writes in `HELLO`.
 *
 * @example
 * ```ts
 * import { encodeFrame, SESSION_MINOR_VERSION } from "@wsc/websocket-channel/session";
 *
 * const hello = encodeFrame({ kind: "hello", version: SESSION_MINOR_VERSION, session: "s" });
 * console.assert(hello[1] === SESSION_MINOR_VERSION);
 * ```
 */
export const SESSION_MINOR_VERSION = 1;

/** A frame the client sends. */
export type ClientFrame =
  | { kind: "hello"; version: number; session: string }
  | { kind: "send"; seq: number; data: string | Uint8Array }
  | { kind: "subscribe"; topic: string; from?: { epoch: string; position: number } }
  | { kind: "unsubscribe"; topic: string };

/** A frame the server sends. */
export type ServerFrame =
  | { kind: "welcome"; accepted: number; known: boolean }
  | { kind: "ack"; seq: number }
  | { kind: "reject"; seq: number; reason: string }
  | { kind: "publish"; topic: string; position: number; data: string | Uint8Array }
  | { kind: "subscribed"; topic: string; epoch: string; position: number }
  | { kind: "gap"; topic: string; from: number; to: number }
  | { kind: "denied"; topic: string; reason: string };

/** Any session frame. */
export type SessionFrame = ClientFrame | ServerFrame;

const K = {
  hello: 0x01,
  sendText: 0x02,
  sendBinary: 0x03,
  subscribe: 0x04,
  unsubscribe: 0x05,
  welcome: 0x10,
  ack: 0x11,
  reject: 0x12,
  publishText: 0x13,
  publishBinary: 0x14,
  subscribed: 0x15,
  gap: 0x16,
  denied: 0x17,
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Bytes of `value` as an unsigned LEB128 varint. */
function uintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

class Writer {
  readonly bytes: Uint8Array;
  at = 0;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
  byte(value: number): void {
    this.bytes[this.at++] = value;
  }
  uint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`Not a session protocol integer: ${value}`);
    }
    while (value >= 0x80) {
      this.bytes[this.at++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.at++] = value;
  }
  raw(bytes: Uint8Array): void {
    this.bytes.set(bytes, this.at);
    this.at += bytes.byteLength;
  }
  str(bytes: Uint8Array): void {
    this.uint(bytes.byteLength);
    this.raw(bytes);
  }
}

type Field = number | Uint8Array | { str: Uint8Array };

/** Lays out a kind and its fields (numbers as varints, `{ str }` length-prefixed, bytes raw). */
function build(kind: number, fields: Field[]): Uint8Array {
  let size = 1;
  for (const field of fields) {
    if (typeof field === "number") size += uintSize(field);
    else if (field instanceof Uint8Array) size += field.byteLength;
    else size += uintSize(field.str.byteLength) + field.str.byteLength;
  }
  const out = new Writer(size);
  out.byte(kind);
  for (const field of fields) {
    if (typeof field === "number") out.uint(field);
    else if (field instanceof Uint8Array) out.raw(field);
    else out.str(field.str);
  }
  return out.bytes;
}

const str = (text: string) => ({ str: encoder.encode(text) });
const payload = (data: string | Uint8Array) =>
  typeof data === "string" ? encoder.encode(data) : data;

/**
 * Encodes one frame.
 *
 * @param frame The frame.
 * @returns The bytes of one binary WebSocket message.
 * @throws {RangeError} For a negative, fractional or unsafe integer field.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "@wsc/websocket-channel/session";
 *
 * const bytes = encodeFrame({ kind: "send", seq: 1, data: new Uint8Array([9]) });
 * console.assert(bytes.join() === "3,1,9");
 * ```
 */
export function encodeFrame(frame: SessionFrame): Uint8Array {
  switch (frame.kind) {
    case "hello":
      return build(K.hello, [frame.version, str(frame.session)]);
    case "send":
      return build(typeof frame.data === "string" ? K.sendText : K.sendBinary, [
        frame.seq,
        payload(frame.data),
      ]);
    case "subscribe":
      return build(
        K.subscribe,
        frame.from
          ? [str(frame.topic), 1, str(frame.from.epoch), frame.from.position]
          : [str(frame.topic), 0],
      );
    case "unsubscribe":
      return build(K.unsubscribe, [str(frame.topic)]);
    case "welcome":
      return build(K.welcome, [frame.accepted, frame.known ? 1 : 0]);
    case "ack":
      return build(K.ack, [frame.seq]);
    case "reject":
      return build(K.reject, [frame.seq, str(frame.reason)]);
    case "publish":
      return encodePublish(frame.topic, frame.position, frame.data);
    case "subscribed":
      return build(K.subscribed, [str(frame.topic), str(frame.epoch), frame.position]);
    case "gap":
      return build(K.gap, [str(frame.topic), frame.from, frame.to]);
    case "denied":
      return build(K.denied, [str(frame.topic), str(frame.reason)]);
  }
}

/**
 * Encodes a `PUBLISH_*` frame; `topicBytes` may be passed pre-encoded.
 *
 * @example
 * ```ts
 * import { encodePublish } from "./frames.ts";
 *
 * console.assert(encodePublish("t", 2, "x").join() === "19,1,116,2,120");
 * ```
 */
export function encodePublish(
  topic: string | Uint8Array,
  position: number,
  data: string | Uint8Array,
): Uint8Array {
  const kind = typeof data === "string" ? K.publishText : K.publishBinary;
  const name = typeof topic === "string" ? encoder.encode(topic) : topic;
  return build(kind, [{ str: name }, position, payload(data)]);
}

class Reader {
  at = 1;
  constructor(readonly bytes: Uint8Array) {}
  uint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.at >= this.bytes.byteLength) throw malformed("a number runs past the end");
      const byte = this.bytes[this.at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) throw malformed("a number above 2^53 - 1");
        return value;
      }
      scale *= 0x80;
    }
    throw malformed("a number longer than 8 bytes");
  }
  str(max = Infinity): string {
    const length = this.uint();
    if (length > max) throw malformed(`a string of ${length} bytes (at most ${max})`);
    if (this.at + length > this.bytes.byteLength) throw malformed("a string runs past the end");
    const bytes = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    try {
      return decoder.decode(bytes);
    } catch (cause) {
      throw malformed("a string that is not UTF-8", cause);
    }
  }
  rest(text: boolean): string | Uint8Array {
    const bytes = this.bytes.subarray(this.at);
    this.at = this.bytes.byteLength;
    if (!text) return bytes;
    try {
      return decoder.decode(bytes);
    } catch (cause) {
      throw malformed("a text payload that is not UTF-8", cause);
    }
  }
  end<T>(frame: T): T {
    if (this.at !== this.bytes.byteLength) {
      throw malformed(`${this.bytes.byteLength - this.at} bytes after the last field`);
    }
    return frame;
  }
}

/** Longest topic name and epoch accepted in a frame, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;

/**
 * Decodes one frame sent by `from`. Binary payloads are views into `bytes`.
 *
 * @param bytes One binary WebSocket message.
 * @param from Who sent it: a server decodes `"client"` frames, a client `"server"` frames.
 * @throws {SessionError} `WS_SESSION_MALFORMED` or `WS_SESSION_UNKNOWN_KIND`, with close code 1008.
 *
 * @example
 * ```ts
 * import { SessionError } from "@wsc/websocket-channel/session";
 * import { decodeFrame } from "@wsc/websocket-channel/session";
 *
 * try {
 *   decodeFrame(new Uint8Array([0x11]), "client"); // an ACK, which only servers send
 * } catch (error) {
 *   console.assert(error instanceof SessionError && error.code === "WS_SESSION_UNKNOWN_KIND");
 * }
 * ```
 */
export function decodeFrame(bytes: Uint8Array, from: "client"): ClientFrame;
/** Decodes a frame sent by the server; see the first signature. */
export function decodeFrame(bytes: Uint8Array, from: "server"): ServerFrame;
/** Decodes a frame sent by `from`; see the first signature. */
export function decodeFrame(bytes: Uint8Array, from: "client" | "server"): SessionFrame {
  if (bytes.byteLength === 0) throw malformed("an empty frame");
  const r = new Reader(bytes);
  const kind = bytes[0];
  if (from === "client") {
    switch (kind) {
      case K.hello:
        return r.end({ kind: "hello", version: r.uint(), session: r.str(MAX_NAME_BYTES) });
      case K.sendText:
      case K.sendBinary:
        return { kind: "send", seq: r.uint(), data: r.rest(kind === K.sendText) };
      case K.subscribe: {
        const topic = r.str(MAX_NAME_BYTES);
        const flags = r.uint();
        if (flags > 1) throw malformed(`unknown subscribe flags ${flags}`);
        if (flags === 0) return r.end({ kind: "subscribe", topic });
        const epoch = r.str(MAX_NAME_BYTES);
        return r.end({ kind: "subscribe", topic, from: { epoch, position: r.uint() } });
      }
      case K.unsubscribe:
        return r.end({ kind: "unsubscribe", topic: r.str(MAX_NAME_BYTES) });
    }
  } else {
    switch (kind) {
      case K.welcome:
        return r.end({ kind: "welcome", accepted: r.uint(), known: r.uint() === 1 });
      case K.ack:
        return r.end({ kind: "ack", seq: r.uint() });
      case K.reject:
        return r.end({ kind: "reject", seq: r.uint(), reason: r.str() });
      case K.publishText:
      case K.publishBinary:
        return {
          kind: "publish",
          topic: r.str(),
          position: r.uint(),
          data: r.rest(kind === K.publishText),
        };
      case K.subscribed:
        return r.end({ kind: "subscribed", topic: r.str(), epoch: r.str(), position: r.uint() });
      case K.gap: {
        const gap = r.end({ kind: "gap" as const, topic: r.str(), from: r.uint(), to: r.uint() });
        // Positions start at 1 and a range names at least one: anything else is no loss to report.
        if (gap.from < 1 || gap.from > gap.to) {
          throw malformed(`a GAP from ${gap.from} to ${gap.to}`);
        }
        return gap;
      }
      case K.denied:
        return r.end({ kind: "denied", topic: r.str(), reason: r.str() });
    }
  }
  throw new SessionError(
    "WS_SESSION_UNKNOWN_KIND",
    `Unknown session frame kind 0x${kind.toString(16).padStart(2, "0")} from the ${from}`,
    { closeCode: 1008 },
  );
}

function malformed(why: string, cause?: unknown): SessionError {
  return new SessionError("WS_SESSION_MALFORMED", `Malformed session frame: ${why}`, {
    closeCode: 1008,
    cause,
  });
}
