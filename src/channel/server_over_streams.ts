/**
 * The server side of the opening handshake over a raw byte-stream pair (a
 * TCP socket, an in-memory pair): read the request head, answer it (see
 * {@linkcode answerUpgrade}), then run the engine channel. This is what the
 * engine servers of Deno and Bun are built on.
 *
 * @module
 */
import { resolveCompression } from "../deflate/compression_options.ts";
import { HandshakeError, HandshakeErrorCode } from "../handshake/errors.ts";
import type { Http1HeadResult } from "../handshake/http1_codec.ts";
import { parseRequestLine, type RequestLine } from "../handshake/http1_start_line.ts";
import type { OriginPolicy } from "../handshake/origin_policy.ts";
import { createRejection, type HandshakeRejection } from "../handshake/server_handshake.ts";
import type { SubprotocolSelector } from "../handshake/subprotocol.ts";
import {
  closingRejection,
  hookFailureRejection,
  lateUpgradeCheck,
  type UpgradeHook,
} from "../handshake/upgrade_hook.ts";
import {
  DEFAULT_STREAM_HANDSHAKE_TIMEOUT,
  dropStreams,
  type HandshakeLimits,
  type HandshakeWriter,
} from "./handshake_streams.ts";
import { refuse, RequestInput } from "./request_input.ts";
import { type ByteStreams, StreamChannel, type StreamChannelSettings } from "./stream_channel.ts";
import { type ResolvedSettings, serverSettings } from "./stream_channel_options.ts";
import { decideUpgrade, type UpgradeAnswer } from "./upgrade_answer.ts";

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

/**
 * {@linkcode ServerOverStreamsOptions} as a server passes them to
 * {@linkcode acceptOverStreams} for all its connections.
 */
export interface ServerSideOptions extends ServerOverStreamsOptions {
  /**
   * Aborts when the server closes: a decision still pending then ends at
   * once (`onUpgrade`'s signal aborted, its timer stopped) instead of at
   * `handshakeTimeout`.
   */
  closing?: AbortSignal;
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
  readonly channel: StreamChannel;
  /**
   * The upgrade request, as the `Request` that `onUpgrade` saw (method, URL
   * and headers as read from the wire); without `onUpgrade`, built when
   * first read.
   */
  readonly request: Request & UpgradeRequestInfo;
  /** The `data` that `onUpgrade` gave, `undefined` without it. */
  readonly data: unknown;
}

/**
 * An accepted upgrade whose `request` is built when first read (see
 * `decideUpgrade`): own, enumerable `channel`, `request` and `data`, as a
 * plain result has, so spreading it keeps them, and `url` beside them, not
 * enumerable. Made here, not in {@linkcode acceptOverStreams}: a getter made
 * there would keep that call's streams, reader and timers alive as long as
 * the result.
 */
function upgraded(
  channel: StreamChannel,
  answer: Extract<UpgradeAnswer, { accepted: true }>,
): ServerUpgrade & { readonly url: string } {
  const result = {
    channel,
    get request(): Request & UpgradeRequestInfo {
      return answer.request as Request & UpgradeRequestInfo;
    },
    data: answer.data,
  };
  return Object.defineProperty(result, "url", { value: answer.url }) as typeof result & {
    readonly url: string;
  };
}

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
 * `compression` settings, or a `protocols` / `origins` callback that throws,
 * reject with that error, and the client gets a 500. An options object is
 * read on the first connection that uses it: a server passes the same one
 * for all its connections, which then share their settings (a changed copy
 * is read anew).
 *
 * @example An engine echo server on one end of an in-memory connection
 * ```ts
 * import { clientOverStreams, serverOverStreams } from "@wsc/websocket-channel/engine";
 * import { createByteStreamPair } from "@wsc/websocket-channel/testing";
 *
 * const [clientSide, serverSide] = createByteStreamPair();
 * serverOverStreams(serverSide).then(
 *   ({ channel }) => channel.stream.pipeTo(channel.sink).catch(() => {}),
 *   () => {},
 * );
 * const client = clientOverStreams("ws://example.com/", clientSide);
 * await client.sink.add("echo?");
 * const reader = client.stream.getReader();
 * console.assert((await reader.read()).value === "echo?");
 * reader.releaseLock();
 * await client.sink.close(1000);
 * await client.closed;
 * ```
 */
export function serverOverStreams(
  streams: ByteStreams,
  options: ServerOverStreamsOptions = {},
): Promise<ServerUpgrade> {
  return acceptOverStreams(streams, options, options.onUpgrade);
}

/** What a server's options give every connection, worked out once per options object. */
interface ServerSetup {
  /** The options with `compression` resolved. */
  readonly options: ServerOverStreamsOptions;
  /** The channel settings all the connections share. */
  readonly settings: ResolvedSettings;
  /** Why the options are invalid (every request is then answered 500). */
  readonly error: unknown;
}

/** Per options object, its {@linkcode ServerSetup}. */
const setups = new WeakMap<ServerOverStreamsOptions, ServerSetup>();

/** The setup of `options`, made on the first connection that uses them. */
function setupOf(options: ServerOverStreamsOptions): ServerSetup {
  let setup = setups.get(options);
  if (setup !== undefined) return setup;
  // Invalid settings reject with TypeError / RangeError; the client still gets
  // an answer (500, once its request was read) instead of a reset.
  let error: unknown;
  let compression: ServerOverStreamsOptions["compression"] = false;
  try {
    compression = resolveCompression(options.compression) ?? false;
  } catch (cause) {
    error = cause ?? new Error("Invalid server options");
  }
  setup = { options: { ...options, compression }, settings: serverSettings(options), error };
  setups.set(options, setup);
  return setup;
}

