/**
 * One WebSocket upgrade on a `node:http` `'upgrade'` event, with the
 * engine: the handshake checks, `onUpgrade`, the 101 or the refusal, and
 * the staged close of refused sockets. Shared by `attach()`,
 * `handleUpgrade()` and `serve()` in `./node.ts`.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import {
  createRejection,
  createUpgradeResponseHeaders,
  type HandshakeRejection,
  verifyUpgradeRequest,
} from "../handshake/server_handshake.ts";
import { checkHeadLimits, encodeResponseHead } from "../handshake/http1_codec.ts";
import {
  appendHeaders,
  encodeRefusal,
  runUpgradeHook,
  type UpgradeOutcome,
} from "../handshake/upgrade_hook.ts";
import { HandshakeError } from "../handshake/errors.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { StreamChannel } from "../channel/stream_channel.ts";
import { PerMessageDeflate } from "../deflate/permessage_deflate.ts";
import { concat } from "../_util/bytes.ts";
import { socketTransport } from "./node_socket_transport.ts";
import type { ServerConnections } from "./server_connections.ts";
import { reportServerError, type UpgradeOptions } from "./serve_options.ts";

/**
 * The WHATWG request of an `'upgrade'` event: URL with host, headers; no
 * body. Always a GET: only a GET passes the handshake checks (which read
 * `req.method` themselves), and fetch refuses methods such as TRACE.
 */
function toRequest(req: IncomingMessage, secure: boolean, signal?: AbortSignal): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  const host = headers.get("host") ?? "localhost";
  return new Request(`${secure ? "https" : "http"}://${host}${req.url ?? "/"}`, {
    headers,
    signal,
  });
}

/** Milliseconds a refused socket is kept after its answer (as serverOverStreams). */
const LINGER_MS = 2000;
/**
 * Sockets already answered: node:http may report one error several times.
 *
 * @example
 * ```ts ignore
 * import { refused } from "./node_upgrade.ts";
 *
 * if (refused.has(socket)) socket.destroy();
 * ```
 */
export const refused: WeakSet<Duplex> = new WeakSet<Duplex>();

/**
 * Answers and closes in stages (RFC 7230 §6.6): shut our side, read and drop
 * what the client still sends until it closes or `LINGER_MS` pass, then
 * destroy. Destroying with unread input would send a TCP reset, which can
 * destroy the answer before the client reads it.
 *
 * @example
 * ```ts ignore
 * import { writeRejection } from "./node_upgrade.ts";
 *
 * writeRejection(socket, 404, new Headers({ "content-length": "9" }), "Not found");
 * ```
 */
export function writeRejection(socket: Duplex, status: number, headers: Headers, body: string) {
  const bytes = new TextEncoder().encode(body);
  writeAnswer(socket, concat([encodeResponseHead(status, headers), bytes]));
}

/** Writes a whole refusal (head and body) and closes in stages, as {@linkcode writeRejection}. */
function writeAnswer(socket: Duplex, answer: Uint8Array) {
  if (refused.has(socket)) return;
  refused.add(socket);
  if (!socket.writable || socket.writableEnded) return void socket.destroy();
  socket.end(answer);
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  (timer as { unref?: () => void }).unref?.();
  socket.once("close", () => clearTimeout(timer));
  socket.on("data", () => {});
  socket.resume();
}

/**
 * Answers with `rejection` and closes in stages (see {@linkcode writeRejection}).
 *
 * @example
 * ```ts ignore
 * import { refuseWith } from "./node_upgrade.ts";
 * import { createRejection } from "../handshake/server_handshake.ts";
 *
 * refuseWith(socket, createRejection(503, "Busy"));
 * ```
 */
export function refuseWith(socket: Duplex, rejection: HandshakeRejection): void {
  writeRejection(socket, rejection.status, rejection.headers, rejection.body);
}

/**
 * Answers 500: our own settings or the application's check failed during a
 * handshake, not the client's request.
 *
 * @example
 * ```ts ignore
 * import { writeServerError } from "./node_upgrade.ts";
 *
 * writeServerError(socket);
 * ```
 */
export function writeServerError(socket: Duplex): void {
  const { status, headers, body } = createRejection(500, "Internal Server Error");
  writeRejection(socket, status, headers, body);
}

/**
 * Completes one upgrade: checks the request (431, 400, 403, …), runs
 * `onUpgrade`, writes the 101 and hands the open channel to `connections`.
 * `deadline` (from `serve()`) aborts when the handshake's time is up;
 * `serve()` has then answered 503 itself. Rejects only for invalid
 * `compression` settings (after answering 500).
 *
 * @example
 * ```ts ignore
 * import { upgradeWith } from "./node_upgrade.ts";
 *
 * server.on("upgrade", (req, socket, head) => upgradeWith(connections, req, socket, head, options));
 * ```
 */
