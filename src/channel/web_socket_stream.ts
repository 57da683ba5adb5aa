/**
 * `WebSocketStream`: the WHATWG WebSocketStream interface (the explainer and
 * the whatwg/websockets pull request that specifies it) over this library's
 * transports, so code written for Chrome's and Deno's `WebSocketStream` runs
 * unchanged on Node and Bun, and in browsers without one.
 *
 * @module
 */
import { checkSendable } from "../_util/sendable.ts";
import { utf8Length } from "../_util/bytes.ts";
import { isValidApplicationCloseCode } from "../engine/close_code.ts";
import { MAX_CLOSE_REASON_BYTES } from "../engine/close_payload.ts";
import { hasEngine, openConnection } from "./connect.ts";
import type { ConnectOptions } from "./connect_options.ts";
import { ConnectionClosedError } from "./errors.ts";
import type { CloseInfo, Message } from "./channel_types.ts";
import type { WebSocketChannel } from "./web_socket_channel.ts";

/** Options of {@linkcode WebSocketStream}: the standard two, plus this library's transport options. */
export interface WebSocketStreamOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string[];
  /** Aborting before the connection is open fails it: `opened` and `closed` reject with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Not in the standard: options of this library's `connect()` (`headers`,
   * `connectTimeout`, `maxMessageSize`, `compression`, `caCerts`, …) and
   * `transport`, which defaults to the engine over TCP/TLS on Deno, Node and
   * Bun (backpressure in both directions, protocol pings) and to the native
   * `WebSocket` elsewhere.
   */
  connectOptions?: Omit<ConnectOptions, "protocols" | "signal">;
}

/** What {@linkcode WebSocketStream.opened} resolves with. */
export interface WebSocketOpenInfo {
  /** The received messages, one per chunk: text as `string`, binary as `Uint8Array`. */
  readable: ReadableStream<string | Uint8Array>;
  /** Sends each chunk as one message: a `string` as text, a `BufferSource` as binary. */
  writable: WritableStream<string | BufferSource>;
  /** The negotiated extensions, `""` when none. */
  extensions: string;
  /** The negotiated subprotocol, `""` when none. */
  protocol: string;
}

/** A close code and reason: what `close()` takes and what `closed` resolves with. */
export interface WebSocketCloseInfo {
  /** The close code: 1000 or 3000–4999 when closing. */
  closeCode?: number;
  /** The close reason, at most 123 UTF-8 bytes. */
  reason?: string;
}

/**
 * A WebSocket client as a pair of streams, with the interface of the WHATWG
 * `WebSocketStream`: `opened` resolves with `{ readable, writable, protocol,
 * extensions }`, `closed` resolves with `{ closeCode, reason }` after a clean
 * close (and rejects with an error carrying `closeCode` and `reason`, named
 * `"WebSocketError"`, after an unclean one), `close({ closeCode, reason })`,
 * and a `signal` to abort the opening. The readable yields `string` for text
 * and `Uint8Array` for binary (as Deno and the draft do; Chromium gives
 * `ArrayBuffer`), the writable takes a `string` or any `BufferSource`. Both
 * apply backpressure; over a native `WebSocket`, which cannot stop reading,
 * unread messages are bounded instead (16 MiB, then the connection closes
 * with 1008). Cancelling the
 * readable or aborting the writable closes the connection, with the
 * `closeCode`/`reason` of the reason given when it has them (a
 * `WebSocketError`).
 *
 * Failures to open reject `opened` and `closed` with this library's typed
 * errors (`ConnectError`, `HandshakeError`, with `code` and, where known,
 * the HTTP `status`). Unobserved rejections never become unhandled ones.
 *
 * @example Echo one message
 * ```ts ignore
 * import { WebSocketStream } from "@wsc/websocket-channel";
 *
 * const wss = new WebSocketStream("wss://echo.example.com", { signal: AbortSignal.timeout(10_000) });
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * const { value } = await readable.getReader().read();
 * console.log(value);
 * wss.close({ closeCode: 1000, reason: "done" });
 * console.log(await wss.closed); // { closeCode: 1000, reason: "done" }
 * ```
 */
