/**
 * Header fields as received, read in place: what a server checks an upgrade
 * request against before anything else is built from it.
 *
 * @module
 */

/** What the handshake checks read from a request's headers; a `Headers` fits. */
export interface HeaderLookup {
  /** The field's value, repeated fields joined with `, `; `null` when absent. */
  get(name: string): string | null;
}

function isHttpWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** The value as `Headers` keeps it: leading and trailing HTTP whitespace removed. */
function normalized(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** Whether `name` is `lower` compared ASCII case-insensitively, without a lower-cased copy. */
function sameName(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * A flat list of header fields (name, value, name, value, … as `node:http`
 * gives `rawHeaders`), read the way a `Headers` filled from it would answer
 * `get()`, without building one. A server reads a few fields of each upgrade
 * request and then fills the `Request` its application sees from the same
 * list: a `Headers` built only for the checks would be a second copy of every
 * field (on Node about 1.5 KB of garbage per upgrade).
 *
 * @example
 * ```ts
 * import { FieldHeaders } from "./field_headers.ts";
 *
 * const fields = new FieldHeaders(["Host", "a", "Connection", "keep-alive", "connection", "Upgrade"]);
 * console.assert(fields.get("connection") === "keep-alive, Upgrade");
 * console.assert(fields.get("origin") === null);
 * const request = new Request("http://a/");
 * fields.appendTo(request.headers);
 * console.assert(request.headers.get("host") === "a");
 * ```
 */
export class FieldHeaders implements HeaderLookup {
  /** Names at even indices, their values after them. */
  readonly raw: readonly string[];

  /** @param raw Names at even indices, each followed by its value. */
  constructor(raw: readonly string[]) {
    this.raw = raw;
  }

  /**
   * The value of `name` (lower-case) as `Headers.get` gives it: every field of
   * that name, trimmed, joined with `, `; `null` when there is none.
   */
  get(name: string): string | null {
    const raw = this.raw;
    let value: string | null = null;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (!sameName(raw[i], name)) continue;
      const next = normalized(raw[i + 1]);
      value = value === null ? next : `${value}, ${next}`;
    }
    return value;
  }

  /**
   * Appends every field, in order, to `headers`, leaving out any that
   * `Headers` refuses (a name or value the HTTP parser took, such as a
   * request smuggled past a lenient one): a server builds its `Request`
   * from these when the application first reads it, which must not throw.
   */
  appendTo(headers: Headers): void {
    const raw = this.raw;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      try {
        headers.append(raw[i], raw[i + 1]);
      } catch { /* not a valid field for Headers */ }
    }
  }
}
