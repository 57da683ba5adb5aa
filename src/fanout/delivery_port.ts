/**
 * How the hub writes to one subscriber: the channel's own internals when it
 * is one of ours, or its public `sink` for any other {@linkcode WebSocketChannel}
 * implementation (with the bytes in flight counted, so the slow-subscriber
 * bound holds there too).
 *
 * @module
 */
import { type ChannelInternals, internalsOf, offerAllowed } from "../channel/channel_internals.ts";
import { closeSink } from "../channel/channel_sink.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";

/** What the hub needs of a subscriber; see {@linkcode ChannelInternals}. */
export type DeliveryPort = ChannelInternals;

/**
 * The port for `channel`.
 *
 * @example
 * ```ts
 * import { deliveryPort } from "./delivery_port.ts";
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
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
  const isOpen = () => open && channel.closeCode === undefined;
  return {
    acceptsFrames: false,
    deflate: undefined,
    nativeTopics: undefined,
    isOpen,
    backlog: () => inFlight,
    offerFrames: () => 2,
    flush: () => {},
    offerMessage(message, limit) {
      if (!isOpen()) return 2;
      // UTF-16 length for text: an estimate is enough for a bound, and costs no encoding.
      const size = typeof message === "string" ? message.length : message.byteLength;
      if (!offerAllowed(inFlight, size, limit)) return 1;
      inFlight += size;
      channel.sink.add(message).then(
        () => inFlight -= size,
        () => inFlight -= size,
      );
      return 0;
    },
    // The public sink allows 1000 and 3000–4999 only; the slow-subscriber 1008 becomes 1000.
    close: (code, reason) => closeSink(channel.sink, code, reason),
  };
}
