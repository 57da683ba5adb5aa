/**
 * Fan-out: {@linkcode TopicHub} subscribes channels to named topics and
 * publishes to them (each message encoded once, compressed once per
 * setting, slow subscribers handled by policy), and the contract of a
 * cross-process {@linkcode Backplane} (implementations: the
 * `./backplane/redis` and `./backplane/nats` subpaths).
 *
 * @example
 * ```ts ignore
 * import { TopicHub } from "@wsc/websocket-channel/fanout";
 * import type { WebSocketChannel } from "@wsc/websocket-channel";
 *
 * const hub = new TopicHub();
 * function onChannel(channel: WebSocketChannel) {
 *   hub.subscribe(channel, "news");
 * }
 * await hub.publish("news", "hello");
 * ```
 *
 * @module
 */
export {
  type PublishOptions,
  type SlowSubscriberPolicy,
  TopicHub,
  type TopicHubOptions,
  type TopicHubStats,
} from "./topic_hub.ts";
export {
  type Backplane,
  BackplaneError,
  type BackplaneErrorCode,
  type BackplaneMessage,
  type BackplaneReceiver,
  type BackplaneStatus,
} from "./backplane.ts";
