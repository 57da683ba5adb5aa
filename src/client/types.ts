/**
 * The transport side of the client: the part of `WebSocketChannel` it uses,
 * and the connector that produces one. Structural, so the real channel, a
 * browser wrapper and the in-memory fakes all fit.
 *
 * @module
 */
import { checkSendable } from "../_util/sendable.ts";

/** A WebSocket message: text as a string, binary as bytes. */
export type Message = string | Uint8Array;

/** What `send()` accepts; buffers and views are sent as binary. */
export type SendData = string | Uint8Array | ArrayBuffer | ArrayBufferView;

/** How a connection ended. */
export interface ChannelCloseInfo {
  /** The close code (1006 when no close frame was exchanged). */
  code: number;
  /** The close reason, `""` when none. */
  reason: string;
  /** Whether both close frames were exchanged. */
  wasClean: boolean;
}

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
 * Number of UTF-8 bytes of a string without encoding it (lone surrogates
 * count as U+FFFD, 3 bytes, as `TextEncoder` would send them).
 *
 * @example
 * ```ts
 * import { utf8Length } from "./types.ts";
 *
 * console.assert(utf8Length("héllo €") === 10);
 * ```
 */
export function utf8Length(text: string): number {
  // ASCII is the common case: one byte per code unit up to the first other one.
  let first = 0;
  while (first < text.length && text.charCodeAt(first) < 0x80) first++;
  if (first === text.length) return first;
  let bytes = first;
  for (let i = first; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

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
  checkSendable(data, where, { blob: false });
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
