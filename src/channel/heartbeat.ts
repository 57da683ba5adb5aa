/**
 * Liveness checks for one connection: a protocol ping where the transport can
 * send one, an application-level ping message where it cannot (browsers), and
 * a deadline for the answer. A missed answer means the peer or the path is
 * gone even though no FIN arrived (half-open TCP, sleeping laptops, NATs).
 *
 * The one heartbeat of the library: the reconnecting client runs it with its
 * `heartbeat` options, the engine servers run it for `idleTimeout`
 * (`src/adapters/heartbeat.ts`). An idle connection holds the instance, its
 * one timer callback and one pending timer.
 *
 * @module
 */
import type { Clock } from "../_util/clock.ts";
import type { Message } from "./channel_types.ts";
import { sameMessage } from "./ping_messages.ts";

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

/**
 * What a {@linkcode Heartbeat} needs from its connection. Its methods are
 * called on the host, so a class instance with prototype methods fits and
 * costs no closures per connection.
 */
export interface HeartbeatHost {
  /** The time source of the schedule. */
  readonly clock: Clock;
  /** Sends a protocol ping; resolves with the round-trip time in ms. */
  ping(): Promise<number>;
  /** Sends an application-level ping message. */
  send(message: Message): Promise<void>;
  /** An answer arrived after `ms` milliseconds. */
  onRtt(ms: number): void;
  /** No answer within the timeout; the heartbeat has stopped. */
  onTimeout(): void;
  /** The transport cannot ping and there is no ping message; the heartbeat has stopped. */
  onUnsupported(error: unknown): void;
}

// Bits of `Heartbeat.#flags`.
const STOPPED = 1;
const WAITING = 2;
const MESSAGES = 4;

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
  // Few fields on purpose: servers hold one instance per idle connection. The
  // settings stay in the (shared) options object, the states are bits of one
  // number, and the schedule's timer and the answer's deadline are never
  // pending together, so one handle and one callback serve both.
  readonly #host: HeartbeatHost;
  readonly #options: HeartbeatOptions;
  #flags = STOPPED;
  #timer: unknown = undefined;
  #sentAt = 0;
  #round = 0;
  readonly #fire: () => void = this.#onTimer.bind(this);

  /**
   * @param options Heartbeat settings, read as they are needed (not copied).
   * @param host The connection's ping/send and the client's callbacks. A
   *   subclass that implements {@linkcode HeartbeatHost} itself may omit it.
   */
  constructor(options: HeartbeatOptions, host?: HeartbeatHost) {
    this.#host = host ?? (this as unknown as HeartbeatHost);
    this.#options = options;
    if (options.mode === "message") this.#flags |= MESSAGES;
  }

  /** Whether application-level ping messages are in use on this connection. */
  get usesMessages(): boolean {
    return this.#useMessages;
  }

  /** Starts the schedule (no-op when the interval is 0). */
  start(): void {
    if (!(this.#interval > 0) || !this.#stopped) return;
    if (this.#useMessages && this.#options.pingMessage === undefined) {
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
    this.#clearTimer();
  }

  /** Returns true when `message` is a heartbeat answer (then it must not be delivered). */
  consume(message: Message): boolean {
    if (!this.#useMessages) return false;
    const isPong = this.#options.isPong;
    if (!(isPong ? isPong(message) : sameMessage(message, this.#options.pongMessage ?? "pong"))) {
      return false;
    }
    if (this.#waiting && !this.#stopped) {
      this.#answered(this.#round, this.#host.clock.now() - this.#sentAt);
    }
    return true;
  }

  get #stopped(): boolean {
    return (this.#flags & STOPPED) !== 0;
  }

  set #stopped(value: boolean) {
    this.#flags = value ? this.#flags | STOPPED : this.#flags & ~STOPPED;
  }

  get #waiting(): boolean {
    return (this.#flags & WAITING) !== 0;
  }

  set #waiting(value: boolean) {
    this.#flags = value ? this.#flags | WAITING : this.#flags & ~WAITING;
  }

  get #useMessages(): boolean {
    return (this.#flags & MESSAGES) !== 0;
  }

  get #interval(): number {
    return this.#options.interval ?? 30_000;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#host.clock.setTimeout(this.#fire, this.#interval);
  }

  // The one timer callback: the schedule's timer while idle, the answer's
  // deadline while waiting (stop() and an answer clear it first).
  #onTimer(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    if (!this.#waiting) return this.#beat();
    this.stop();
    this.#host.onTimeout();
  }

  #beat(): void {
    if (this.#stopped) return;
    const round = ++this.#round;
    this.#waiting = true;
    this.#sentAt = this.#host.clock.now();
    this.#timer = this.#host.clock.setTimeout(this.#fire, this.#options.timeout ?? 10_000);
    if (this.#useMessages) {
      const message = this.#options.pingMessage!;
      const ping = typeof message === "function" ? message() : message;
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
    this.#clearTimer(); // the deadline
    this.#host.onRtt(rtt);
    this.#schedule();
  }

  // A rejected ping on a live connection means the transport cannot ping
  // (a browser WebSocket): fall back to messages if configured, else report.
  #cannotPing(round: number, error: unknown): void {
    if (round !== this.#round || this.#stopped) return;
    this.#clearTimer(); // the deadline
    this.#waiting = false;
    const options = this.#options;
    if ((options.mode ?? "auto") === "auto" && options.pingMessage !== undefined) {
      this.#flags |= MESSAGES;
      this.#beat();
    } else {
      this.stop();
      this.#host.onUnsupported(error);
    }
  }
}