/**
 * {@linkcode serverOverStreams} with the `onUpgrade` of this connection
 * given apart from the server's `options`, so that a server passes one
 * options object for all its connections (read once: their settings are
 * resolved on first use and shared) while it watches each hook call.
 *
 * @param streams The connection.
 * @param options The server's options, the same object for every connection.
 * @param onUpgrade This connection's check of the request (`options.onUpgrade` is not used).
 * @returns The accepted upgrade; rejects as {@linkcode serverOverStreams} does.
 *
 * @example
 * ```ts
 * import { createByteStreamPair } from "@wsc/websocket-channel/testing";
 * import { acceptOverStreams } from "./server_over_streams.ts";
 *
 * const options = { maxMessageSize: 1024 };
 * const [, server] = createByteStreamPair();
 * acceptOverStreams(server, options, undefined).catch(() => {});
 * ```
 */
export async function acceptOverStreams(
  streams: ByteStreams,
  serverOptions: ServerSideOptions,
  onUpgrade: UpgradeHook<unknown> | undefined,
): Promise<ServerUpgrade & { readonly url: string }> {
  const { options, settings, error: configError } = setupOf(serverOptions);
  const { closing } = serverOptions;
  // A transport with direct access (a Node socket) is read and written without Web Streams.
  const direct = streams.direct?.();
  const writer: HandshakeWriter = direct ? direct.writer : streams.writable.getWriter();
  const input = new RequestInput(direct ? direct.reader : streams.readable.getReader());
  const timeout = options.handshakeTimeout ?? DEFAULT_STREAM_HANDSHAKE_TIMEOUT;
  // One deadline for the whole handshake: a head still incomplete then is
  // answered 408, an `onUpgrade` still running 503 (the server was too slow).
  let headRead = false;
  // Only onUpgrade sees the request's signal; without one the request follows none (a
  // followed signal costs a controller, a dependent signal and its weak references).
  const expiry = onUpgrade ? new AbortController() : undefined;
  // Ends a decision still pending (onUpgrade, or an origins or protocols callback): at the
  // deadline, or when the server closes.
  let giveUp: ((reason: unknown) => void) | undefined;
  let onClosing: (() => void) | undefined;
  const timer = setTimeout(() => {
    if (headRead) {
      const { error } = lateUpgradeCheck(timeout);
      expiry?.abort(error);
      return giveUp?.(error);
    }
    input.fail(
      new HandshakeError(
        HandshakeErrorCode.timeout,
        `Opening handshake not done within ${timeout} ms`,
        { status: 408 },
      ),
    );
  }, timeout);
  let result: Http1HeadResult;
  let line: RequestLine;
  let answer: UpgradeAnswer;
  try {
    try {
      result = await input.head(options.maxHeadSize);
    } catch (error) {
      const status = error instanceof HandshakeError ? error.status : undefined;
      if (status !== undefined) {
        await refuse(streams, writer, input, createRejection(status, (error as Error).message));
      } else {
        input.cancel();
        dropStreams(streams, writer);
      }
      throw error;
    }
    headRead = true;
    if (configError !== undefined) throw await refused(500, configError);
    try {
      line = parseRequestLine(result.head.startLine);
    } catch (error) {
      throw await refused(400, error, "Invalid HTTP request line");
    }
    const { headers } = result.head;
    try {
      const decided = decideUpgrade(
        {
          method: line.method,
          target: line.target,
          httpVersion: line.version,
          headers,
          fields: result.head.fields,
        },
        { ...options, onUpgrade, signal: expiry?.signal },
      );
      if (decided instanceof Promise) {
        // A callback that never settles must not hold the connection: the decision ends at
        // the deadline, or once the server closes.
        const givenUp = new Promise<never>((_, reject) => (giveUp = reject));
        onClosing = () => {
          const reason = new Error("The server closed");
          expiry?.abort(reason);
          giveUp?.(reason);
        };
        if (closing?.aborted) onClosing();
        else closing?.addEventListener("abort", onClosing, { once: true });
        answer = await Promise.race([decided, givenUp]);
      } else {
        answer = decided;
      }
    } catch (error) {
      // Our own settings or callbacks failed, not the request: answer rather than drop it
      // (503 for a decision past the deadline or cut short by the server closing, 500 otherwise).
      const rejection = closing?.aborted ? closingRejection() : hookFailureRejection(error);
      await refuse(streams, writer, input, rejection);
      throw error;
    }
  } finally {
    clearTimeout(timer);
    if (onClosing) closing?.removeEventListener("abort", onClosing);
  }
  if (!answer.accepted) {
    await refuse(streams, writer, input, answer.answer);
    throw answer.error;
  }
  await writer.write(answer.answer);
  writer.releaseLock?.();
  input.release();
  const channel = new StreamChannel(settings);
  channel.open(streams, {
    protocol: answer.protocol,
    extensions: answer.extensions,
    deflate: answer.deflate,
    head: result.rest,
  });
  return upgraded(channel, answer);

  /** Answers `status` (the body: `message`, or the status's own) and gives `error` back. */
  async function refused(status: number, error: unknown, message = "Internal Server Error") {
    await refuse(streams, writer, input, createRejection(status, message));
    return error;
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
 * @example Refuse a connection with 503
 * ```ts
 * import { createByteStreamPair } from "@wsc/websocket-channel/testing";
 * import { createRejection } from "../handshake/server_handshake.ts";
 * import { refuseOverStreams } from "./server_over_streams.ts";
 *
 * const [client, server] = createByteStreamPair();
 * const done = refuseOverStreams(server, createRejection(503, "Server busy"));
 * const { value } = await client.readable.getReader().read();
 * console.assert(new TextDecoder().decode(value).startsWith("HTTP/1.1 503 "));
 * await client.writable.close();
 * await done;
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
    dropStreams(streams);
  }
}
