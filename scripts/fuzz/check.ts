/**
 * Runs one fuzz case through `Protocol` and checks the invariants:
 * `receive()` never throws; every event is well-formed and within the
 * limits; nothing follows an `error` or `close` event, and input after it is
 * ignored (no events, no bytes owed); a failure is exactly one `error` event
 * with a close code a peer can cause (1002, 1007, 1008, 1009, 1010; 1011 is
 * the engine's own internal error, so it counts as a violation), and the
 * state is then `closed` (with `deferFailure`, after `failNow()`); the bytes
 * owed to the peer stay under {@linkcode OUTGOING_LIMIT} and decode as
 * valid frames (only pongs answering our pings, then at most one close with
 * the failure's code or the echo of the peer's); unmutated cases report
 * exactly the expected events.
 *
 * @module
 */
import { isValidWireCloseCode } from "../../src/engine/close_code.ts";
import { ProtocolError } from "../../src/engine/errors.ts";
import { DEFAULT_MAX_PAYLOAD_LENGTH, FrameDecoder } from "../../src/engine/frame_decoder.ts";
import { maxCompressedSize } from "../../src/engine/message_assembler.ts";
import { Protocol, type ProtocolEvent } from "../../src/engine/protocol.ts";
import type { Expected, FuzzCase } from "./generate.ts";

/**
 * Most bytes the engine may owe the peer here (we never send): 16 pending
 * pongs and a close, each at most 131 bytes on the wire.
 */
export const OUTGOING_LIMIT = 17 * 131;

/** A broken invariant. */
export interface Violation {
  kind: string;
  detail: string;
}

/** How a case ended, for the statistics: a close code, "close" (the peer's) or "open". */
export type Outcome = string;

const PEER_CODES = new Set([1002, 1007, 1008, 1009, 1010]);
const encoder = new TextEncoder();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function utf8Length(text: string, limit: number): number {
  // Cheap bounds first: UTF-16 length ≤ UTF-8 length ≤ 3 × UTF-16 length.
  if (text.length * 3 <= limit) return text.length;
  return encoder.encode(text).length;
}

function describe(event: ProtocolEvent | Expected): string {
  const e = event as Record<string, unknown>;
  const data = e.data;
  const shown = data instanceof Uint8Array
    ? `${data.length} bytes`
    : typeof data === "string"
    ? JSON.stringify(data.length > 40 ? `${data.slice(0, 40)}…` : data)
    : "";
  if (event.type === "error") {
    const code = "error" in event
      ? event.error.closeCode
      : (event as { closeCode: number }).closeCode;
    return `error ${code}`;
  }
  if (event.type === "close") return `close ${event.code} ${JSON.stringify(event.reason)}`;
  return `${event.type} ${shown}`;
}

function matches(actual: ProtocolEvent, expected: Expected): boolean {
  if (actual.type !== expected.type) return false;
  switch (actual.type) {
    case "text":
      return actual.data === (expected as { data: string }).data;
    case "binary":
    case "ping":
    case "pong":
      return sameBytes(actual.data, (expected as { data: Uint8Array }).data);
    case "compressed": {
      const e = expected as { binary: boolean; data: Uint8Array };
      return actual.binary === e.binary && sameBytes(actual.data, e.data);
    }
    case "close": {
      const e = expected as { code: number; reason: string };
      return actual.code === e.code && actual.reason === e.reason;
    }
    case "error":
      return actual.error.closeCode === (expected as { closeCode: number }).closeCode;
  }
}

