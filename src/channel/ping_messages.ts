/**
 * Application-level pings, the server side: a channel made with
 * `answerPingMessages` answers each received ping message with the pong
 * message itself, before (and instead of) delivering it to the application.
 * This is what a browser client's heartbeat needs, since the WHATWG
 * `WebSocket` cannot send protocol pings.
 *
 * @module
 */
import { checkSendable } from "../_util/sendable.ts";
import type { Message } from "./channel_types.ts";

/** The ping message and its answer; both default to the client heartbeat's. */
export interface PingMessages {
  /** The message a client sends as a ping. @default {"ping"} */
  ping?: string | Uint8Array;
  /** The answer sent back. @default {"pong"} */
  pong?: string | Uint8Array;
}

/** Option value: `true` for `{ ping: "ping", pong: "pong" }`, or the messages. */
export type AnswerPingMessages = boolean | PingMessages;

/** Returns the answer to send for `message`, or `undefined` when it is not the ping. */
export type PingAnswerer = (message: Message) => Message | undefined;

/**
 * Validates the option and builds the matcher (`undefined` when off). Text
 * matches text and bytes match bytes, exactly.
 *
 * @throws {TypeError} For a value that is not a boolean or an object whose
 * `ping` and `pong` are strings or `Uint8Array`s.
 *
 * @example
 * ```ts
 * import { pingAnswerer } from "./ping_messages.ts";
 *
 * const answer = pingAnswerer(true)!;
 * console.assert(answer("ping") === "pong");
 * console.assert(answer("hello") === undefined);
 * console.assert(pingAnswerer(false) === undefined);
 * ```
 */
export function pingAnswerer(option: AnswerPingMessages | undefined): PingAnswerer | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true && (typeof option !== "object" || option === null)) {
    throw new TypeError(
      `answerPingMessages must be a boolean or { ping, pong }, got ${typeof option}`,
    );
  }
  const { ping = "ping", pong = "pong" } = option === true ? {} : option;
  for (const [name, value] of [["ping", ping], ["pong", pong]] as const) {
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw new TypeError(`answerPingMessages.${name} must be a string or a Uint8Array`);
    }
    checkSendable(value, `answerPingMessages.${name}`);
  }
  return (message) => sameMessage(message, ping) ? pong : undefined;
}

/**
 * Whether two messages are the same: text equal to text, or bytes equal to
 * bytes (a text never equals bytes).
 *
 * @example
 * ```ts
 * import { sameMessage } from "./ping_messages.ts";
 *
 * console.assert(sameMessage(new Uint8Array([1]), new Uint8Array([1])));
 * console.assert(!sameMessage("1", new Uint8Array([0x31])));
 * ```
 */
export function sameMessage(a: Message, b: Message): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