export class WebSocketStream {
  readonly #url: string;
  readonly #opened: Promise<WebSocketOpenInfo>;
  readonly #closed: Promise<WebSocketCloseInfo>;
  readonly #attempt = new AbortController();
  #channel: WebSocketChannel | undefined;
  #open = false;

  /**
   * Starts connecting.
   *
   * @param url A `ws:`/`wss:` URL (`http:`/`https:` are mapped to them; relative URLs resolve against the page).
   * @param options `protocols`, `signal`, and this library's `connectOptions`.
   * @throws {DOMException} `SyntaxError` for an invalid URL, a fragment, another scheme or duplicate/invalid protocols.
   */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    const target = parseUrl(url);
    const protocols = checkProtocols(options.protocols ?? []);
    this.#url = target.href;
    const signal = options.signal;
    if (signal?.aborted) {
      this.#opened = handled(Promise.reject(signal.reason));
      this.#closed = handled(Promise.reject(signal.reason));
      return;
    }
    const connectOptions = options.connectOptions ?? {};
    const channel = openConnection(target, {
      ...connectOptions,
      transport: connectOptions.transport ?? (hasEngine() ? "engine" : "auto"),
      protocols,
      signal: this.#attempt.signal,
    });
    this.#channel = channel;
    let abortReason: { reason: unknown } | undefined;
    const onAbort = () => {
      if (this.#open) return;
      abortReason = { reason: signal!.reason };
      this.#attempt.abort(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const opening = channel.ready.finally(() => signal?.removeEventListener("abort", onAbort));
    this.#opened = handled(opening.then(
      () => {
        this.#open = true;
        return this.#openInfo(channel);
      },
      (error) => {
        throw abortReason ? abortReason.reason : error;
      },
    ));
    this.#closed = handled(
      opening.then(
        () => channel.closed.then(closeResult),
        (error) => {
          throw abortReason ? abortReason.reason : error;
        },
      ),
    );
  }

  /** The URL connected to, serialized. */
  get url(): string {
    return this.#url;
  }

  /** Resolves once the connection is open; rejects when it could not be opened. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened;
  }

  /**
   * Resolves with `{ closeCode, reason }` after a clean close; rejects after
   * an unclean one (an error named `"WebSocketError"` with `closeCode`, 1006
   * when no close frame came, and `reason`) or when the connection never opened.
   */
  get closed(): Promise<WebSocketCloseInfo> {
    return this.#closed;
  }

  /**
   * Starts the closing handshake (before the connection is open, fails the
   * opening instead). Without a code the peer sees 1005; a reason without a
   * code closes with 1000.
   *
   * @param closeInfo The close code (1000 or 3000–4999) and reason (at most 123 UTF-8 bytes).
   * @throws {DOMException} `InvalidAccessError` for another code, `SyntaxError` for a longer reason.
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    const { code, reason } = checkCloseInfo(closeInfo);
    if (!this.#open) {
      this.#attempt.abort(new ConnectionClosedError(1006, "", { message: "Closed before open" }));
      return;
    }
    this.#channel!.sink.close(code, reason).catch(() => {});
  }

  #openInfo(channel: WebSocketChannel): WebSocketOpenInfo {
    const closeWith = (reason: unknown) => {
      const info = closeInfoOf(reason);
      const plain = () => channel.sink.close().catch(() => {});
      try {
        return channel.sink.close(info?.closeCode, info?.reason).catch(plain);
      } catch {
        // A code the sink does not send (it throws at the call): close without one.
        return plain();
      }
    };
    const source = channel.stream.getReader();
    const readable = new ReadableStream<Message>({
      pull: async (controller) => {
        let next: ReadableStreamReadResult<Message>;
        try {
          next = await source.read();
        } catch {
          controller.error(closeError(await channel.closed));
          return;
        }
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel: async (reason) => {
        source.cancel().catch(() => {});
        await closeWith(reason);
      },
    }, { highWaterMark: 0 });
    let writableController!: WritableStreamDefaultController;
    const writable = new WritableStream<string | BufferSource>({
      start: (controller) => void (writableController = controller),
      write: (chunk) => channel.sink.add(toMessage(chunk)),
      close: () => channel.sink.close(),
      abort: (reason) => closeWith(reason),
    });
    channel.closed.then((info) => {
      writableController.error(
        info.wasClean
          ? new DOMException("A closed WebSocketStream cannot be written to", "InvalidStateError")
          : closeError(info),
      );
    });
    return { readable, writable, extensions: channel.extensions, protocol: channel.protocol };
  }
}

/**
 * The error of an unclean close: a `ConnectionClosedError` named like the
 * standard's `WebSocketError`, with its `closeCode` and `reason`.
 */
