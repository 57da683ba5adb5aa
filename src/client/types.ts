/**
 * The transport side of the client: the part of `WebSocketChannel` it uses,
 * and the connector that produces one (the message and close types are the
 * channel's own). Structural, so the real channel, a browser wrapper and
 * the in-memory fakes all fit.
 *
 * @module
 */
import { utf8Length } from "../_util/bytes.ts";
import type { CloseInfo, Message, Sendable } from "../channel/channel_types.ts";
import { checkSendable } from "../_util/sendable.ts";

export type { Message } from "../channel/channel_types.ts";

/** What `send()` accepts: the channel's `Sendable` without `Blob`; buffers and views are sent as binary. */
export type SendData = Exclude<Sendable, Blob>;

/** How a connection ended (the channel's `CloseInfo`). */
export type ChannelCloseInfo = CloseInfo;

/**
 * The subset of `WebSocketChannel` (src/channel/web_socket_channel.ts) that
 * the client relies on. Any real channel satisfies it.
 *
 * @example
 * ```ts
 * import type { ClientChannel } from "@wsc/websocket-channel/client";
 *
 * function isOpenable(channel: ClientChannel): Promise<void> {
 *   return channel.ready;
 * }
 * console.assert(typeof isOpenable === "function");
 * ```
 */
export interface ClientChannel {
  /** Received messages, one per chunk. */
  readonly stream: ReadableStream<Message>;
  /** The sending half: `add` resolves when the transport accepted the message. */
  readonly sink: {
    add(message: Message): Promise<void>;
    close(code?: number, reason?: string): Promise<void>;
  };
  /** Resolves when open; rejects (e.g. with an HTTP `status`) when the attempt failed. */
  readonly ready: Promise<void>;
  /** Resolves once with how the connection ended; never rejects. */
  readonly closed: Promise<ChannelCloseInfo>;
  /** The negotiated subprotocol. */
  readonly protocol: string;
  /** The negotiated extensions. */
  readonly extensions: string;
  /** Sends a protocol ping; resolves with the round-trip time in ms, rejects when unsupported. */
  ping(data?: string | Uint8Array): Promise<number>;
}

/**
 * Opens one connection. Must honour `signal`: when it aborts, the attempt is
 * abandoned (the client also closes any channel that arrives late).
 *
 * @example A connector over the channel's own `connect`
 * ```ts
 * import type { Connector } from "@wsc/websocket-channel/client";
 * import { connect } from "@wsc/websocket-channel";
 *
 * const connector: Connector = (url, { signal, protocols }) => connect(url, { signal, protocols });
 * console.assert(typeof connector === "function");
 * ```
 */
export type Connector = (
  url: string,
  options: { signal: AbortSignal; protocols?: string[] },
) => ClientChannel | Promise<ClientChannel>;

/**
 * Size in bytes of a message on the wire (payload only).
 *
 * @example
 * ```ts
 * import { messageSize } from "./types.ts";
 *
 * console.assert(messageSize(new Uint8Array(4)) === 4 && messageSize("ü") === 2);
 * ```
 */
export function messageSize(message: Message): number {
  return typeof message === "string" ? utf8Length(message) : message.byteLength;
}

const NO_BLOB = Object.freeze({ blob: false });

/**
 * Turns what `send()` accepts into a {@linkcode Message}; views become
 * `Uint8Array` views over the same bytes (no copy). Anything else throws the
 * shared `TypeError` naming the value, starting with `where`.
 *
 * @example
 * ```ts
 * import { toMessage } from "./types.ts";
 *
 * console.assert(toMessage(new ArrayBuffer(2)) instanceof Uint8Array);
 * ```
 */
export function toMessage(data: SendData, where = "client.send"): Message {
  if (typeof data === "string") return data;
  // A programming error (a number, an object, a SharedArrayBuffer view): thrown, never sent.
  checkSendable(data, where, NO_BLOB);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
