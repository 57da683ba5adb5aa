/**
 * Liveness checks for one connection: a protocol ping where the transport can
 * send one, an application-level ping message where it cannot (browsers), and
 * a deadline for the answer. A missed answer means the peer or the path is
 * gone even though no FIN arrived (half-open TCP, sleeping laptops, NATs).
 *
 * @module
 */
import { sameMessage } from "../channel/ping_messages.ts";
import type { Clock } from "./clock.ts";
import type { Message } from "./types.ts";

/** Heartbeat settings of the client. */
export interface HeartbeatOptions {
  /** Milliseconds between the end of one check and the next ping. Default 30 000; 0 disables. */
  interval?: number;
  /** Milliseconds to wait for the answer. Default 10 000. */
  timeout?: number;
  /**
   * `protocol`: ping frames only (`channel.ping()`). `message`: application
   * messages only. `auto` (default): ping frames, or messages when the
   * transport cannot ping and `pingMessage` is set (a browser `WebSocket`;
   * without `pingMessage` the client's constructor throws there).
   */
  mode?: "auto" | "protocol" | "message";
  /**
   * The application-level ping to send (a value or a factory). The server
   * must answer it with `pongMessage`: this library's servers do with
   * `answerPingMessages` (`true` answers `"ping"` with `"pong"`).
   */
  pingMessage?: Message | (() => Message);
  /** The expected answer; default `"pong"`. Ignored when `isPong` is given. */
  pongMessage?: Message;
  /** Recognises the answer; recognised messages are consumed, not delivered. */
  isPong?: (message: Message) => boolean;
}

/** What a {@linkcode Heartbeat} needs from its connection. */
export interface HeartbeatHost {
  clock: Clock;
  ping(): Promise<number>;
  send(message: Message): Promise<void>;
  onRtt(ms: number): void;
  onTimeout(): void;
  onUnsupported(error: unknown): void;
}

/**
 * One connection's heartbeat. Call `start()` when it opens, `stop()` when it
 * ends, and feed every incoming message to `consume()`.
 *
 * @example
 * ```ts
 * import { Heartbeat } from "./heartbeat.ts";
 * import { systemClock } from "@wsc/websocket-channel/client";
 *
 * const heartbeat = new Heartbeat({ interval: 1000, timeout: 500 }, {
 *   clock: systemClock,
 *   ping: () => Promise.resolve(3),
 *   send: () => Promise.resolve(),
 *   onRtt: (ms) => console.log("rtt", ms),
 *   onTimeout: () => console.log("dead"),
 *   onUnsupported: () => {},
 * });
 * heartbeat.start();
 * heartbeat.stop();
 * ```
 */
export class Heartbeat {
  #host: HeartbeatHost;
  #interval: number;
  #timeout: number;
  #useMessages: boolean;
  #canFallBack: boolean;
  #pingMessage: Message | (() => Message) | undefined;
  #isPong: (message: Message) => boolean;
  #timer: unknown = undefined;
  #deadline: unknown = undefined;
  #sentAt = 0;
  #waiting = false;
  #stopped = true;
  #round = 0;

  /**
   * @param options Heartbeat settings.
   * @param host The connection's ping/send and the client's callbacks.
   */
  constructor(options: HeartbeatOptions, host: HeartbeatHost) {
    this.#host = host;
    this.#interval = options.interval ?? 30_000;
    this.#timeout = options.timeout ?? 10_000;
    const mode = options.mode ?? "auto";
    this.#pingMessage = options.pingMessage;
    this.#useMessages = mode === "message";
    this.#canFallBack = mode === "auto" && options.pingMessage !== undefined;
    const pong = options.pongMessage ?? "pong";
    this.#isPong = options.isPong ?? ((message) => sameMessage(message, pong));
  }

  /** Whether application-level ping messages are in use on this connection. */
  get usesMessages(): boolean {
    return this.#useMessages;
  }

  /** Starts the schedule (no-op when the interval is 0). */
  start(): void {
    if (!(this.#interval > 0) || !this.#stopped) return;
    if (this.#useMessages && this.#pingMessage === undefined) {
      this.#host.onUnsupported(new TypeError("heartbeat mode 'message' needs pingMessage"));
      return;
    }
    this.#stopped = false;
    this.#schedule();
  }

  /** Stops every timer; late answers are ignored. */
  stop(): void {
    this.#stopped = true;
    this.#waiting = false;
    this.#round++;
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    if (this.#deadline !== undefined) this.#host.clock.clearTimeout(this.#deadline);
    this.#timer = this.#deadline = undefined;
  }

  /** Returns true when `message` is a heartbeat answer (then it must not be delivered). */
  consume(message: Message): boolean {
    if (!this.#useMessages || !this.#isPong(message)) return false;
    if (this.#waiting && !this.#stopped) {
      this.#answered(this.#round, this.#host.clock.now() - this.#sentAt);
    }
    return true;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#host.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#beat();
    }, this.#interval);
  }

  #beat(): void {
    if (this.#stopped) return;
    const round = ++this.#round;
    this.#waiting = true;
    this.#sentAt = this.#host.clock.now();
    this.#deadline = this.#host.clock.setTimeout(() => {
      this.#deadline = undefined;
      if (round !== this.#round || this.#stopped) return;
      this.stop();
      this.#host.onTimeout();
    }, this.#timeout);
    if (this.#useMessages) {
      const ping = typeof this.#pingMessage === "function"
        ? this.#pingMessage()
        : this.#pingMessage!;
      // A failed send means the connection is going away; its close handling stops us.
      this.#host.send(ping).catch(() => {});
      return;
    }
    let pinging: Promise<number>;
    try {
      pinging = this.#host.ping();
    } catch (error) {
      pinging = Promise.reject(error);
    }
    pinging.then(
      (rtt) => this.#answered(round, rtt),
      (error) => this.#cannotPing(round, error),
    );
  }

  #answered(round: number, rtt: number): void {
    if (round !== this.#round || this.#stopped || !this.#waiting) return;
    this.#waiting = false;
    if (this.#deadline !== undefined) this.#host.clock.clearTimeout(this.#deadline);
    this.#deadline = undefined;
    this.#host.onRtt(rtt);
    this.#schedule();
  }

  // A rejected ping on a live connection means the transport cannot ping
  // (a browser WebSocket): fall back to messages if configured, else report.
  #cannotPing(round: number, error: unknown): void {
    if (round !== this.#round || this.#stopped) return;
    if (this.#deadline !== undefined) this.#host.clock.clearTimeout(this.#deadline);
    this.#deadline = undefined;
    this.#waiting = false;
    if (this.#canFallBack) {
      this.#useMessages = true;
      this.#beat();
    } else {
      this.stop();
      this.#host.onUnsupported(error);
    }
  }
}
