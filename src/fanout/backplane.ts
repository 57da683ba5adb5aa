/**
 * The contract between a {@linkcode TopicHub} and the message bus that joins
 * hubs in several processes (Redis, NATS, …). A hub delivers its own
 * publishes locally and hands them to the backplane; the backplane carries
 * them to every other hub subscribed to the topic, which delivers them to its
 * local subscribers. Implementations live in their own subpaths
 * (`./backplane/redis`, `./backplane/nats`) so the core has no dependency.
 *
 * @module
 */
import { WebSocketError } from "../engine/errors.ts";

/** One published message as it travels between processes. */
export interface BackplaneMessage {
  /** The topic it was published to. */
  readonly topic: string;
  /** The payload: a `string` goes out as a text frame, bytes as a binary frame. */
  readonly data: string | Uint8Array;
  /**
   * Id of the hub that published it. A hub ignores messages carrying its own
   * id (it delivered them locally already), so nothing arrives twice.
   */
  readonly origin: string;
}

/** What a backplane reports back to its hub. */
export interface BackplaneReceiver {
  /** A message published by another process (or this one: the hub filters by `origin`). */
  message(message: BackplaneMessage): void;
  /** The link to the bus broke or came back; messages published elsewhere meanwhile are lost. */
  status?(status: BackplaneStatus): void;
}

/** `up`: connected and subscribed; `down`: the bus is unreachable and being retried. */
export type BackplaneStatus = "up" | "down";

/**
 * A message bus between hubs. The hub calls `start` once, `subscribe` when a
 * topic gets its first local subscriber, `unsubscribe` when it loses the
 * last, `publish` for each local publish, and `close` when the hub closes.
 *
 * Guarantees a backplane gives: messages of one publisher on one topic
 * arrive in publish order; text stays text and bytes stay bytes; a message is
 * delivered at most once per subscribing hub. Whether publishes made while
 * the bus is unreachable wait (bounded) or fail is the implementation's
 * documented choice; a failure is a {@linkcode BackplaneError}.
 */
export interface Backplane {
  /** Connects and starts reporting to `receiver`. Rejects if the bus cannot be reached at all. */
  start(receiver: BackplaneReceiver): Promise<void>;
  /** Starts receiving `topic` (idempotent). */
  subscribe(topic: string): Promise<void>;
  /** Stops receiving `topic` (idempotent). */
  unsubscribe(topic: string): Promise<void>;
  /**
   * Sends one message to every hub subscribed to its topic. Resolves once the
   * bus accepted it; rejects with a {@linkcode BackplaneError}.
   */
  publish(message: BackplaneMessage): Promise<void>;
  /** Disconnects; later calls reject with `WS_BACKPLANE_CLOSED`. */
  close(): Promise<void>;
}

/** Stable codes of {@linkcode BackplaneError}. */
export type BackplaneErrorCode =
  /** The bus is unreachable and the bounded buffer for publishes is full. */
  | "WS_BACKPLANE_BUFFER_FULL"
  /** The bus could not be reached (at start, or a publish timed out waiting for it). */
  | "WS_BACKPLANE_UNAVAILABLE"
  /** The backplane (or its hub) was closed. */
  | "WS_BACKPLANE_CLOSED"
  /** A message from the bus could not be decoded (another program on the same channel names). */
  | "WS_BACKPLANE_BAD_MESSAGE";

/**
 * A publish that the backplane could not carry, or a backplane that could
 * not start.
 *
 * @example
 * ```ts
 * import { BackplaneError } from "@wsc/websocket-channel/fanout";
 *
 * const error = new BackplaneError("WS_BACKPLANE_BUFFER_FULL", "Redis is unreachable and 1000 messages wait");
 * console.assert(error.code === "WS_BACKPLANE_BUFFER_FULL" && error instanceof Error);
 * ```
 */
export class BackplaneError extends WebSocketError {
  /** The stable code. */
  declare readonly code: BackplaneErrorCode;

  /**
   * Creates the error.
   *
   * @param code The stable code.
   * @param message What happened, for people.
   * @param options The underlying error, if any.
   */
  constructor(code: BackplaneErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "BackplaneError";
  }
}
