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
  parseRequestLine,
  parseStatusLine,
} from "../handshake/http1_codec.ts";
import type { OriginPolicy } from "../handshake/origin_policy.ts";
import {
  createUpgradeResponseHeaders,
  verifyUpgradeRequest,
} from "../handshake/server_handshake.ts";
import type { SubprotocolSelector } from "../handshake/subprotocol.ts";
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
 * a `HandshakeError` (`status` set for a non-101 answer), a `ConnectError`
 * (`WS_CONNECT_ABORTED`, `WS_CONNECT_FAILED` when the connection ended first)
 * or a `SyntaxError`/`TypeError` for a bad URL or header. On failure the
 * streams are closed. Invalid `compression` settings throw `TypeError` /
 * `RangeError` at the call (the streams are closed too).
 *
 * @example
 * ```ts ignore
 * import { clientOverStreams } from "./stream_handshake.ts";
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
  try {
    // Invalid settings throw TypeError / RangeError at the call, not mid-handshake.
    options = { ...options, compression: resolveCompression(options.compression) ?? false };
  } catch (error) {
    Promise.resolve(streams).then((s) => drop(s), () => {});
    throw error;
  }
  const channel = new StreamChannel({ ...options, role: "client" });
  runClient(channel, url, streams, options).catch((error) => channel.abortOpening(error));
  return channel;
}

async function runClient(
  channel: StreamChannel,
  url: string | URL,
  transport: ByteStreams | Promise<ByteStreams>,
  options: ClientOverStreamsOptions,
): Promise<void> {
  let offer: string;
  let upgrade: ReturnType<typeof createUpgradeRequest>;
  try {
    offer = PerMessageDeflate.createOffer(options.compression);
    upgrade = createUpgradeRequest(url, {
      protocols: options.protocols,
      headers: options.headers,
      extensions: offer || undefined,
    });
  } catch (error) {
    // Nothing may be sent; a connection still being opened is closed when it arrives.
    Promise.resolve(transport).then((streams) => drop(streams), () => {});
    throw error;
  }
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
}

/**
 * Reads an upgrade request from `streams`, answers it, and resolves with the
 * open server channel. A request that fails the checks gets its HTTP error
 * (400, 403, 426, 431, …), the connection is closed, and the promise rejects
 * with a `HandshakeError` carrying that `status`. A timeout rejects with
 * `WS_HANDSHAKE_TIMEOUT` (the connection is dropped, no answer is sent).
 * Invalid `compression` settings reject with `TypeError` / `RangeError`, and
 * the client gets a 500.
 *
 * @example An engine echo server over Deno.listen
 * ```ts ignore
 * import { serverOverStreams } from "./stream_handshake.ts";
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
  let result: Http1HeadResult;
  try {
    ({ result } = await withDeadline(
      options,
      (reader) => readHead(reader, options),
      direct ? direct.reader : streams.readable.getReader(),
    ));
  } catch (error) {
    const status = error instanceof HandshakeError ? error.status : undefined;
    if (status !== undefined && status !== 408) {
      await answer(
        streams,
        writer,
        status,
        new Headers({ connection: "close", "content-length": "0" }),
        "",
      );
    } else drop(streams, writer);
    throw error;
  }
  if (configError !== undefined) {
    await serverError(streams, writer);
    throw configError;
  }
  const { head } = result;
  let line;
  try {
    line = parseRequestLine(head.startLine);
  } catch (error) {
    await answer(
      streams,
      writer,
      400,
      new Headers({ connection: "close", "content-length": "0" }),
      "",
    );
    throw error;
  }
  const request: UpgradeRequestInfo = {
    method: line.method,
    url: requestUrl(line.target, head.headers.get("host")),
    headers: head.headers,
  };
  const verdict = await verifyUpgradeRequest(
    { method: line.method, headers: head.headers, url: request.url, httpVersion: line.version },
    { protocols: options.protocols, origins: options.origins },
  );
  if (!verdict.ok) {
    const { status, headers, body } = verdict.response;
    await answer(streams, writer, status, headers, body);
    throw new HandshakeError(
      HandshakeErrorCode.badStatus,
      `Upgrade refused with ${status}: ${body}`,
      { status },
    );
  }
  let accepted: ReturnType<typeof PerMessageDeflate.acceptOffer>;
  try {
    accepted = PerMessageDeflate.acceptOffer(
      verdict.offeredExtensions || null,
      options.compression,
    );
  } catch (error) {
    // Our own settings failed, not the request: answer rather than drop the socket.
    await serverError(streams, writer);
    throw error;
  }
  const headers = await createUpgradeResponseHeaders(verdict.key, {
    protocol: verdict.protocol,
    extensions: accepted?.response,
  });
  await writer.write(encodeResponseHead(101, headers));
  writer.releaseLock?.();
  const channel = new StreamChannel({ ...options, role: "server" });
  channel.open(streams, {
    protocol: verdict.protocol,
    extensions: accepted?.response ?? "",
    deflate: accepted?.deflate,
    head: result.rest,
  });
  return { channel, request };
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

/** Answers 500 (the server's settings are at fault) and closes the connection. */
function serverError(streams: ByteStreams, writer: HandshakeWriter): Promise<void> {
  const body = "Internal Server Error";
  const headers = new Headers({
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(body.length),
    connection: "close",
  });
  return answer(streams, writer, 500, headers, body);
}

/** Sends a refusal, then closes the connection (a refused upgrade must not stay open). */
async function answer(
  streams: ByteStreams,
  writer: HandshakeWriter,
  status: number,
  headers: Headers,
  body: string,
): Promise<void> {
  try {
    await writer.write(
      concat([encodeResponseHead(status, headers), new TextEncoder().encode(body)]),
    );
    await writer.close();
  } catch {
    writer.abort().catch(() => {});
  }
  if (streams.direct) streams.direct().reader.cancel().catch(() => {});
  else if (!streams.readable.locked) streams.readable.cancel().catch(() => {});
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

function requestUrl(target: string, host: string | null): string {
  try {
    return new URL(target, `http://${host ?? "localhost"}`).href;
  } catch {
    return `http://${host ?? "localhost"}${target.startsWith("/") ? target : "/"}`;
  }
}
