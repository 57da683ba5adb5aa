/**
 * The opening handshake over a raw byte-stream pair (a TCP socket, an
 * in-memory pair), client and server side, followed by the engine channel.
 * This is what the TCP transports and engine servers are built on.
 *
 * @module
 */
import { PerMessageDeflate } from "../deflate/permessage_deflate.ts";
import { type Compression, resolveCompression } from "../deflate/compression_options.ts";
import { createUpgradeRequest, verifyUpgradeResponse } from "../handshake/client_handshake.ts";
import { HandshakeError, HandshakeErrorCode } from "../handshake/errors.ts";
import {
  encodeRequestHead,
  encodeResponseHead,
  Http1HeadReader,
  type Http1HeadResult,
} from "../handshake/http1_codec.ts";
import { parseRequestLine, parseStatusLine } from "../handshake/http1_start_line.ts";
import type { OriginPolicy } from "../handshake/origin_policy.ts";
import {
  createRejection,
  createUpgradeResponseHeaders,
  type HandshakeRejection,
  verifyUpgradeRequest,
} from "../handshake/server_handshake.ts";
import type { SubprotocolSelector } from "../handshake/subprotocol.ts";
import {
  appendHeaders,
  encodeRefusal,
  lateUpgradeCheck,
  runUpgradeHook,
  type UpgradeHook,
  type UpgradeOutcome,
} from "../handshake/upgrade_hook.ts";
import { WebSocketError } from "../engine/errors.ts";
import { concat } from "../_util/bytes.ts";
import { ConnectError } from "./errors.ts";
import { type ByteStreams, StreamChannel, type StreamChannelSettings } from "./stream_channel.ts";
import type { ByteReader, ByteWriter } from "./stream_channel_options.ts";

/** Options shared by both sides of the handshake. */
export interface HandshakeLimits {
  /**
   * Milliseconds allowed for the whole opening handshake (slowloris guard).
   * @default {30000}
   */
  handshakeTimeout?: number;
  /** Largest HTTP head accepted, in bytes (more is HTTP 431). @default {16384} */
  maxHeadSize?: number;
  /** permessage-deflate: off by default; `true` for defaults or settings. */
  compression?: Compression;
}

/** Options of {@linkcode clientOverStreams}. */
export interface ClientOverStreamsOptions
  extends Omit<StreamChannelSettings, "role">, HandshakeLimits {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string | string[];
  /** Extra request headers (e.g. `Authorization`); handshake headers are refused. */
  headers?: HeadersInit;
  /** Cancels the handshake: `ready` rejects with `WS_CONNECT_ABORTED`. */
  signal?: AbortSignal;
}

/**
 * Performs the client handshake over `streams` (or the streams a pending
 * connection will give) and returns the channel at once; `ready` resolves when the server's 101 was verified and rejects with
 * a `HandshakeError` (`status` set for a non-101 answer) or a `ConnectError`
 * (`WS_CONNECT_ABORTED`, `WS_CONNECT_FAILED` when the connection ended
 * first); the streams are then closed. Programming errors throw at the call
 * (the streams are closed too): `SyntaxError` for a bad URL, scheme or
 * subprotocol, `TypeError` for a bad header, `TypeError` / `RangeError` for
 * invalid `compression` settings.
 *
 * @example
 * ```ts ignore
 * import { clientOverStreams } from "@wsc/websocket-channel/engine";
 *
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * const channel = clientOverStreams("ws://127.0.0.1:8080/chat", conn, { protocols: ["chat"] });
 * await channel.ready;
 * ```
 */
