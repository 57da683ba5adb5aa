/**
 * Test helpers: in-memory channels and byte streams, so code built on
 * `WebSocketChannel` can be tested without sockets.
 *
 * @example
 * ```ts
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
 *
 * const [client, server] = createChannelPair();
 * await client.sink.add("hello");
 * const { value } = await server.stream.getReader().read();
 * console.assert(value === "hello");
 * ```
 *
 * @module
 */
export {
  type ByteStreamEndpoint,
  type ByteStreamPairOptions,
  createByteStreamPair,
} from "./byte_stream_pair.ts";
export { type ChannelPair, type ChannelPairOptions, createChannelPair } from "./channel_pair.ts";
export { FakeClock } from "./fake_clock.ts";
export { FakeChannel, type FakeChannelOptions, FakePeer } from "./fake_channel.ts";
export { type FakeAttempt, type FakeOutcome, FakeTransport } from "./fake_transport.ts";