/** Checks one event's shape and limits; a message when it is malformed. */
function malformed(event: ProtocolEvent, c: FuzzCase): string | null {
  const max = c.options.maxMessageSize ?? DEFAULT_MAX_PAYLOAD_LENGTH;
  switch (event.type) {
    case "text":
      if (typeof event.data !== "string") return "text data is not a string";
      if (utf8Length(event.data, max) > max) {
        return `text of ${event.data.length} chars over ${max}`;
      }
      return null;
    case "binary":
      if (!(event.data instanceof Uint8Array)) return "binary data is not a Uint8Array";
      return event.data.length > max ? `binary of ${event.data.length} bytes over ${max}` : null;
    case "compressed":
      if (!c.options.allowRsv1) return "compressed message without allowRsv1";
      if (typeof event.binary !== "boolean" || !(event.data instanceof Uint8Array)) {
        return "malformed compressed event";
      }
      return event.data.length > maxCompressedSize(max)
        ? "compressed message over the limit"
        : null;
    case "ping":
    case "pong":
      if (!(event.data instanceof Uint8Array)) return `${event.type} data is not a Uint8Array`;
      return event.data.length > 125 ? `${event.type} of ${event.data.length} bytes` : null;
    case "close":
      if (!Number.isInteger(event.code)) return "close code is not an integer";
      if (event.code !== 1005 && !isValidWireCloseCode(event.code)) {
        return `close event with code ${event.code}`;
      }
      if (typeof event.reason !== "string" || utf8Length(event.reason, 123) > 123) {
        return "close reason over 123 bytes";
      }
      return null;
    case "error": {
      const error = event.error;
      if (!(error instanceof ProtocolError)) {
        return `error is not a ProtocolError: ${String(error)}`;
      }
      if (!/^WS_[A-Z0-9_]+$/.test(error.code)) return `error code ${error.code}`;
      if (!PEER_CODES.has(error.closeCode)) {
        const cause = error.cause instanceof Error ? ` (cause: ${error.cause.stack})` : "";
        return `error ${error.code} with close code ${error.closeCode}: ${error.message}${cause}`;
      }
      return null;
    }
    default:
      return `unknown event type ${(event as { type: string }).type}`;
  }
}

/** The result of one case. */
export interface CaseResult {
  violation: Violation | null;
  outcome: Outcome;
}

/**
 * Feeds `bytes` (consumed: the engine unmasks in place) in the chunks ending
 * at `cuts` to a fresh engine with the case's options and checks every
 * invariant.
 */
export function runCase(c: FuzzCase, bytes: Uint8Array, cuts: number[]): CaseResult {
  const options = c.options;
  const protocol = new Protocol({
    role: options.role,
    allowRsv1: options.allowRsv1,
    maxMessageSize: options.maxMessageSize,
    maxFragments: options.maxFragments,
    deferFailure: options.deferFailure,
    deferCloseReply: options.deferCloseReply,
  });
  const fail = (kind: string, detail: string): CaseResult => ({
    violation: { kind, detail },
    outcome: "violation",
  });
  const events: ProtocolEvent[] = [];
  const pings: Uint8Array[] = [];
  const outgoing: Uint8Array[] = [];
  let end: ProtocolEvent | undefined;
  let from = 0;
  for (let i = 0; i <= cuts.length; i++) {
    // One more chunk after the end: any input after an error or close must be ignored.
    if (i === cuts.length && end === undefined) break;
    const chunk = i < cuts.length
      ? bytes.subarray(from, cuts[i])
      : Uint8Array.of(0x81, 0x85, 0x00, 0x89, 0x80);
    if (i < cuts.length) from = cuts[i];
    const owedBefore = protocol.outgoingBytes;
    let got: ProtocolEvent[];
    try {
      got = protocol.receive(chunk);
    } catch (error) {
      return fail(
        "receive threw",
        error instanceof Error ? (error.stack ?? error.message) : String(error),
      );
    }
    if (!Array.isArray(got)) return fail("receive result", "receive() did not return an array");
    if (end !== undefined) {
      if (got.length > 0) {
        return fail("event after end", `${describe(got[0])} after ${describe(end)}`);
      }
      if (protocol.outgoingBytes !== owedBefore) {
        return fail("input after end", "input after the end changed the bytes owed");
      }
    }
    for (const event of got) {
      if (end !== undefined) {
        return fail("event after end", `${describe(event)} after ${describe(end)}`);
      }
      const problem = malformed(event, c);
      if (problem !== null) {
        return fail(event.type === "error" ? "error event" : "malformed event", problem);
      }
      if (event.type === "error" || event.type === "close") end = event;
      if (event.type === "ping") pings.push(event.data);
      events.push(event);
    }
    if (end?.type === "error") {
      const state = protocol.state;
      if (options.deferFailure ? state === "closed" : state !== "closed") {
        return fail(
          "state after error",
          `state ${state} after an error (deferFailure ${options.deferFailure})`,
        );
      }
    }
    if (protocol.outgoingBytes > OUTGOING_LIMIT) {
      return fail("outgoing bound", `${protocol.outgoingBytes} bytes owed to the peer`);
    }
    // Take the bytes owed now and then, as a transport would.
    if ((c.seed + i) % 3 === 0) outgoing.push(...protocol.takeOutgoing());
  }
  if (end?.type === "error" && options.deferFailure) protocol.failNow();
  if (end?.type === "close" && options.deferCloseReply) protocol.replyClose();
  if (end !== undefined && protocol.state !== "closed") {
    return fail("state after end", `state ${protocol.state} after ${describe(end)}`);
  }
  if (end === undefined && protocol.state !== "open") {
    return fail("state", `state ${protocol.state} without an error or close`);
  }
  outgoing.push(...protocol.takeOutgoing());
  const problem = checkOutgoing(c, outgoing, pings, end);
  if (problem !== null) return fail("outgoing frames", problem);
  if (c.expected !== null) {
    const expected = c.expected;
    const n = Math.max(events.length, expected.length);
    for (let i = 0; i < n; i++) {
      if (i >= events.length || i >= expected.length || !matches(events[i], expected[i])) {
        return fail(
          "wrong events",
          `event ${i}: got ${events[i] ? describe(events[i]) : "nothing"}, expected ${
            expected[i] ? describe(expected[i]) : "nothing"
          }`,
        );
      }
    }
  }
  const outcome = end === undefined
    ? "open"
    : end.type === "close"
    ? "close"
    : String((end as { error: ProtocolError }).error.closeCode);
  return { violation: null, outcome };
}

