/**
 * The options, publish options and counters of a `TopicHub`.
 *
 * @module
 */
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import type { Backplane, BackplaneStatus } from "./backplane.ts";

/** What happens to a subscriber whose unsent bytes would pass `maxBufferedBytes`. */
export type SlowSubscriberPolicy =
  /** Skip the message for that subscriber (counted in `stats().dropped`); it stays subscribed. */
  | "drop"
  /** Close that subscriber with 1013 (Try Again Later); a reconnecting client comes back later. */
  | "close";

/** Options of `TopicHub`. */
export interface TopicHubOptions {
  /**
   * Carries publishes to the hubs of other processes (`./backplane/redis`,
   * `./backplane/nats`, or your own). Without one, the hub is local.
   */
  backplane?: Backplane;
  /**
   * Bytes a subscriber may have waiting to be written before
   * `slowSubscriber` applies. A message is always written to a subscriber
   * with nothing waiting, however large.
   * @default {1048576}
   */
  maxBufferedBytes?: number;
  /**
   * What to do with a subscriber that reads too slowly. `"close"` keeps
   * every delivered stream gap-free (the client learns of the problem and
   * can reconnect); `"drop"` keeps the connection and loses messages.
   * @default {"close"}
   */
  slowSubscriber?: SlowSubscriberPolicy;
  /** This hub's id on the backplane (messages carrying it are ours). @default a random UUID */
  id?: string;
  /**
   * Called when the backplane loses or regains the bus (`"down"` / `"up"`).
   * While it is down, messages published by other processes do not reach
   * this one (pub/sub is at-most-once); what this process publishes waits or
   * fails as the backplane documents.
   */
  onBackplaneStatus?(status: BackplaneStatus): void;
  /**
   * Called with errors nobody has to await: a backplane that failed to
   * start, subscribe or unsubscribe, a publish the backplane refused (its
   * promise rejects too), a Bun native publish that threw. Undecodable
   * messages on the bus are the backplane's to report (its own `onError`).
   * @default {() => {}}
   */
  onError?(error: unknown): void;
}

/** Options of `TopicHub.publish`. */
export interface PublishOptions {
  /** A local subscriber that does not get this message (typically its sender). */
  except?: WebSocketChannel;
}

/** Counters of a `TopicHub`, since it was created. */
export interface TopicHubStats {
  /** `publish()` calls. */
  published: number;
  /** Messages that arrived from other processes through the backplane. */
  received: number;
  /** Messages handed to local subscribers (one per subscriber). */
  delivered: number;
  /** Messages skipped for slow subscribers (`slowSubscriber: "drop"`). */
  dropped: number;
  /** Subscribers closed for reading too slowly (`slowSubscriber: "close"`). */
  closedSlow: number;
  /** Publishes the backplane refused (`BackplaneError`). */
  backplaneFailures: number;
}
