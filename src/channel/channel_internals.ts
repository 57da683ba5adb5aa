/**
 * What servers and the topic hub need from a channel beyond its public
 * interface: closing with any wire code, the bytes waiting to be written,
 * and writing a message without a promise per send. Each channel
 * implementation provides it under one symbol, so a hub or a server
 * registry works with channels of every kind (engine, native `WebSocket`,
 * Bun's native socket) without knowing which it holds.
 *
 * @module
 */
import { closeSink } from "./channel_sink.ts";
import type { MessageDeflate } from "./channel_types.ts";

/**
 * The key under which a channel exposes its {@linkcode ChannelInternals}.
 * `Symbol.for`, so two copies of the library in one program still agree.
 *
 * @example
 * ```ts
 * import { CHANNEL_INTERNALS } from "./channel_internals.ts";
 *
 * console.assert(typeof CHANNEL_INTERNALS === "symbol");
 * ```
 */
export const CHANNEL_INTERNALS: unique symbol = Symbol.for("websocket-channel.internals") as never;

/**
 * The key under which a WHATWG-like socket object (Bun's server socket shim)
 * offers {@linkcode NativeTopics} to the channel that wraps it.
 *
 * @example
 * ```ts
 * import { NATIVE_TOPICS } from "./channel_internals.ts";
 *
 * console.assert(typeof NATIVE_TOPICS === "symbol");
 * ```
 */
export const NATIVE_TOPICS: unique symbol = Symbol.for("websocket-channel.nativeTopics") as never;

/**
 * The key of a channel's method that registers a {@linkcode CloseWatcher}
 * without creating its `closed` promise (see {@linkcode watchClose}).
 *
 * @example
 * ```ts
 * import { CLOSE_WATCH } from "./channel_internals.ts";
 *
 * console.assert(typeof CLOSE_WATCH === "symbol");
 * ```
 */
export const CLOSE_WATCH: unique symbol = Symbol.for("websocket-channel.closeWatch") as never;

/**
 * Told once when a channel has closed. One object with a method serves many
 * channels (a server's registry, a heartbeat), so watching a connection costs
 * no closure and no promise.
 */
export interface CloseWatcher {
  /** The channel closed (`closed` has resolved, or is about to). */
  channelClosed(channel: object): void;
}

/**
 * Calls `watcher.channelClosed(channel)` once `channel` has closed. An engine
 * channel records the watcher and calls it when it finishes (no `closed`
 * promise is created for it); any other channel is watched through `closed`.
 * A watcher that throws has its error reported asynchronously, as a
 * promise callback's would be.
 *
 * @example
 * ```ts
 * import { watchClose } from "./channel_internals.ts";
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
 *
 * const [client, server] = createChannelPair();
 * let closed = false;
 * watchClose(server, { channelClosed: () => closed = true });
 * await client.sink.close(1000);
 * await server.closed;
 * await Promise.resolve();
 * console.assert(closed);
 * ```
 */
export function watchClose(
  channel: { readonly closed: Promise<unknown> },
  watcher: CloseWatcher,
): void {
  const watch = (channel as { [CLOSE_WATCH]?: (watcher: CloseWatcher) => void })[CLOSE_WATCH];
  if (watch !== undefined) return watch.call(channel, watcher);
  channel.closed.then(() => watcher.channelClosed(channel));
}

/** Platform topics (Bun's `subscribe`/`publish`), for channels over such a socket. */
export interface NativeTopics {
  /** The server the socket belongs to: a publish reaches its subscribers. */
  readonly server: object;
  /** Subscribes this socket to `topic`. */
  subscribe(topic: string): void;
  /** Unsubscribes this socket from `topic`. */
  unsubscribe(topic: string): void;
  /** Publishes to every subscriber of `topic` on this socket's server but this socket. */
  publishFromHere(topic: string, data: string | Uint8Array): void;
  /** Publishes to every subscriber of `topic` on this socket's server. */
  publishToAll(topic: string, data: string | Uint8Array): void;
}

