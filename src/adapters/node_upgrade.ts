/**
 * One WebSocket upgrade on a `node:http` `'upgrade'` event, with the
 * engine: the answer that every raw-socket server gives (see
 * `answerUpgrade`), written to the socket, the open channel handed on, and
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
  encodeRejection,
  type HandshakeRejection,
} from "../handshake/server_handshake.ts";
import { checkHeadLimits } from "../handshake/http1_codec.ts";
import { FieldHeaders } from "../handshake/field_headers.ts";
import { closingRejection, hookFailure } from "../handshake/upgrade_hook.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { StreamChannel } from "../channel/stream_channel.ts";
import { serverSettings } from "../channel/stream_channel_options.ts";
import { REFUSAL_LINGER_MS } from "../channel/request_input.ts";
import {
  decideUpgrade,
  type UpgradeAnswer,
  type UpgradeRequestHead,
} from "../channel/upgrade_answer.ts";
import { socketTransport } from "./node_socket_transport.ts";
import type { ServerConnections } from "./server_connections.ts";
import { reportServerError, type UpgradeOptions } from "./serve_options.ts";

/**
 * The request's head as received: the checks read `rawHeaders` in place
 * and the `Request` is filled from it (repeated fields appended, not
 * replaced); no `Headers` of its own.
 */
function requestHead(req: IncomingMessage): UpgradeRequestHead {
  return {
    method: req.method ?? "",
    target: req.url ?? "/",
    httpVersion: `HTTP/${req.httpVersion}`,
    headers: new FieldHeaders(req.rawHeaders),
  };
}

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
 * what the client still sends until it closes or `REFUSAL_LINGER_MS` pass,
 * then destroy. Destroying with unread input would send a TCP reset, which
 * can destroy the answer before the client reads it.
 *
 * @example
 * ```ts ignore
 * import { writeRejection } from "./node_upgrade.ts";
 *
 * writeRejection(socket, 404, new Headers({ "content-length": "9" }), "Not found");
 * ```
 */
export function writeRejection(socket: Duplex, status: number, headers: Headers, body: string) {
  writeAnswer(socket, encodeRejection({ status, headers, body }));
}

/** Writes a whole refusal (head and body) and closes in stages, as {@linkcode writeRejection}. */
function writeAnswer(socket: Duplex, answer: Uint8Array) {
  if (refused.has(socket)) return;
  refused.add(socket);
  if (!socket.writable || socket.writableEnded) return void socket.destroy();
  socket.end(answer);
  const timer = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
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
  writeAnswer(socket, encodeRejection(rejection));
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
  refuseWith(socket, createRejection(500, "Internal Server Error"));
}

/**
 * Completes one upgrade: checks the request (431, 400, 403, …), runs
 * `onUpgrade` (its failure reported to `onError`), writes the 101 and hands
 * the open channel to `connections`. `onUpgrade`'s request `signal` aborts
 * when the client leaves or `deadline` (from `serve()`) aborts; `serve()`
 * has then answered 503 itself. Rejects only for the server's own faults
 * (invalid `compression` settings, a `protocols` or `origins` callback that
 * throws), after answering 500.
 *
 * @example
 * ```ts ignore
 * import { upgradeWith } from "./node_upgrade.ts";
 *
 * server.on("upgrade", (req, socket, head) => upgradeWith(connections, req, socket, head, options));
 * ```
 */