export async function upgradeWith(
  connections: ServerConnections,
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  // deno-lint-ignore no-explicit-any
  options: UpgradeOptions<any>,
  deadline?: AbortSignal,
): Promise<WebSocketChannel | undefined> {
  // Answered already (408 while node:http still parsed the head): nothing more to say.
  if (refused.has(socket)) return undefined;
  socket.on("error", () => socket.destroy());
  // node:http takes up to 2,000 fields: the same 431 limits as our own head reader.
  const tooLarge = checkHeadLimits(
    `${req.method} ${req.url} HTTP/${req.httpVersion}`,
    req.rawHeaders,
  );
  if (tooLarge) {
    refuseWith(socket, createRejection(431, tooLarge.message));
    return undefined;
  }
  const secure = Boolean((socket as { encrypted?: boolean }).encrypted);
  // Aborts once the handshake is given up: the client left, or serve()'s deadline passed.
  const givenUp = new AbortController();
  const giveUp = () =>
    givenUp.abort(deadline?.reason ?? new Error("The client closed the connection"));
  socket.once("close", giveUp);
  deadline?.addEventListener("abort", giveUp, { once: true });
  const request = toRequest(req, secure, givenUp.signal);
  const verdict = await verifyUpgradeRequest(
    {
      method: req.method ?? "",
      headers: request.headers,
      url: request.url,
      httpVersion: `HTTP/${req.httpVersion}`,
    },
    {
      protocols: options.protocols,
      origins: options.origins,
      requireOrigin: options.requireOrigin,
    },
  );
  if (!verdict.ok) {
    const { status, headers, body } = verdict.response;
    writeRejection(socket, status, headers, body);
    return undefined;
  }
  const outcome = await decide(options, request, socket);
  socket.off("close", giveUp);
  deadline?.removeEventListener("abort", giveUp);
  if (!outcome || socket.destroyed || refused.has(socket)) return undefined;
  let accepted: ReturnType<typeof PerMessageDeflate.acceptOffer>;
  try {
    accepted = PerMessageDeflate.acceptOffer(
      verdict.offeredExtensions || null,
      options.compression,
    );
  } catch (error) {
    // Our settings, not the request, are at fault: say so rather than drop the socket.
    writeServerError(socket);
    throw error;
  }
  const headers = appendHeaders(
    await createUpgradeResponseHeaders(verdict.key, {
      protocol: verdict.protocol,
      extensions: accepted?.response,
    }),
    outcome.headers,
  );
  if (socket.destroyed || refused.has(socket)) return undefined;
  (socket as Socket).setNoDelay?.(true);
  (socket as Socket).setTimeout?.(0);
  socket.write(encodeResponseHead(101, headers));
  const channel = new StreamChannel({
    role: "server",
    maxMessageSize: options.maxMessageSize,
    maxFragments: options.maxFragments,
    answerPingMessages: options.answerPingMessages,
    closeTimeout: options.closeTimeout,
  });
  channel.open(socketTransport(socket as Socket), {
    protocol: verdict.protocol,
    extensions: accepted?.response ?? "",
    deflate: accepted?.deflate,
    head: head.byteLength > 0 ? head : undefined,
  });
  return connections.track(channel, request, outcome.data);
}

/**
 * Runs `onUpgrade` until it settles or the request's signal aborts, and
 * answers a refusal (its `Response`), a failure (500, reported) or a late
 * check (reported; `serve()` answered 503). Returns the acceptance, or
 * `undefined` when the upgrade must not go on.
 */
async function decide(
  // deno-lint-ignore no-explicit-any
  options: UpgradeOptions<any>,
  request: Request,
  socket: Duplex,
): Promise<Extract<UpgradeOutcome<unknown>, { accepted: true }> | undefined> {
  const { signal } = request;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    const outcome = await Promise.race([runUpgradeHook(options.onUpgrade, request), aborted]);
    if (outcome.accepted) return outcome;
    writeAnswer(socket, await Promise.race([encodeRefusal(outcome.response), aborted]));
  } catch (error) {
    if (error instanceof HandshakeError && error.status === 503) {
      reportServerError(options.onError, error, request); // too slow: serve() answered 503
    } else if (!signal.aborted) {
      reportServerError(options.onError, (error as Error).cause ?? error, request);
      writeServerError(socket);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return undefined;
}
