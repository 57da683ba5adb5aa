/**
 * How a topic becomes a NATS subject and back: `prefix` plus the topic
 * escaped into a single subject token, so that any string is a valid
 * subject and no two topics share one. Part of `./backplane/nats`, which
 * re-exports {@linkcode topicToSubject} and {@linkcode subjectToTopic}.
 *
 * @example
 * ```ts
 * import { subjectToTopic, topicToSubject } from "@wsc/websocket-channel/backplane/nats";
 *
 * const subject = topicToSubject("orders.*");
 * console.assert(subject === "wsc.orders_2E_2A");
 * console.assert(subjectToTopic(subject) === "orders.*");
 * ```
 *
 * @module
 */

/**
 * The prefix of every subject unless another one is given: `"wsc."`.
 *
 * @example
 * ```ts
 * import { topicToSubject } from "@wsc/websocket-channel/backplane/nats";
 * import { DEFAULT_SUBJECT_PREFIX } from "./nats_subject.ts";
 *
 * console.assert(topicToSubject("a") === `${DEFAULT_SUBJECT_PREFIX}a`);
 * ```
 */
export const DEFAULT_SUBJECT_PREFIX = "wsc.";

// nats-server refuses a protocol line longer than max_control_line (4096 bytes
// by default) and then drops the whole connection: "PUB <subject> <size>\r\n"
// must stay below it, so a longer subject is refused before it is sent.
const MAX_SUBJECT_BYTES = 4000;

/**
 * The subjects of one backplane: {@linkcode topicToSubject} with a checked
 * prefix, refusing a subject too long for the server.
 *
 * @example
 * ```ts
 * import { NatsSubjectMapper } from "./nats_subject.ts";
 *
 * const subjects = new NatsSubjectMapper("app.");
 * console.assert(subjects.toSubject("room 1") === "app.room_201");
 * let refused = false;
 * try {
 *   subjects.toSubject("x".repeat(5000));
 * } catch (error) {
 *   refused = error instanceof RangeError;
 * }
 * console.assert(refused);
 * ```
 */
export class NatsSubjectMapper {
  readonly #prefix: string;
  readonly #prefixBytes: number;

  /**
   * Checks `prefix`: empty, or dot-separated tokens ending in a dot, without
   * spaces, `*` or `>`.
   *
   * @param prefix Prepended to every subject.
   * @throws {TypeError} If `prefix` is not of that form.
   */
  constructor(prefix: string) {
    if (!/^(?:[^\s.*>]+\.)*$/.test(prefix)) {
      throw new TypeError(
        `Invalid NATS subject prefix ${
          JSON.stringify(prefix)
        }: use "" or tokens ending in "." without spaces, "*" or ">"`,
      );
    }
    this.#prefix = prefix;
    this.#prefixBytes = new TextEncoder().encode(prefix).byteLength;
  }

  /**
   * The subject of `topic`.
   *
   * @param topic Any string.
   * @returns `topicToSubject(topic, prefix)`.
   * @throws {RangeError} If the subject would exceed 4,000 bytes.
   */
  toSubject(topic: string): string {
    const subject = topicToSubject(topic, this.#prefix);
    // The escaped token is ASCII: only the prefix may need more bytes than characters.
    const bytes = subject.length - this.#prefix.length + this.#prefixBytes;
    if (bytes > MAX_SUBJECT_BYTES) {
      throw new RangeError(
        `Topic too long for NATS: its subject has ${bytes} bytes, the limit is ${MAX_SUBJECT_BYTES}`,
      );
    }
    return subject;
  }
}

/**
 * The NATS subject a topic is carried on: `prefix` plus the topic as one
 * token in which ASCII letters, digits and `-` stand for themselves and
 * every other UTF-16 code unit is escaped (`_XX` up to U+00FF, `__XXXX`
 * above, upper-case hex); the empty topic is `_`. So any string, with
 * spaces, dots, `*`, `>`, emoji or lone surrogates, gives a valid subject,
 * and two topics never share one.
 *
 * @param topic Any string.
 * @param prefix Prepended as is. Default: `"wsc."`.
 * @returns The subject.
 *
 * @example
 * ```ts
 * import { topicToSubject } from "@wsc/websocket-channel/backplane/nats";
 *
 * console.assert(topicToSubject("a.b*") === "wsc.a_2Eb_2A");
 * console.assert(topicToSubject("é", "app.") === "app._E9");
 * console.assert(topicToSubject("") === "wsc._");
 * ```
 */
export function topicToSubject(topic: string, prefix: string = DEFAULT_SUBJECT_PREFIX): string {
  if (topic === "") return `${prefix}_`;
  let token = "";
  for (let i = 0; i < topic.length; i++) {
    const unit = topic.charCodeAt(i);
    if (isLiteral(unit)) token += topic[i];
    else if (unit <= 0xff) token += `_${hex(unit, 2)}`;
    else token += `__${hex(unit, 4)}`;
  }
  return prefix + token;
}

/**
 * The topic carried on a subject made by {@linkcode topicToSubject}, or
 * `undefined` if the subject is not one (other prefix, or not in the
 * canonical escaped form).
 *
 * @param subject A NATS subject.
 * @param prefix The prefix it was made with. Default: `"wsc."`.
 * @returns The topic, or `undefined`.
 *
 * @example
 * ```ts
 * import { subjectToTopic } from "@wsc/websocket-channel/backplane/nats";
 *
 * console.assert(subjectToTopic("wsc.room_201") === "room 1");
 * console.assert(subjectToTopic("other.room") === undefined);
 * ```
 */
export function subjectToTopic(
  subject: string,
  prefix: string = DEFAULT_SUBJECT_PREFIX,
): string | undefined {
  if (!subject.startsWith(prefix)) return undefined;
  const token = subject.slice(prefix.length);
  if (token === "_") return "";
  let topic = "";
  for (let i = 0; i < token.length;) {
    const unit = token.charCodeAt(i);
    if (isLiteral(unit)) {
      topic += token[i++];
      continue;
    }
    if (unit !== 0x5f /* _ */) return undefined;
    const wide = token.charCodeAt(i + 1) === 0x5f;
    const digits = token.slice(wide ? i + 2 : i + 1, wide ? i + 6 : i + 3);
    const value = parseHex(digits, wide ? 4 : 2);
    // Only the form topicToSubject writes is accepted, so each topic has
    // exactly one subject (no `_41` for "A", no `__00E9` for "é").
    if (value === undefined || isLiteral(value) || (wide && value <= 0xff)) return undefined;
    topic += String.fromCharCode(value);
    i += wide ? 6 : 3;
  }
  return topic === "" ? undefined : topic;
}

function isLiteral(unit: number): boolean {
  return (unit >= 0x30 && unit <= 0x39) || (unit >= 0x41 && unit <= 0x5a) ||
    (unit >= 0x61 && unit <= 0x7a) || unit === 0x2d;
}

function hex(value: number, width: number): string {
  return value.toString(16).toUpperCase().padStart(width, "0");
}

function parseHex(digits: string, width: number): number | undefined {
  if (digits.length !== width) return undefined;
  let value = 0;
  for (let i = 0; i < width; i++) {
    const c = digits.charCodeAt(i);
    const nibble = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (nibble < 0) return undefined;
    value = value * 16 + nibble;
  }
  return value;
}