export function upgradeWith(
  connections: ServerConnections,
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  // deno-lint-ignore no-explicit-any
  options: UpgradeOptions<any>,
  deadline?: AbortSignal,
): Promise<WebSocketChannel | undefined> {
  // Answered already (408 while node:http still parsed the head): nothing more to say.
  if (refused.has(socket)) return NO_CHANNEL;
  // Once: serve() has added it already (a second copy would grow the listener array).
  if (!socket.listeners("error").includes(destroySocket)) socket.on("error", destroySocket);
  // node:http takes up to 2,000 fields: the same 431 limits as our own head reader.
  const startLine = `${req.method} ${req.url} HTTP/${req.httpVersion}`;
  const tooLarge = checkHeadLimits(startLine, req.rawHeaders);
  if (tooLarge) {
    refuseWith(socket, createRejection(431, tooLarge.message));
    return NO_CHANNEL;
  }
  // Aborts once the handshake is given up: the client left, or serve()'s deadline passed.
  // Only onUpgrade can see it; without one, the request gets no signal to follow (a followed
  // signal keeps a listener and a finalizer per connection alive until the request is
  // collected).
  const givenUp = options.onUpgrade ? new AbortController() : undefined;
  const giveUp = givenUp &&
    (() => givenUp.abort(deadline?.reason ?? new Error("The client closed the connection")));
  if (giveUp) {
    socket.once("close", giveUp);
    deadline?.addEventListener("abort", giveUp, { once: true });
  }
  // Decided in this call without onUpgrade or policy callbacks: no promise to wait for.
  let answer: UpgradeAnswer | Promise<UpgradeAnswer>;
  try {
    answer = decideUpgrade(requestHead(req), {
      protocols: options.protocols,
      origins: options.origins,
      requireOrigin: options.requireOrigin,
      onUpgrade: options.onUpgrade,
      compression: options.compression,
      secure: Boolean((socket as { encrypted?: boolean }).encrypted),
      signal: givenUp?.signal,
    });
  } catch (error) {
    return serverFault(socket, giveUp, deadline, error);
  }
  if (answer instanceof Promise) {
    return answer.then(
      (decided) => {
        unfollow(socket, giveUp, deadline);
        return answered(connections, socket, head, options, decided);
      },
      (error) => serverFault(socket, giveUp, deadline, error),
    );
  }
  unfollow(socket, giveUp, deadline);
  try {
    return Promise.resolve(answered(connections, socket, head, options, answer));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What {@linkcode upgradeWith} resolves to when there is no channel. */
const NO_CHANNEL: Promise<undefined> = Promise.resolve(undefined);

/** Stops following the client's leaving and the deadline (for onUpgrade's signal). */
function unfollow(socket: Duplex, giveUp: (() => void) | undefined, deadline?: AbortSignal) {
  if (!giveUp) return;
  socket.off("close", giveUp);
  deadline?.removeEventListener("abort", giveUp);
}

/** Our settings, not the request, are at fault: say so rather than drop the socket. */
function serverFault(
  socket: Duplex,
  giveUp: (() => void) | undefined,
  deadline: AbortSignal | undefined,
  error: unknown,
): Promise<never> {
  unfollow(socket, giveUp, deadline);
  writeServerError(socket);
  return Promise.reject(error);
}

/** Writes the decided answer: the refusal, or the 101 and the channel opened and tracked. */
function answered(
  connections: ServerConnections,
  socket: Duplex,
  head: Uint8Array,
  // deno-lint-ignore no-explicit-any
  options: UpgradeOptions<any>,
  answer: UpgradeAnswer,
): WebSocketChannel | undefined {
  if (!answer.accepted) {
    // Written once: after serve()'s 503 or the client's leaving this is a no-op.
    writeAnswer(socket, answer.answer);
    const failure = hookFailure(answer.error);
    if (failure && answer.request) {
      reportServerError(options.onError, failure.error, answer.request);
    }
    return undefined;
  }
  if (socket.destroyed || refused.has(socket)) return undefined;
  // Decided after the server or handler closed: it opens no channel that nothing would close.
  if (connections.closing) {
    refuseWith(socket, closingRejection());
    return undefined;
  }
  (socket as Socket).setNoDelay?.(true);
  (socket as Socket).setTimeout?.(0);
  socket.write(answer.answer);
  const channel = new StreamChannel(serverSettings(options));
  channel.open(socketTransport(socket as Socket), {
    protocol: answer.protocol,
    extensions: answer.extensions,
    deflate: answer.deflate,
    head: head.byteLength > 0 ? head : undefined,
  });
  return connections.track(channel, answer);
}

/**
 * An `'error'` listener that ends the socket. A function of the module, not
 * a closure: a listener created inside the upgrade would keep everything the
 * upgrade's closures capture (the request, its signals) alive for the
 * connection's whole life.
 */
export function destroySocket(this: Duplex): void {
  this.destroy();
}
