/**
 * The client side of the opening handshake over a raw byte-stream pair (a
 * TCP socket, an in-memory pair), followed by the engine channel. This is
 * what the TCP transports of `connect()` are built on.
 *
 * @module
 */
import { PerMessageDeflate } from "../deflate/permessage_deflate.ts";
import { resolveCompression } from "../deflate/compression_options.ts";
import { createUpgradeRequest, verifyUpgradeResponse } from "../handshake/client_handshake.ts";
import { HandshakeError, HandshakeErrorCode } from "../handshake/errors.ts";
import { encodeRequestHead, type Http1HeadResult } from "../handshake/http1_codec.ts";
import { parseStatusLine } from "../handshake/http1_start_line.ts";
import { WebSocketError } from "../engine/errors.ts";
import { ConnectError } from "./errors.ts";
import {
  DEFAULT_STREAM_HANDSHAKE_TIMEOUT,
  dropStreams,
  type HandshakeLimits,
  type HandshakeReader,
  type HandshakeWriter,
  readHead,
} from "./handshake_streams.ts";
import { type ByteStreams, StreamChannel, type StreamChannelSettings } from "./stream_channel.ts";

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
 * @example A client and a server over an in-memory connection
 * ```ts
 * import { clientOverStreams, serverOverStreams } from "@wsc/websocket-channel/engine";
 * import { createByteStreamPair } from "@wsc/websocket-channel/testing";
 *
 * const [clientSide, serverSide] = createByteStreamPair();
 * const client = clientOverStreams("ws://example.com/chat", clientSide, { protocols: ["chat"] });
 * const { channel: server } = await serverOverStreams(serverSide, { protocols: ["chat"] });
 * await client.ready;
 * console.assert(client.protocol === "chat");
 * await client.sink.add("hello");
 * const reader = server.stream.getReader();
 * console.assert((await reader.read()).value === "hello");
 * reader.releaseLock();
 * await Promise.all([client.sink.close(1000), server.stream.cancel()]);
 * await Promise.all([client.closed, server.closed]);
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
    Promise.resolve(streams).then((s) => dropStreams(s), () => {});
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
  // A transport with direct access (a socket) is read and written without Web Streams.
  const direct = streams.direct?.();
  const writer: HandshakeWriter = direct ? direct.writer : streams.writable.getWriter();
  let result: Http1HeadResult;
  let agreed: { protocol: string; extensions: string };
  let deflate: PerMessageDeflate | null;
  try {
    ({ result } = await withDeadline(options, async (reader) => {
      await writer.write(encodeRequestHead(target, request.headers));
      return readHead(reader, options.maxHeadSize);
    }, direct ? direct.reader : streams.readable.getReader()));
    const { status } = parseStatusLine(result.head.startLine);
    agreed = await verifyUpgradeResponse(
      { status, headers: result.head.headers },
      { key, protocols: options.protocols, extensions: offer || undefined },
    );
    deflate = PerMessageDeflate.acceptResponse(agreed.extensions || null, options.compression);
  } catch (error) {
    dropStreams(streams, writer);
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
  writer.releaseLock?.();
  channel.open(streams, {
    protocol: agreed.protocol,
    extensions: agreed.extensions,
    deflate: deflate ?? undefined,
    head: result.rest,
  });
}

/** Runs `step` with a reader, bounded by the handshake timeout and the abort signal. */
async function withDeadline<T>(
  options: HandshakeLimits & { signal?: AbortSignal },
  step: (reader: HandshakeReader) => Promise<T>,
  reader: HandshakeReader,
): Promise<{ result: T }> {
  const timeout = options.handshakeTimeout ?? DEFAULT_STREAM_HANDSHAKE_TIMEOUT;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new HandshakeError(
          HandshakeErrorCode.timeout,
          `Opening handshake not done within ${timeout} ms`,
          { status: 408 },
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