/** The bytes we owe must be pongs for our pings (the latest always), then at most one close. */
function checkOutgoing(
  c: FuzzCase,
  outgoing: Uint8Array[],
  pings: Uint8Array[],
  end: ProtocolEvent | undefined,
): string | null {
  // The peer's decoder: a server's frames are unmasked, a client's masked.
  const decoder = new FrameDecoder({
    role: c.options.role === "server" ? "client" : "server",
    maxPayloadLength: 125,
  });
  const frames: { opcode: number; payload: Uint8Array }[] = [];
  try {
    for (const buffer of outgoing) {
      decoder.push(buffer.slice());
      for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
        frames.push({ opcode: frame.opcode, payload: frame.payload.slice() });
      }
    }
    if (decoder.pendingBytes !== 0) return "a partial frame at the end";
  } catch (error) {
    return `invalid frame owed to the peer: ${
      error instanceof Error ? error.message : String(error)
    }`;
  }
  let ping = 0;
  let pongs = 0;
  let lastPong: Uint8Array | undefined;
  for (let i = 0; i < frames.length; i++) {
    const { opcode, payload } = frames[i];
    if (opcode === 0xa) {
      // Pongs answer our pings in order; some may be skipped (RFC 6455 §5.5.3), none invented.
      while (ping < pings.length && !sameBytes(pings[ping], payload)) ping++;
      if (ping === pings.length) return `pong of ${payload.length} bytes answers no ping`;
      ping++;
      pongs++;
      lastPong = payload;
    } else if (opcode === 0x8) {
      if (i !== frames.length - 1) return "frames after our close";
      const code = payload.length === 0 ? 1005 : (payload[0] << 8) | payload[1];
      const want = end === undefined
        ? undefined
        : end.type === "error"
        ? end.error.closeCode
        : end.type === "close"
        ? end.code
        : undefined;
      if (code !== want) return `our close has code ${code}, expected ${want}`;
    } else {
      return `unexpected frame with opcode ${opcode}`;
    }
  }
  if (end !== undefined && frames.at(-1)?.opcode !== 0x8) return `no close after ${describe(end)}`;
  if (end === undefined && frames.some((f) => f.opcode === 0x8)) return "a close without a reason";
  if (pings.length > 0 && (pongs === 0 || !sameBytes(lastPong!, pings.at(-1)!))) {
    return `the latest of ${pings.length} pings was not answered`;
  }
  return null;
}
