/**
 * The client side of the session layer: a reconnecting client that
 * resumes its topics from their last positions and keeps every send until
 * the server's application accepted it.
 *
 * @module
 */
import { type Clock, systemClock } from "../_util/clock.ts";
import type { AfterConnectContext, UrlSource, WebSocketClientOptions } from "../client/options.ts";
import type { ClientState } from "../client/state.ts";
import { Emitter } from "../client/state.ts";
import { type Message, type SendData, toMessage } from "../client/types.ts";
import { WebSocketClient } from "../client/web_socket_client.ts";
import { SessionError } from "./errors.ts";
import {
  decodeFrame,
  encodeFrame,
  type ServerFrame,
  SESSION_MINOR_VERSION,
  SESSION_PROTOCOL,
} from "./frames.ts";
import { Outbox, type OutboxOptions } from "./outbox.ts";

/** A topic message as the session client delivers it. */
export interface TopicMessage {
  /** The topic it was published to. */
  readonly topic: string;
  /** Its position in the topic (increasing by one within an epoch). */
  readonly position: number;
  /** The epoch its position belongs to. */
  readonly epoch: string;
  /** The payload: a `string` for text, bytes for binary. */
  readonly data: string | Uint8Array;
}

/**
 * Messages of a topic the client will never get: the server's history no
 * longer had them (`trimmed`), the topic's numbering started over
 * (`reset`: `to` is unknown), or positions jumped without notice
 * (`unannounced`, which a correct server never causes).
 */
export interface SessionGap {
  /** The topic. */
  readonly topic: string;
  /** The first lost position. */
  readonly from: number;
  /** The last lost position; `undefined` when unknown (`reset`). */
  readonly to: number | undefined;
  /** Why they are lost. */
  readonly reason: "trimmed" | "reset" | "unannounced";
}

/** A resume point of a topic: what {@linkcode SessionClient.positions} returns. */
export interface TopicPosition {
  /** The numbering the position belongs to. */
  readonly epoch: string;
  /** The last position received. */
  readonly position: number;
}

/** Events of {@linkcode SessionClient.on}. */
export interface SessionClientEvents {
  /** A topic message, in position order, never twice. */
  message: TopicMessage;
  /** Lost topic messages, said out loud. */
  gap: SessionGap;
  /** The server refused a subscription. */
  denied: { readonly topic: string; readonly reason: string };
  /** Connection states of the underlying client. */
  state: ClientState;
  /** Problems that do not end the client (a malformed frame, a failed attempt). */
  error: Error;
}

/** Options of {@linkcode SessionClient}: those of `WebSocketClient` but the ones the session sets. */
export interface SessionClientOptions
  extends Omit<WebSocketClientOptions, "protocols" | "queue" | "delivery" | "afterConnect"> {
  /** Bounds of the unacknowledged sends. */
  outbox?: OutboxOptions;
  /** Milliseconds a `send()` waits for its acknowledgement. @default {60000} */
  ackTimeout?: number;
}

interface Topic {
  epoch: string | undefined;
  position: number;
}

/**
 * A reconnecting WebSocket client speaking `wsc.session.1`: `send()`
 * resolves when the server's application accepted the message (it is sent
 * again after a reconnect until then, and the server delivers it once), and
 * topic messages carry positions so that a reconnect, to the same or another
 * server process, replays what was missed, in order and without duplicates,
 * or reports a `gap`.
 *
 * @example
 * ```ts
 * import { SessionClient } from "@wsc/websocket-channel/session";
 *
 * const client = new SessionClient("ws://localhost:8080/session", { ackTimeout: 10_000 });
 * client.on("message", ({ topic, position, data }) => console.log(topic, position, data));
 * client.on("gap", ({ topic, from, to }) => console.warn(`lost ${topic} ${from}..${to ?? "?"}`));
 * client.subscribe("news");
 * if (false) {
 *   await client.connect();
 *   await client.send("hello"); // the server's onMessage has run
 * }
 * await client.close();
 * ```
 */
