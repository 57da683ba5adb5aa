/**
 * One session connection on the server: the `HELLO` handshake, the limits
 * on what a client may ask, the writing of frames (encoded once, shared by
 * every subscriber of a topic), and acknowledged receiving. Topic state and
 * replay live in the hub (`session_hub.ts`).
 *
 * @module
 */
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { type DeliveryPort, deliveryPort } from "../fanout/delivery_port.ts";
import { PreparedMessage } from "../fanout/prepared_message.ts";
import { SessionError } from "./errors.ts";
import { type ClientFrame, decodeFrame, encodeFrame, type ServerFrame } from "./frames.ts";

/** A client of a session hub, as the application sees it. */
export interface SessionPeer {
  /** The session id the client chose (stable across its reconnects); `""` before its `HELLO`. */
  readonly id: string;
  /** What the application attached in `accept(channel, { data })`, e.g. the authenticated user. */
  readonly data: unknown;
  /** The underlying connection. */
  readonly channel: WebSocketChannel;
  /** The topics this connection is subscribed to. */
  topics(): string[];
}

/** Limits on what one client may ask; see `SessionHubOptions`. */
export interface PeerLimits {
  maxTopics: number;
  maxSubscribes: number;
  subscribeWindow: number;
  helloTimeout: number;
  maxBufferedBytes: number;
}

/** What a connection needs from its hub. */
export interface PeerHost {
  readonly limits: PeerLimits;
  hello(peer: PeerConnection): Promise<void>;
  receive(peer: PeerConnection, seq: number, data: string | Uint8Array): Promise<void>;
  subscribe(peer: PeerConnection, frame: ClientFrame & { kind: "subscribe" }): void;
  unsubscribe(peer: PeerConnection, topic: string): void;
  closed(peer: PeerConnection): void;
  error(error: unknown): void;
}

/** The server side of one session connection. */
export class PeerConnection implements SessionPeer {
  id = "";
  readonly data: unknown;
  readonly channel: WebSocketChannel;
  /** Identifies this connection as the holder of a send lease. */
  readonly owner: string = crypto.randomUUID();
  /** Subscriptions by topic, with the position last written. */
  readonly subscriptions = new Map<string, { last: number; live: boolean }>();
  readonly #host: PeerHost;
  readonly #port: DeliveryPort;
  #flushing = false;
  #subscribes: number[] = [];
  #open = true;
  #ended = false;

  constructor(host: PeerHost, channel: WebSocketChannel, data: unknown) {
    this.#host = host;
    this.channel = channel;
    this.data = data;
    this.#port = deliveryPort(channel);
    channel.closed.then(() => this.#end(), () => this.#end());
    void this.#run();
  }

  /** Whether frames may still be written. */
  get open(): boolean {
    return this.#open && this.#port.isOpen();
  }

  /** Bytes waiting to be written. */
  get backlog(): number {
    return this.#port.backlog();
  }

  topics(): string[] {
    return [...this.subscriptions.keys()];
  }

  /** Writes a control frame (never refused for size: they are small and few). */
  send(frame: ServerFrame): void {
    this.write(new PreparedMessage(encodeFrame(frame)), Infinity);
  }

  /**
   * Writes a prepared frame unless the backlog would pass `limit`; a
   * refusal closes the connection with 1013 (the client resumes later).
   */
  write(message: PreparedMessage, limit: number = this.#host.limits.maxBufferedBytes): boolean {
    const port = this.#port;
    const result = port.acceptsFrames
      ? port.offerFrames(message.frame, limit)
      : port.offerMessage(message.data, limit);
    if (result === 0) {
      if (port.acceptsFrames && !this.#flushing) {
        this.#flushing = true;
        queueMicrotask(() => {
          this.#flushing = false;
          port.flush();
        });
      }
      return true;
    }
    if (result === 1) {
      this.fail(new SessionError("WS_SESSION_LIMIT", "Subscriber too slow", { closeCode: 1013 }));
    }
    return false;
  }

  /** Closes the connection for `error` (its close code) and reports it. */
  fail(error: SessionError): void {
    if (!this.#open) return;
    this.#open = false;
    if (error.closeCode !== 1013 && error.closeCode !== 1011) this.#host.error(error);
    this.#port.close(error.closeCode ?? 1008, error.code).catch(() => {});
    this.#end();
  }

  /**
   * The store failed while serving this connection: reported, and the
   * connection closed with 1011 so that the client resumes elsewhere or later.
   */
  unavailable(cause: unknown): void {
    if (!this.#open) return;
    this.#host.error(cause);
    this.fail(
      new SessionError("WS_SESSION_STORE_UNAVAILABLE", "The session store failed", {
        closeCode: 1011,
        cause,
      }),
    );
  }

  /** Closes the connection with any wire code (1001 when the hub closes). */
  close(code: number, reason: string): Promise<void> {
    this.#open = false;
    return this.#port.close(code, reason).catch(() => {});
  }

  /** Counts a subscribe against the limits; false (and closed) when one is passed. */
  admitSubscribe(topic: string): boolean {
    const limits = this.#host.limits;
    if (this.subscriptions.has(topic)) {
      this.fail(limit(`a second SUBSCRIBE of ${JSON.stringify(topic.slice(0, 64))}`));
      return false;
    }
    if (this.subscriptions.size >= limits.maxTopics) {
      this.fail(limit(`more than ${limits.maxTopics} topics`));
      return false;
    }
    const now = Date.now();
    this.#subscribes = this.#subscribes.filter((at) => at > now - limits.subscribeWindow);
    if (this.#subscribes.push(now) > limits.maxSubscribes) {
      this.fail(
        limit(`more than ${limits.maxSubscribes} SUBSCRIBEs in ${limits.subscribeWindow} ms`),
      );
      return false;
    }
    return true;
  }

  #end(): void {
    this.#open = false;
    if (this.#ended) return;
    this.#ended = true;
    this.#host.closed(this);
  }

  async #run(): Promise<void> {
    const timer = setTimeout(() => {
      if (this.id === "") {
        this.fail(
          new SessionError("WS_SESSION_HANDSHAKE", "No HELLO in time", { closeCode: 1008 }),
        );
      }
    }, this.#host.limits.helloTimeout);
    try {
      for await (const message of this.channel.stream) {
        if (!this.#open) break;
        if (typeof message === "string") {
          throw new SessionError(
            "WS_SESSION_TEXT_FRAME",
            "A text message on a session connection",
            {
              closeCode: 1003,
            },
          );
        }
        const frame = decodeFrame(message, "client");
        if (this.id === "") {
          if (frame.kind !== "hello" || frame.session === "") {
            throw new SessionError("WS_SESSION_HANDSHAKE", `Expected HELLO, got ${frame.kind}`, {
              closeCode: 1008,
            });
          }
          clearTimeout(timer);
          this.id = frame.session;
          await this.#host.hello(this);
          continue;
        }
        switch (frame.kind) {
          case "hello":
            throw new SessionError("WS_SESSION_HANDSHAKE", "A second HELLO", { closeCode: 1008 });
          case "send":
            await this.#host.receive(this, frame.seq, frame.data);
            break;
          case "subscribe":
            if (this.admitSubscribe(frame.topic)) this.#host.subscribe(this, frame);
            break;
          case "unsubscribe":
            this.#host.unsubscribe(this, frame.topic);
            break;
        }
      }
    } catch (error) {
      if (error instanceof SessionError) this.fail(error);
      else if (this.#open && this.#port.isOpen()) this.unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }
}

function limit(why: string): SessionError {
  return new SessionError("WS_SESSION_LIMIT", `Session limit: ${why}`, { closeCode: 1008 });
}
