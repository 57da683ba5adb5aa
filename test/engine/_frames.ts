/**
 * Frame builders and event summaries shared by the engine tests.
 *
 * @module
 */

import type { Protocol, ProtocolEvent } from "../../src/engine/protocol.ts";
import { concatBytes, toHex } from "../_util/hex.ts";

/** The masking key of the RFC 6455 §5.7 examples. */
export const RFC_KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

const encoder = new TextEncoder();

function toPayload(payload: Uint8Array | string | number[]): Uint8Array {
  if (typeof payload === "string") return encoder.encode(payload);
  return payload instanceof Uint8Array ? payload : new Uint8Array(payload);
}

function lengthBytes(length: number, maskBit: number): Uint8Array {
  if (length < 126) return new Uint8Array([maskBit | length]);
  if (length < 0x10000) return new Uint8Array([maskBit | 126, length >>> 8, length & 0xff]);
  const out = new Uint8Array(9);
  out[0] = maskBit | 127;
  new DataView(out.buffer).setBigUint64(1, BigInt(length));
  return out;
}

/** A frame as a client sends it: first byte `b0`, masked with `key`. */
export function clientFrame(
  b0: number,
  payload: Uint8Array | string | number[] = [],
  key: Uint8Array = RFC_KEY,
): Uint8Array {
  const data = toPayload(payload);
  const masked = data.map((byte, i) => byte ^ key[i & 3]);
  return concatBytes([new Uint8Array([b0]), lengthBytes(data.length, 0x80), key, masked]);
}

/** A frame as a server sends it: first byte `b0`, unmasked. */
export function serverFrame(b0: number, payload: Uint8Array | string | number[] = []): Uint8Array {
  const data = toPayload(payload);
  return concatBytes([new Uint8Array([b0]), lengthBytes(data.length, 0), data]);
}

/** A close frame body: 2-byte code plus reason bytes. */
export function closeBody(code: number, reason: Uint8Array | string = ""): Uint8Array {
  return concatBytes([new Uint8Array([code >>> 8, code & 0xff]), toPayload(reason)]);
}

/** Hex for small payloads; length plus an FNV-1a digest for large ones (hex of 70 KB is slow). */
export function digest(bytes: Uint8Array): string {
  if (bytes.length <= 512) return toHex(bytes);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return `${bytes.length} bytes, fnv ${(h >>> 0).toString(16)}`;
}

/** A compact, comparable form of an event list. */
export function summarize(events: ProtocolEvent[]): unknown[] {
  return events.map((event) => {
    switch (event.type) {
      case "text":
        return ["text", event.data];
      case "binary":
      case "ping":
      case "pong":
        return [event.type, digest(event.data)];
      case "compressed":
        return ["compressed", event.binary, digest(event.data)];
      case "close":
        return ["close", event.code, event.reason];
      case "error":
        return ["error", event.error.closeCode, event.error.code];
    }
  });
}

/** Feeds `bytes` cut at `cuts` (copies, since the protocol unmasks in place). */
export function feed(
  protocol: Protocol,
  bytes: Uint8Array,
  cuts: readonly number[] = [],
): ProtocolEvent[] {
  const events: ProtocolEvent[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > start) events.push(...protocol.receive(bytes.slice(start, cut)));
    start = Math.max(start, cut);
  }
  return events;
}

/** Feeds `bytes` one byte per call. */
export function feedBytewise(protocol: Protocol, bytes: Uint8Array): ProtocolEvent[] {
  const events: ProtocolEvent[] = [];
  for (let i = 0; i < bytes.length; i++) events.push(...protocol.receive(bytes.slice(i, i + 1)));
  return events;
}

/** Everything queued for the peer, as one array. */
export function outgoing(protocol: Protocol): Uint8Array {
  return concatBytes(protocol.takeOutgoing());
}
