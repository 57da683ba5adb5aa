/**
 * The one check of what may be sent as a WebSocket message, used by every
 * sending entry point (the channel sinks, the test fakes, the reconnecting
 * client, the topic hub). A value of any other type is a programming error:
 * it throws a `TypeError` at the call that names what was given, instead of
 * going out as garbage (`42` as 42 zero bytes or as the text `"42"`).
 *
 * @module
 */

/** What {@linkcode checkSendable} accepts beyond strings, buffers and views. */
export interface SendableRules {
  /** Whether a `Blob` is accepted (read before sending). @default {true} */
  blob?: boolean;
}

/**
 * Throws a `TypeError` unless `value` is a string, an `ArrayBuffer`, an
 * `ArrayBufferView` or (unless `rules.blob` is `false`) a `Blob`. The message
 * starts with `where` (the API the caller used) and names the value given.
 *
 * Views over a `SharedArrayBuffer` (and a `SharedArrayBuffer` itself) are
 * refused as the WHATWG `WebSocket.send()` refuses them: another thread may
 * change the bytes while they are framed, masked or compressed. Copy them
 * into an `ArrayBuffer` first (`view.slice()`).
 *
 * @param value The message.
 * @param where The API the caller used, e.g. `"sink.add"`.
 * @param rules Whether a `Blob` is accepted.
 * @throws {TypeError} When `value` cannot be sent.
 *
 * @example
 * ```ts
 * import { checkSendable } from "./sendable.ts";
 *
 * checkSendable("hello", "sink.add");
 * try {
 *   checkSendable(42, "sink.add");
 * } catch (error) {
 *   console.assert(error instanceof TypeError);
 *   console.assert((error as Error).message ===
 *     "sink.add expects a string, ArrayBuffer, ArrayBufferView or Blob; got number 42");
 * }
 * ```
 */
export function checkSendable(value: unknown, where: string, rules: SendableRules = {}): void {
  if (typeof value === "string") return;
  if (value instanceof ArrayBuffer) return;
  if (ArrayBuffer.isView(value)) {
    if (!isShared(value.buffer)) return;
  } else if (rules.blob !== false && typeof Blob !== "undefined" && value instanceof Blob) return;
  const accepted = rules.blob === false
    ? "a string, ArrayBuffer or ArrayBufferView"
    : "a string, ArrayBuffer, ArrayBufferView or Blob";
  throw new TypeError(`${where} expects ${accepted}; got ${describeValue(value)}`);
}

/**
 * Names a value for an error message: its type and, where short, its value
 * (`number 42`, `null`, `Object {"a":1}`, `Uint8Array over a SharedArrayBuffer`).
 *
 * @example
 * ```ts
 * import { describeValue } from "./sendable.ts";
 *
 * console.assert(describeValue(42) === "number 42");
 * console.assert(describeValue({ a: 1 }) === 'Object {"a":1}');
 * ```
 */
export function describeValue(value: unknown): string {
  try {
    return describe(value);
  } catch {
    // A proxy or a getter that throws while being looked at.
    return "a value that cannot be inspected";
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "string":
      return `string ${
        shorten(JSON.stringify(value.length > PREVIEW ? value.slice(0, PREVIEW) : value))
      }`;
    case "number":
    case "boolean":
      return `${typeof value} ${String(value)}`;
    case "bigint":
      return `bigint ${String(value)}n`;
    case "symbol":
      return `symbol ${String((value as symbol).description ?? "")}`;
    case "function":
      return `function ${(value as { name?: string }).name || "(anonymous)"}`;
  }
  const name = (value as object).constructor?.name ?? "Object";
  if (isShared(value)) return "SharedArrayBuffer";
  if (ArrayBuffer.isView(value) && isShared(value.buffer)) {
    return `${name} over a SharedArrayBuffer (copy it into an ArrayBuffer first)`;
  }
  if (name === "Object" || name === "Array" || (value as object).constructor === undefined) {
    const json = jsonPreview(value);
    if (json !== undefined) return `${name} ${shorten(json)}`;
  }
  return name;
}

/** How many characters of a value an error message shows. */
const PREVIEW = 40;

/**
 * The start of a plain value's JSON text, written only as far as an error
 * message shows it: a wrong value of any size costs the same to describe.
 * `undefined` for a cycle or a BigInt (the caller then gives the name alone).
 */
function jsonPreview(value: unknown): string | undefined {
  let out = "";
  const open = new Set<object>();
  // Returns false once enough is written.
  const write = (item: unknown): boolean => {
    if (out.length > PREVIEW) return false;
    if (typeof item === "string") {
      out += JSON.stringify(item.length > PREVIEW ? item.slice(0, PREVIEW) : item);
    } else if (typeof item === "bigint") {
      throw new TypeError("A BigInt has no JSON form");
    } else if (item === null || typeof item !== "object") {
      out += JSON.stringify(item) ?? "null";
    } else {
      if (open.has(item)) throw new TypeError("A cycle has no JSON form");
      open.add(item);
      if (Array.isArray(item)) {
        out += "[";
        for (let i = 0; i < item.length; i++) {
          if (i > 0) out += ",";
          if (!write(item[i])) return false;
        }
        out += "]";
      } else {
        out += "{";
        let first = true;
        for (const key of Object.keys(item)) {
          const field = (item as Record<string, unknown>)[key];
          if (field === undefined || typeof field === "function" || typeof field === "symbol") {
            continue;
          }
          if (!first) out += ",";
          first = false;
          out += `${JSON.stringify(key)}:`;
          if (!write(field)) return false;
        }
        out += "}";
      }
      open.delete(item);
    }
    return true;
  };
  try {
    write(value);
  } catch {
    return undefined;
  }
  return out;
}

function isShared(value: unknown): boolean {
  return typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer;
}

function shorten(text: string): string {
  return text.length <= PREVIEW ? text : `${text.slice(0, PREVIEW - 3)}...`;
}
