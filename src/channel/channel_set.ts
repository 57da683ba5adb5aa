/**
 * The live channels of a server (or of several: one set may be shared), for
 * counting, iterating and closing them all.
 *
 * @module
 */
import { type CloseWatcher, closeWithWireCode, watchClose } from "./channel_internals.ts";
import type { WebSocketChannel } from "./web_socket_channel.ts";

/**
 * A set of open channels that forgets each one when it closes. Every server
 * entry point adds its channels to one (`server.channels`, or the `channels`
 * option to share a set between entry points).
 *
 * @example Count, broadcast and close
 * ```ts
 * import { ChannelSet } from "@wsc/websocket-channel";
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
 *
 * const channels = new ChannelSet();
 * const [client, server] = createChannelPair();
 * channels.add(server);
 * console.assert(channels.size === 1);
 * for (const channel of channels) await channel.sink.add("to everyone");
 * await channels.closeAll(1001, "Server shutting down");
 * console.assert(channels.size === 0 && client.closeCode === 1001);
 * ```
 */
export class ChannelSet implements Iterable<WebSocketChannel> {
  readonly #channels = new Set<WebSocketChannel>();
  /** Takes a closed channel out; one for the set, not one per channel. */
  readonly #leaver: CloseWatcher = {
    channelClosed: (channel) => this.#channels.delete(channel as WebSocketChannel),
  };

  /** Number of open channels. */
  get size(): number {
    return this.#channels.size;
  }

  /**
   * Adds an open (or opening) channel; it leaves the set by itself once
   * closed. Adding a channel twice keeps one entry.
   */
  add(channel: WebSocketChannel): void {
    if (this.#channels.has(channel)) return;
    this.#channels.add(channel);
    watchClose(channel, this.#leaver);
  }

  /** Whether `channel` is in the set (open and added). */
  has(channel: WebSocketChannel): boolean {
    return this.#channels.has(channel);
  }

  /** The open channels, in the order they were added. */
  [Symbol.iterator](): IterableIterator<WebSocketChannel> {
    return this.#channels.values();
  }

  /**
   * Closes every channel with `code` and `reason`, and resolves once all have
   * ended (each within its close timeout). Any code valid on the wire is
   * allowed; a socket that only takes WHATWG codes (1000, 3000–4999) sends
   * 1000 for the others.
   *
   * @param code @default {1001}
   * @param reason At most 123 UTF-8 bytes. @default {"Server shutting down"}
   */
  async closeAll(code = 1001, reason = "Server shutting down"): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const channel of this.#channels) {
      const close = closeWithWireCode(channel, code, reason);
      close.catch(() => {});
      closing.push(channel.closed);
    }
    await Promise.all(closing);
  }
}