class WebSocketCloseError extends ConnectionClosedError {
  /** The close reason (the standard's name for `closeReason`). */
  readonly reason: string;

  constructor(closeCode: number, reason: string) {
    super(closeCode, reason);
    this.name = "WebSocketError";
    this.reason = reason;
  }
}

function closeError(info: CloseInfo): WebSocketCloseError {
  return new WebSocketCloseError(info.code, info.reason);
}

function closeResult(info: CloseInfo): WebSocketCloseInfo {
  if (!info.wasClean) throw closeError(info);
  return { closeCode: info.code, reason: info.reason };
}

function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function syntaxError(message: string): DOMException {
  return new DOMException(message, "SyntaxError");
}

// The WHATWG "get a URL record" steps: http(s) become ws(s), no fragments.
function parseUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    parsed = new URL(String(url), base);
  } catch {
    throw syntaxError(`Invalid WebSocket URL: ${String(url)}`);
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw syntaxError(`WebSocket URLs use ws: or wss:, not ${parsed.protocol}`);
  }
  if (parsed.hash !== "" || String(url).includes("#")) {
    throw syntaxError("WebSocket URLs cannot have a fragment");
  }
  return parsed;
}

// RFC 6455 §4.1: Sec-WebSocket-Protocol elements are tokens, each offered once.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function checkProtocols(protocols: string[]): string[] {
  const list = [...protocols].map(String);
  const seen = new Set<string>();
  for (const protocol of list) {
    if (!TOKEN.test(protocol) || seen.has(protocol.toLowerCase())) {
      throw syntaxError(`Invalid or repeated subprotocol: ${JSON.stringify(protocol)}`);
    }
    seen.add(protocol.toLowerCase());
  }
  return list;
}

// The WHATWG close() rules (those of validateCloseArguments), with the standard's exception types.
function checkCloseInfo(info: WebSocketCloseInfo): { code?: number; reason?: string } {
  let code = info.closeCode;
  const reason = info.reason === undefined ? "" : String(info.reason);
  if (code !== undefined && code !== null) {
    code = Number(code);
    if (!Number.isInteger(code) || code < 0 || code > 0xffff) {
      throw new TypeError(`closeCode must be an unsigned short, not ${info.closeCode}`);
    }
    if (!isValidApplicationCloseCode(code)) {
      throw new DOMException(
        `Invalid close code ${code}: use 1000 or 3000–4999`,
        "InvalidAccessError",
      );
    }
  } else code = undefined;
  if (utf8Length(reason) > MAX_CLOSE_REASON_BYTES) {
    throw syntaxError(`The close reason is longer than ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes`);
  }
  if (reason !== "" && code === undefined) code = 1000;
  return { code, reason: reason === "" ? undefined : reason };
}

// A WebSocketError (the standard's, or any error carrying a closeCode) as a close to send.
function closeInfoOf(reason: unknown): { closeCode: number; reason?: string } | undefined {
  if (typeof reason !== "object" || reason === null) return undefined;
  const { closeCode, reason: text } = reason as { closeCode?: unknown; reason?: unknown };
  if (typeof closeCode !== "number") return undefined;
  return { closeCode, reason: typeof text === "string" && text !== "" ? text : undefined };
}

function toMessage(chunk: unknown): string | Uint8Array {
  if (typeof chunk === "string") return chunk;
  // The one check of what may be sent (a TypeError naming the value; no Blob, no shared memory).
  checkSendable(chunk, "A WebSocketStream write", { blob: false });
  // Copied: the standard sends the bytes as they were when written.
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk.slice(0));
  const view = chunk as ArrayBufferView;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}