export class SessionClient {
  /** This session's id: random, the same across reconnects of this object. */
  readonly sessionId: string = crypto.randomUUID();
  readonly #inner: WebSocketClient;
  readonly #outbox: Outbox;
  readonly #events = new Emitter<SessionClientEvents>();
  readonly #topics = new Map<string, Topic>();
  #seq = 0;
  /** Numbers the connections: an outbox entry remembers the last one it was written on. */
  #connection = 0;
  #open = false;
  #closed = false;

  /**
   * Creates an idle client with a new session id; nothing happens before `connect()`.
   *
   * @param url Where the session server is (or a function choosing per attempt).
   * @param options The reconnecting client's options, the outbox and the acknowledgement timeout.
   */
  constructor(url: UrlSource, options: SessionClientOptions = {}) {
    const clock: Clock = options.clock ?? systemClock;
    this.#outbox = new Outbox(clock, options.ackTimeout ?? 60_000, options.outbox);
    this.#inner = new WebSocketClient(url, {
      ...options,
      protocols: [SESSION_PROTOCOL],
      queue: false,
      afterConnect: (context) => this.#start(context),
    });
    this.#inner.on("message", (message) => this.#receive(message));
    this.#inner.on("error", (error) => this.#events.emit("error", error));
    this.#inner.on("state", (state) => {
      this.#open = state.type === "open";
      if (this.#open) this.#flush();
      this.#events.emit("state", state);
    });
  }

  /** The underlying client's state. */
  get state(): ClientState {
    return this.#inner.state;
  }

  /** Unacknowledged sends and their bytes. */
  get outbox(): { messages: number; bytes: number } {
    return { messages: this.#outbox.size, bytes: this.#outbox.bytes };
  }

  /** Adds a typed listener; returns a function that removes it. */
  on<K extends keyof SessionClientEvents>(
    type: K,
    listener: (value: SessionClientEvents[K]) => void,
  ): () => void {
    return this.#events.on(type, listener);
  }

  /** Connects; resolves when open (see `WebSocketClient.connect`). */
  connect(): Promise<void> {
    return this.#inner.connect();
  }

  /**
   * Sends a message; resolves once the server's application accepted it.
   * Rejects with a {@linkcode SessionError}: `WS_SESSION_REJECTED` (refused
   * by the application), `WS_SESSION_ACK_TIMEOUT` (no answer in time: it may
   * still be accepted), `WS_SESSION_OUTBOX_FULL` / `WS_SESSION_DROPPED`
   * (overflow), `WS_SESSION_CLOSED`.
   */
  send(data: SendData): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new SessionError("WS_SESSION_CLOSED", "The session client is closed"));
    }
    let message: Message;
    try {
      message = toMessage(data);
    } catch (error) {
      return Promise.reject(error);
    }
    const seq = ++this.#seq;
    const frame = encodeFrame({ kind: "send", seq, data: message });
    // Written at once when open; otherwise on the next open, with the others.
    return this.#outbox.add(seq, frame, (entry) => {
      if (!this.#open) return;
      entry.sentOn = this.#connection;
      this.#write(entry.frame);
    });
  }

  /**
   * Subscribes to `topic` (again: no effect). With `from` (a value of
   * {@linkcode SessionClient.positions}, e.g. kept from an earlier run),
   * missed messages after it are replayed; without, messages start now.
   */
  subscribe(topic: string, from?: TopicPosition): void {
    if (this.#topics.has(topic)) return;
    this.#topics.set(topic, { epoch: from?.epoch, position: from?.position ?? 0 });
    if (this.#open) this.#write(this.#subscribeFrame(topic));
  }

  /** Unsubscribes from `topic`; its position is forgotten. */
  unsubscribe(topic: string): void {
    if (!this.#topics.delete(topic)) return;
    if (this.#open) this.#write(encodeFrame({ kind: "unsubscribe", topic }));
  }

  /** The last position received per subscribed topic (the resume points). */
  positions(): Record<string, TopicPosition> {
    const out: Record<string, TopicPosition> = {};
    for (const [topic, { epoch, position }] of this.#topics) {
      if (epoch !== undefined) out[topic] = { epoch, position };
    }
    return out;
  }

  /** Closes for good; unacknowledged sends reject with `WS_SESSION_CLOSED`. */
  async close(code = 1000, reason = ""): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#inner.close(code, reason).catch(() => {});
    this.#outbox.clear(new SessionError("WS_SESSION_CLOSED", "The session client was closed"));
  }

  // ── connection ─────────────────────────────────────────────────────────

  async #start(context: AfterConnectContext): Promise<void> {
    if (context.protocol !== SESSION_PROTOCOL) {
      throw new SessionError(
        "WS_SESSION_UNSUPPORTED",
        `The server did not select ${SESSION_PROTOCOL} (got ${JSON.stringify(context.protocol)})`,
      );
    }
    this.#connection++;
    await context.send(
      encodeFrame({ kind: "hello", version: SESSION_MINOR_VERSION, session: this.sessionId }),
    );
    for (const topic of this.#topics.keys()) await context.send(this.#subscribeFrame(topic));
  }

  #subscribeFrame(topic: string): Uint8Array {
    const state = this.#topics.get(topic)!;
    return encodeFrame(
      state.epoch === undefined
        ? { kind: "subscribe", topic }
        : { kind: "subscribe", topic, from: { epoch: state.epoch, position: state.position } },
    );
  }

  /** Writes every send not yet written on this connection, in seq order. */
  #flush(): void {
    for (const entry of this.#outbox.entries()) {
      if (entry.sentOn === this.#connection) continue;
      entry.sentOn = this.#connection;
      this.#write(entry.frame);
    }
  }

  #write(frame: Uint8Array): void {
    // A write lost with its connection is written again on the next one.
    this.#inner.send(frame).catch(() => {});
  }

  // ── frames from the server ─────────────────────────────────────────────

  #receive(message: Message): void {
    let frame: ServerFrame;
    try {
      if (typeof message === "string") {
        throw new SessionError("WS_SESSION_TEXT_FRAME", "A text message on a session connection");
      }
      frame = decodeFrame(message, "server");
    } catch (error) {
      this.#events.emit("error", error as Error);
      return;
    }
    switch (frame.kind) {
      case "welcome":
        this.#outbox.settleUpTo(frame.accepted);
        break;
      case "ack":
        this.#outbox.settleUpTo(frame.seq);
        break;
      case "reject":
        this.#outbox.reject(
          frame.seq,
          new SessionError(
            "WS_SESSION_REJECTED",
            `The server refused the message: ${frame.reason}`,
          ),
        );
        break;
      case "subscribed": {
        const topic = this.#topics.get(frame.topic);
        if (topic === undefined) break;
        if (topic.epoch !== undefined && topic.epoch !== frame.epoch) {
          this.#gap(frame.topic, topic.position + 1, undefined, "reset");
        }
        topic.epoch = frame.epoch;
        topic.position = frame.position;
        break;
      }
      case "gap": {
        const topic = this.#topics.get(frame.topic);
        if (topic === undefined || frame.to <= topic.position) break;
        this.#gap(frame.topic, Math.max(frame.from, topic.position + 1), frame.to, "trimmed");
        topic.position = frame.to;
        break;
      }
      case "publish": {
        const topic = this.#topics.get(frame.topic);
        if (topic === undefined || topic.epoch === undefined) break;
        if (frame.position <= topic.position) break; // already delivered
        if (frame.position > topic.position + 1) {
          this.#gap(frame.topic, topic.position + 1, frame.position - 1, "unannounced");
        }
        topic.position = frame.position;
        const data = typeof frame.data === "string" ? frame.data : frame.data.slice();
        this.#events.emit("message", {
          topic: frame.topic,
          position: frame.position,
          epoch: topic.epoch,
          data,
        });
        break;
      }
      case "denied":
        this.#topics.delete(frame.topic);
        this.#events.emit("denied", { topic: frame.topic, reason: frame.reason });
        break;
    }
  }

  #gap(topic: string, from: number, to: number | undefined, reason: SessionGap["reason"]): void {
    this.#events.emit("gap", { topic, from, to, reason });
  }
}
