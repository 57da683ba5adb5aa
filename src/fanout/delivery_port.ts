/**
 * How the hub writes to one subscriber: the channel's own internals when it
 * is one of ours, or its public `sink` for any other {@linkcode WebSocketChannel}
 * implementation (with the bytes in flight counted, so the slow-subscriber
 * bound holds there too).
 *
 * @module
 */
import { type ChannelInternals, internalsOf } from "../channel/channel_internals.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";

/** What the hub needs of a subscriber; see {@linkcode ChannelInternals}. */
export type DeliveryPort = ChannelInternals;

/**
 * The port for `channel`.
 *
 * @example
 * ```ts
 * import { deliveryPort } from "./delivery_port.ts";
 * import { createChannelPair } from "../testing/channel_pair.ts";
 *
 * const [client, server] = createChannelPair();
 * console.assert(deliveryPort(server).acceptsFrames && !deliveryPort(client).acceptsFrames);
 * await client.sink.close();
 * ```
 */
export function deliveryPort(channel: WebSocketChannel): DeliveryPort {
  return internalsOf(channel) ?? sinkPort(channel);
}

function sinkPort(channel: WebSocketChannel): DeliveryPort {
  let inFlight = 0;
  let open = true;
  channel.closed.then(() => open = false);
  return {
    acceptsFrames: false,
    deflate: undefined,
    nativeTopics: undefined,
    isOpen: () => open && channel.closeCode === undefined,
    backlog: () => inFlight,
    writeFrames: () => {
      throw new TypeError("This channel cannot take pre-encoded frames");
    },
    sendNow(message) {
      // UTF-16 length for text: an estimate is enough for a bound, and costs no encoding.
      const size = typeof message === "string" ? message.length : message.byteLength;
      inFlight += size;
      channel.sink.add(message).then(
        () => inFlight -= size,
        () => inFlight -= size,
      );
    },
    close: (code, reason) => channel.sink.close(code, reason),
  };
}