/**
 * What {@linkcode ChannelInternals.offerFrames} and
 * {@linkcode ChannelInternals.offerMessage} did: `0` written (queued and
 * being written), `1` refused because the bytes waiting would pass the limit,
 * `2` refused because the channel is not open (or is closing).
 */
export type OfferResult = 0 | 1 | 2;

/** A channel's internals; see {@linkcode CHANNEL_INTERNALS}. */
export interface ChannelInternals {
  /**
   * Whether the channel accepts pre-encoded frames ({@linkcode ChannelInternals.offerFrames}):
   * a server-side engine connection, whose frames are unmasked.
   */
  readonly acceptsFrames: boolean;
  /** The negotiated permessage-deflate, for connections that accept frames. */
  readonly deflate: MessageDeflate | undefined;
  /** Platform topics, when the socket has them. */
  readonly nativeTopics: NativeTopics | undefined;
  /** Whether messages may still be sent (open, and no close requested). */
  isOpen(): boolean;
  /** Bytes accepted for sending that the transport has not taken yet. */
  backlog(): number;
  /**
   * Queues complete unmasked frames, unless the channel is not open or its
   * backlog is non-zero and would pass `limit` with them. One call per
   * subscriber and message on the fan-out path: no promise, no exception.
   * Nothing is written until {@linkcode ChannelInternals.flush}, so that all
   * the messages published in one turn of the event loop leave in one write.
   * Only where `acceptsFrames`.
   */
  offerFrames(frames: Uint8Array, limit: number): OfferResult;
  /**
   * Starts writing what {@linkcode ChannelInternals.offerFrames} queued (the
   * last write of this turn of the event loop for this connection). A failed
   * write ends the connection as any other would.
   */
  flush(): void;
  /**
   * Sends one message without waiting, on the same terms as
   * {@linkcode ChannelInternals.offerFrames} (native sockets, client connections).
   */
  offerMessage(message: string | Uint8Array, limit: number): OfferResult;
  /** Closes with any code valid on the wire (1001, 1008, 1013, …). */
  close(code: number, reason: string): Promise<void>;
}

/**
 * Applies the fan-out limit: nothing waiting always takes a message (however
 * large), a backlog that would pass `limit` refuses it.
 *
 * @example
 * ```ts
 * import { offerAllowed } from "./channel_internals.ts";
 *
 * console.assert(offerAllowed(0, 5_000_000, 1024));
 * console.assert(!offerAllowed(1000, 100, 1024));
 * ```
 */
export function offerAllowed(backlog: number, size: number, limit: number): boolean {
  return backlog === 0 || backlog + size <= limit;
}

/**
 * The internals of a channel made by this library, `undefined` for any other
 * object that merely implements {@linkcode WebSocketChannel}.
 *
 * @example
 * ```ts
 * import { fromStreams } from "./stream_channel.ts";
 * import { internalsOf } from "./channel_internals.ts";
 *
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const channel = fromStreams({ readable, writable }, { role: "server" });
 * console.assert(internalsOf(channel)?.acceptsFrames === true);
 * console.assert(internalsOf({} as never) === undefined);
 * ```
 */
export function internalsOf(channel: object): ChannelInternals | undefined {
  return (channel as { [CHANNEL_INTERNALS]?: ChannelInternals })[CHANNEL_INTERNALS];
}

/**
 * Closes `channel` with any code valid on the wire (1001 for a server going
 * away, 1011 …): through its internals when it is one of ours, else through
 * its public sink, which may only send 1000 and 3000–4999 (the others
 * become 1000). Never throws.
 *
 * @example
 * ```ts
 * import { closeWithWireCode } from "./channel_internals.ts";
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
 *
 * const [client, server] = createChannelPair();
 * await closeWithWireCode(server, 1001, "going away");
 * console.assert((await client.closed).code === 1001);
 * ```
 */
export function closeWithWireCode(
  channel: { readonly sink: { close(code?: number, reason?: string): Promise<void> } },
  code: number,
  reason: string,
): Promise<void> {
  const internals = internalsOf(channel);
  try {
    return internals ? internals.close(code, reason) : closeSink(channel.sink, code, reason);
  } catch (error) {
    return Promise.reject(error);
  }
}