export function clientOverStreams(
  url: string | URL,
  streams: ByteStreams | Promise<ByteStreams>,
  options: ClientOverStreamsOptions = {},
): StreamChannel {
  let offer: string;
  let upgrade: ReturnType<typeof createUpgradeRequest>;
  try {
    // Invalid settings, URL, subprotocols or headers throw at the call, not mid-handshake.
    options = { ...options, compression: resolveCompression(options.compression) ?? false };
    offer = PerMessageDeflate.createOffer(options.compression);
    upgrade = createUpgradeRequest(url, {
      protocols: options.protocols,
      headers: options.headers,
      extensions: offer || undefined,
    });
  } catch (error) {
    // Nothing may be sent; a connection still being opened is closed when it arrives.
    Promise.resolve(streams).then((s) => drop(s), () => {});
    throw error;
  }
  const channel = new StreamChannel({ ...options, role: "client" });
  runClient(channel, upgrade, offer, streams, options).catch((error) =>
    channel.abortOpening(error)
  );
  return channel;
}

async function runClient(
  channel: StreamChannel,
  upgrade: ReturnType<typeof createUpgradeRequest>,
  offer: string,
  transport: ByteStreams | Promise<ByteStreams>,
  options: ClientOverStreamsOptions,
): Promise<void> {
  const { request, key } = upgrade;
  const streams = await transport;
  const target = `${request.url.pathname || "/"}${request.url.search}`;
  const writer = streams.writable.getWriter();
  let result: Http1HeadResult;
  let agreed: { protocol: string; extensions: string };
  let deflate: PerMessageDeflate | null;
  try {
    ({ result } = await withDeadline(options, async (reader) => {
      await writer.write(encodeRequestHead(target, request.headers));
      return readHead(reader, options);
    }, streams.readable.getReader()));
    const { status } = parseStatusLine(result.head.startLine);
    agreed = await verifyUpgradeResponse(
      { status, headers: result.head.headers },
      { key, protocols: options.protocols, extensions: offer || undefined },
    );
    deflate = PerMessageDeflate.acceptResponse(agreed.extensions || null, options.compression);
  } catch (error) {
    drop(streams, writer);
    // A reset or a failed write is the transport's own error (Deno's ConnectionReset, Node's
    // ECONNRESET): give the same typed error everywhere, the original as its cause.
    if (error instanceof WebSocketError) throw error;
    throw new ConnectError(
      "WS_CONNECT_FAILED",
      `Connection to ${request.url.host} failed during the opening handshake: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  writer.releaseLock();
  channel.open(streams, {
    protocol: agreed.protocol,
    extensions: agreed.extensions,
    deflate: deflate ?? undefined,
    head: result.rest,
  });
}

/** Options of {@linkcode serverOverStreams}. */
export interface ServerOverStreamsOptions
  extends Omit<StreamChannelSettings, "role">, HandshakeLimits {
  /** Supported subprotocols, or a function choosing one of the offered. */
  protocols?: SubprotocolSelector;
  /** Origin allowlist or callback; every origin is allowed by default. */
  origins?: OriginPolicy;
  /** Refuse (403) a request without an `Origin` header. @default {false} */
  requireOrigin?: boolean;
  /**
   * The application's check of a valid upgrade request (see the servers'
   * `onUpgrade`). It runs within `handshakeTimeout`: still running then, it
   * is answered 503, the request's `signal` aborts and the promise rejects
   * with `WS_HANDSHAKE_TIMEOUT` (status 503). A throw answers 500 and
   * rejects with `WS_HANDSHAKE_HOOK_FAILED` (status 500, `cause` the error); a
   * `Response` is sent as the answer and rejects with
   * `WS_HANDSHAKE_BAD_STATUS` carrying its status.
   */
  onUpgrade?: UpgradeHook<unknown>;
  /** The connection is TLS: request URLs start with `https:`. @default {false} */
  secure?: boolean;
}

/** The upgrade request as read from the wire. */
export interface UpgradeRequestInfo {
  /** The request method (always `GET` once accepted). */
  method: string;
  /** `http://host/target`, built from the `Host` header and the request target. */
  url: string;
  /** The request headers. */
  headers: Headers;
}

/** An accepted upgrade: the open server channel and what the client asked. */
export interface ServerUpgrade {
  /** The open channel (role `server`). */
  channel: StreamChannel;
  /** The upgrade request. */
  request: UpgradeRequestInfo;
  /** The `data` that `onUpgrade` gave, `undefined` without it. */
  data: unknown;
}

/**
 * Milliseconds a refused connection is kept after its answer while the
 * client's remaining bytes are read and dropped (see {@linkcode RequestInput.linger}).
 */
const LINGER_MS = 2000;
/** Bytes read and dropped after a refusal before the connection is closed anyway. */
const LINGER_BYTES = 1024 * 1024;

/**
 * Reads an upgrade request from `streams`, answers it, and resolves with the
 * open server channel. A request that fails the checks gets its HTTP error
 * (400, 403, 426, 431, …), and so does a request whose head is not complete
 * within `handshakeTimeout` (408); the connection is then closed and the
 * promise rejects with a `HandshakeError` carrying that `status`
 * (`WS_HANDSHAKE_TIMEOUT` for 408). After an error answer the connection is
 * closed in stages (RFC 7230 §6.6): our side is shut, what the client still
 * sends is read and dropped until it closes too (at most 2 s and 1 MiB), so
 * the answer is not lost to a TCP reset. A connection that ends before a
 * complete head rejects with `WS_CONNECT_FAILED` and gets no answer. Invalid
 * `compression` settings reject with `TypeError` / `RangeError`, and the
 * client gets a 500.
 *
 * @example An engine echo server over Deno.listen
 * ```ts ignore
 * import { serverOverStreams } from "@wsc/websocket-channel/engine";
 *
 * for await (const conn of Deno.listen({ port: 8080 })) {
 *   serverOverStreams(conn).then(({ channel }) => channel.stream.pipeTo(channel.sink), () => {});
 * }
 * ```
 */
export async function serverOverStreams(
  streams: ByteStreams,
  options: ServerOverStreamsOptions = {},
): Promise<ServerUpgrade> {
  // Invalid settings reject with TypeError / RangeError; the client still gets
  // an answer (500, once its request was read) instead of a reset.
  let configError: unknown;
  try {
    options = { ...options, compression: resolveCompression(options.compression) ?? false };
  } catch (error) {
    configError = error ?? new Error("Invalid server options");
  }
  // A transport with direct access (a Node socket) is read and written without Web Streams.
  const direct = streams.direct?.();
  const writer: HandshakeWriter = direct ? direct.writer : streams.writable.getWriter();
  const input = new RequestInput(direct ? direct.reader : streams.readable.getReader());
  const timeout = options.handshakeTimeout ?? 30_000;
  const started = Date.now();
  const timer = setTimeout(() => {
    input.fail(
      new HandshakeError(
        HandshakeErrorCode.timeout,
        `Opening handshake not done within ${timeout} ms`,
        { status: 408 },
      ),
    );
  }, timeout);
  let result: Http1HeadResult;
  try {
    result = await input.head(options.maxHeadSize);
  } catch (error) {
    const status = error instanceof HandshakeError ? error.status : undefined;
    if (status !== undefined) {
      await refuse(streams, writer, input, createRejection(status, (error as Error).message));
    } else {
      input.cancel();
      drop(streams, writer);
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
  if (configError !== undefined) {
    await refuse(streams, writer, input, createRejection(500, "Internal Server Error"));
    throw configError;
  }
  const { head } = result;
  let line;
  try {
    line = parseRequestLine(head.startLine);
  } catch (error) {
    await refuse(streams, writer, input, createRejection(400, "Invalid HTTP request line"));
    throw error;
  }
  const request: UpgradeRequestInfo = {
    method: line.method,
    url: requestUrl(line.target, head.headers.get("host"), options.secure),
    headers: head.headers,
  };
  const verdict = await verifyUpgradeRequest(
    { method: line.method, headers: head.headers, url: request.url, httpVersion: line.version },
    {
      protocols: options.protocols,
      origins: options.origins,
      requireOrigin: options.requireOrigin,
    },
  );
  if (!verdict.ok) {
    const { status, body } = verdict.response;
    await refuse(streams, writer, input, verdict.response);
    throw new HandshakeError(
      HandshakeErrorCode.badStatus,
      `Upgrade refused with ${status}: ${body}`,
      { status },
    );
  }
  let decided: Decided = { accepted: true, headers: new Headers(), data: undefined };
  if (options.onUpgrade) {
    try {
      decided = await decideInTime(options.onUpgrade, request, {
        remaining: timeout - (Date.now() - started),
        timeout,
      });
    } catch (error) {
      // The body never repeats the application's error to the client.
      await refuse(
        streams,
        writer,
        input,
        (error as HandshakeError).status === 503
          ? lateUpgradeCheck(timeout).rejection
          : createRejection(500, "Internal Server Error"),
      );
      throw error;
    }
    if (!decided.accepted) {
      await refuse(streams, writer, input, decided.refusal);
      throw new HandshakeError(
        HandshakeErrorCode.badStatus,
        `Upgrade refused by onUpgrade with ${decided.status}`,
        { status: decided.status },
      );
    }
  }
  let accepted: ReturnType<typeof PerMessageDeflate.acceptOffer>;
  try {
    accepted = PerMessageDeflate.acceptOffer(
      verdict.offeredExtensions || null,
      options.compression,
    );
  } catch (error) {
    // Our own settings failed, not the request: answer rather than drop the socket.
    await refuse(streams, writer, input, createRejection(500, "Internal Server Error"));
    throw error;
  }
  const headers = await createUpgradeResponseHeaders(verdict.key, {
    protocol: verdict.protocol,
    extensions: accepted?.response,
  });
  appendHeaders(headers, decided.headers);
  await writer.write(encodeResponseHead(101, headers));
  writer.releaseLock?.();
  input.release();
  const channel = new StreamChannel({ ...options, role: "server" });
  channel.open(streams, {
    protocol: verdict.protocol,
    extensions: accepted?.response ?? "",
    deflate: accepted?.deflate,
    head: result.rest,
  });
  return { channel, request, data: decided.data };
}

/** What {@linkcode decideInTime} found: accept, or the refusal's bytes. */
type Decided =
  | Extract<UpgradeOutcome<unknown>, { accepted: true }>
  | { accepted: false; status: number; refusal: Uint8Array };

/**
 * Runs `hook` on the request within `remaining` ms (the rest of the
 * handshake's time), a refusal's body included. When time runs out the
 * request's `signal` aborts and this rejects with `WS_HANDSHAKE_TIMEOUT`
 * (status 503: the server, not the client, was too slow).
 */
async function decideInTime(
  hook: UpgradeHook<unknown>,
  info: UpgradeRequestInfo,
  { remaining, timeout }: { remaining: number; timeout: number },
): Promise<Decided> {
  const expired = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const { error } = lateUpgradeCheck(timeout);
      expired.abort(error);
      reject(error);
    }, Math.max(0, remaining));
  });
  const request = new Request(info.url, { headers: info.headers, signal: expired.signal });
  const decided = (async (): Promise<Decided> => {
    const outcome = await runUpgradeHook(hook, request);
    if (outcome.accepted) return outcome;
    const { status } = outcome.response;
    try {
      return { accepted: false, status, refusal: await encodeRefusal(outcome.response) };
    } catch (error) {
      throw new HandshakeError(
        HandshakeErrorCode.upgradeHookFailed,
        `onUpgrade's Response cannot be sent: ${(error as Error).message}`,
        { status: 500, cause: error },
      );
    }
  })();
  decided.catch(() => {}); // a late failure lost the race
  try {
    return await Promise.race([decided, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Answers a connection with `rejection` without reading its request (a
 * server at its limit answers 503 this way), then closes it in stages like
 * every refusal of {@linkcode serverOverStreams}: our side is shut, the
 * client's bytes are read and dropped until it closes (at most 2 s and
 * 1 MiB), then the transport is closed. Never rejects.
 *
 * @param streams The connection.
 * @param rejection The answer, e.g. `createRejection(503, "Server busy")`.
 * @returns Resolves once the transport is closed.
 *
 * @example Refuse every connection with 503
 * ```ts ignore
 * import { refuseOverStreams } from "./stream_handshake.ts";
 * import { createRejection } from "../handshake/server_handshake.ts";
 *
 * for await (const conn of Deno.listen({ port: 8080 })) {
 *   refuseOverStreams(conn, createRejection(503, "Server busy"));
 * }
 * ```
 */
export async function refuseOverStreams(
  streams: ByteStreams,
  rejection: HandshakeRejection,
): Promise<void> {
  try {
    const direct = streams.direct?.();
    const writer: HandshakeWriter = direct ? direct.writer : streams.writable.getWriter();
    const input = new RequestInput(direct ? direct.reader : streams.readable.getReader());
    await refuse(streams, writer, input, rejection);
  } catch {
    drop(streams);
  }
}

/**
 * The reading side of a server handshake: the request head, and after a
 * refusal the lingering read that drops what the client still sends. One
 * read at a time: a read left pending by {@linkcode fail} is taken over by
 * {@linkcode linger}.
 */
class RequestInput {
  readonly #reader: HandshakeReader;
  #pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  #stopped = false;
  #fail: ((error: unknown) => void) | undefined;

  constructor(reader: HandshakeReader) {
    this.#reader = reader;
  }

  #read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const read = this.#reader.read();
    this.#pending = read;
    const clear = () => {
      if (this.#pending === read) this.#pending = undefined;
    };
    read.then(clear, clear);
    return read;
  }

  /** Reads one head; rejects on a bad or oversized head, an early end, or {@linkcode fail}. */
  head(maxHeadSize: number | undefined): Promise<Http1HeadResult> {
    return new Promise<Http1HeadResult>((resolve, reject) => {
      this.#fail = reject;
      const parser = new Http1HeadReader({ maxHeadSize });
      const loop = async () => {
        for (;;) {
          const { value, done } = await this.#read();
          if (this.#stopped) return;
          if (done) {
            throw new ConnectError(
              "WS_CONNECT_FAILED",
              "The connection closed during the opening handshake",
            );
          }
          const result = parser.push(value);
          // `rest` is a view into this chunk: copy it, the transport may reuse its buffers.
          if (result) return resolve({ head: result.head, rest: concat([result.rest]) });
        }
      };
      loop().catch(reject);
    });
  }

  /** Stops waiting for the head: it rejects with `error` (a read in progress stays pending). */
  fail(error: unknown): void {
    this.#stopped = true;
    this.#fail?.(error);
  }

  /**
   * After our answer and our half-close, reads and drops the client's bytes
   * until it closes its side, `LINGER_BYTES` were dropped or `ms` passed.
   * Closing a socket with unread input makes the kernel send a reset, and a
   * reset can destroy the answer before the client reads it (RFC 7230 §6.6).
   */
  async linger(ms: number): Promise<void> {
    this.#stopped = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    const drained = (async () => {
      let dropped = 0;
      for (;;) {
        const { value, done } = await (this.#pending ?? this.#read());
        if (done || (dropped += value.byteLength) > LINGER_BYTES) return;
      }
    })().catch(() => {});
    try {
      await Promise.race([drained, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends reading (and a read still pending); closes a direct transport. */
  cancel(): void {
    this.#stopped = true;
    this.#reader.cancel().catch(() => {});
  }

  /** Hands the reader back (the head was read, no read is pending). */
  release(): void {
    this.#reader.releaseLock?.();
  }
}

/**
 * Sends a refusal, shuts our side, lingers (see {@linkcode RequestInput.linger})
 * and closes the connection: a refused upgrade must not stay open. Bounded
 * by `LINGER_MS` in all, even when the write cannot complete (a TLS peer
 * that never finishes its handshake).
 */
async function refuse(
  streams: ByteStreams,
  writer: HandshakeWriter,
  input: RequestInput,
  rejection: HandshakeRejection | Uint8Array,
): Promise<void> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(resolve, LINGER_MS, false)));
  let answered = false;
  const sent = (async () => {
    await writer.write(
      rejection instanceof Uint8Array ? rejection : concat([
        encodeResponseHead(rejection.status, rejection.headers),
        new TextEncoder().encode(rejection.body),
      ]),
    );
    await writer.close();
    return true;
  })().catch(() => false);
  try {
    answered = await Promise.race([sent, expired]);
    if (answered) await input.linger(LINGER_MS - (Date.now() - started));
  } finally {
    clearTimeout(timer);
  }
  // Answered and shut: ending the reading side closes the transport without a reset
  // of what the client has yet to read (an in-memory pair's close() would drop it).
  input.cancel();
  if (!answered) drop(streams, writer);
}

/** Reads one HTTP head; the reader is released afterwards. */
async function readHead(
  reader: ByteReader,
  options: HandshakeLimits,
): Promise<Http1HeadResult> {
  const parser = new Http1HeadReader({ maxHeadSize: options.maxHeadSize });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      throw new ConnectError(
        "WS_CONNECT_FAILED",
        "The connection closed during the opening handshake",
      );
    }
    const result = parser.push(value);
    // `rest` is a view into this chunk: copy it, the transport may reuse its buffers.
    if (result) return { head: result.head, rest: concat([result.rest]) };
  }
}

/** Runs `step` with a reader, bounded by the handshake timeout and the abort signal. */
async function withDeadline<T>(
  options: HandshakeLimits & { signal?: AbortSignal },
  step: (reader: HandshakeReader) => Promise<T>,
  reader: HandshakeReader,
): Promise<{ result: T }> {
  const timeout = options.handshakeTimeout ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new HandshakeError(
          HandshakeErrorCode.timeout,
          `Opening handshake not done within ${timeout} ms`,
          {
            status: 408,
          },
        ),
      );
    }, timeout);
    const signal = options.signal;
    if (signal) {
      onAbort = () =>
        reject(
          signal.reason instanceof WebSocketError
            ? signal.reason
            : new ConnectError("WS_CONNECT_ABORTED", "The opening handshake was aborted", {
              cause: signal.reason,
            }),
        );
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  try {
    const result = await Promise.race([step(reader), stop]);
    reader.releaseLock?.();
    return { result };
  } catch (error) {
    // A read may still be pending (timeout, abort): cancelling ends it and the transport.
    if (error instanceof HandshakeError && error.status !== 408 && reader.releaseLock) {
      reader.releaseLock();
    } else reader.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
  }
}

function drop(streams: ByteStreams, writer?: HandshakeWriter): void {
  const swallow = () => {};
  if (writer) writer.abort().catch(swallow);
  else if (!streams.direct && !streams.writable.locked) streams.writable.abort().catch(swallow);
  if (streams.direct) streams.direct().reader.cancel().catch(swallow);
  else if (!streams.readable.locked) streams.readable.cancel().catch(swallow);
  // Aborting waits for a write in progress; closing the transport does not.
  try {
    streams.close?.();
  } catch { /* already closed */ }
}

/** A stream reader, or a transport's direct reader (which has no lock to release). */
type HandshakeReader = ByteReader & { releaseLock?(): void };
/** A stream writer, or a transport's direct writer. */
type HandshakeWriter = ByteWriter & { releaseLock?(): void };

function requestUrl(target: string, host: string | null, secure = false): string {
  const origin = `${secure ? "https" : "http"}://${host ?? "localhost"}`;
  try {
    return new URL(target, origin).href;
  } catch {
    return `${origin}${target.startsWith("/") ? target : "/"}`;
  }
}
