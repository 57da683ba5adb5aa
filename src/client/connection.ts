/**
 * One live connection of the client: the channel, its read loop, its
 * heartbeat, and a single `ended` promise however the connection ends
 * (peer close, transport loss, heartbeat timeout, local close), and the
 * messages it wrote that are not confirmed yet (see `delivery.ts`).
 *
 * @module
 */
import { closeSink } from "../channel/channel_sink.ts";
import type { Clock } from "../_util/clock.ts";
import {
  DEFAULT_UNCONFIRMED_BYTES,
  keptCopy,
  UnconfirmedWindow,
  type WrittenMessage,
} from "./delivery.ts";
import { ClientError } from "./errors.ts";
import { Heartbeat, type HeartbeatOptions } from "../channel/heartbeat.ts";
import type { ClientChannel, Message } from "./types.ts";
import type { ListenOptions, MessageSubscription } from "../channel/inbox.ts";

/** A channel that hands messages to a synchronous listener (`WebSocketChannel.listen`). */
interface Listenable {
  listen(listener: (message: Message) => void, options?: ListenOptions): MessageSubscription;
}

/** A channel that sends without its sink (`WebSocketChannel.send`, as `sink.add`). */
interface Sender {
  send(message: Message): Promise<void>;
}

/** How a connection ended. `local` is true when this side decided it. */
export interface EndInfo {
  code: number;
  reason: string;
  wasClean: boolean;
  local: boolean;
  error?: Error;
}

/** What a {@linkcode Connection} needs from the client. */
export interface ConnectionHost {
  clock: Clock;
  heartbeat: HeartbeatOptions | false;
  /** Hands one received message to the client; returns a promise when it must wait (backpressure). */
  deliver(message: Message): Promise<void> | undefined;
  onRtt(ms: number): void;
  /** Told before the connection is abandoned for a missed pong. */
  onHeartbeatTimeout(): void;
  onError(error: unknown): void;
  /** Ping after writes to confirm them (see `DeliveryOptions.confirmWithPing`). Default false. */
  confirmWithPing?: boolean;
  /** Payload bytes of unconfirmed messages kept. Default 1 MiB. */
  maxUnconfirmedBytes?: number;
  /** Keep copies of binary unconfirmed messages: they are written again (`resendUnconfirmed`). */
  copyUnconfirmed?: boolean;
  /**
   * Told, once the connection ended, about the messages recorded with
   * `written()` that were not confirmed (and later about any recorded after
   * that).
   */
  onUnconfirmed?(
    connection: Connection,
    unconfirmed: { messages: WrittenMessage[]; omitted: number },
    end: EndInfo,
  ): void;
}

/**
 * Closes a channel without throwing. Engine channels (`closeWithCode`) send
 * any code valid on the wire, so a URL switch really says 1001; `sink.close`
 * (and browsers) only accept 1000 and 3000–4999, so there a refused code is
 * retried as 1000.
 *
 * @example
 * ```ts
 * import { closeQuietly } from "./connection.ts";
 * import { FakePeer } from "@wsc/websocket-channel/testing";
 *
 * const { channel } = new FakePeer("ws://fake/", {});
 * await closeQuietly(channel, 1001, "switching URL");
 * console.assert(typeof (await channel.closed).code === "number");
 * ```
 */
export function closeQuietly(channel: ClientChannel, code: number, reason: string): Promise<void> {
  channel.ready.catch(() => {});
  const withCode = (channel as { closeWithCode?: (code: number, reason: string) => Promise<void> })
    .closeWithCode;
  let closing: Promise<void>;
  try {
    closing = typeof withCode === "function"
      ? withCode.call(channel, code, reason)
      : closeSink(channel.sink, code, reason);
  } catch (error) {
    closing = Promise.reject(error);
  }
  return closing.catch(() => {
    if (code === 1000) return;
    return closeSink(channel.sink, 1000, reason).catch(() => {});
  });
}

/**
 * A live connection (see the module doc).
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.ts";
 *
 * console.assert(typeof Connection === "function");
 * ```
 */
export class Connection {
  /** The underlying channel. */
  readonly channel: ClientChannel;
  /** The URL it was opened with. */
  readonly url: string;
  /** Resolves once, with how the connection ended. */
  readonly ended: Promise<EndInfo>;
  /** Resolves when the read loop has delivered everything it will deliver. */
  readonly readDone: Promise<void>;
  #host: ConnectionHost;
  #resolveEnded!: (info: EndInfo) => void;
  #resolveReadDone!: () => void;
  #endedWith: EndInfo | undefined;
  #reader: ReadableStreamDefaultReader<Message> | undefined;
  #subscription: MessageSubscription | undefined;
  #abandoned = false;
  #heartbeat: Heartbeat | undefined;
  #unconfirmed: UnconfirmedWindow;
  #confirmWithPing: boolean;
  #confirming = false;
  #heartbeatMark = 0;
  #closeSent = false;
  /** The channel has `send()`, which skips the sink (see `write`). */
  #send: boolean;

  /**
   * @param channel A channel whose `ready` has resolved.
   * @param options The URL, the client callbacks, and the previous connection's
   *   `readDone` (messages are delivered strictly connection after connection).
   */
  constructor(
    channel: ClientChannel,
    options: { url: string; host: ConnectionHost; after?: Promise<void> },
  ) {
    this.channel = channel;
    this.#send = typeof (channel as Partial<Sender>).send === "function";
    this.url = options.url;
    this.#host = options.host;
    this.#unconfirmed = new UnconfirmedWindow(
      options.host.maxUnconfirmedBytes ?? DEFAULT_UNCONFIRMED_BYTES,
      options.host.copyUnconfirmed,
    );
    this.#confirmWithPing = options.host.confirmWithPing ?? false;
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    this.readDone = new Promise((resolve) => (this.#resolveReadDone = resolve));
    channel.closed.then(
      (info) =>
        this.#end({ code: info.code, reason: info.reason, wasClean: info.wasClean, local: false }),
      () => this.#end({ code: 1006, reason: "", wasClean: false, local: false }),
    );
    void this.#readLoop(options.after ?? Promise.resolve());
    const heartbeat = this.#host.heartbeat;
    if (heartbeat !== false) {
      this.#heartbeat = new Heartbeat(heartbeat, {
        clock: this.#host.clock,
        // An answered heartbeat confirms what was written before its ping.
        ping: () => {
          const mark = this.#unconfirmed.mark;
          return channel.ping().then((rtt) => {
            this.#unconfirmed.confirm(mark);
            return rtt;
          });
        },
        send: (message) => {
          this.#heartbeatMark = this.#unconfirmed.mark;
          return channel.sink.add(message);
        },
        onRtt: (ms) => {
          if (this.#heartbeat?.usesMessages) this.#unconfirmed.confirm(this.#heartbeatMark);
          this.#host.onRtt(ms);
        },
        onTimeout: () => this.#heartbeatTimeout(),
        onUnsupported: (cause) =>
          this.#host.onError(
            new ClientError(
              "WS_HEARTBEAT_UNSUPPORTED",
              "The transport cannot send pings and no heartbeat pingMessage is configured",
              { cause },
            ),
          ),
      });
      this.#heartbeat.start();
    }
  }

  /** How the connection ended, once it has. */
  get endInfo(): EndInfo | undefined {
    return this.#endedWith;
  }

  /** Messages recorded with `written()` and not confirmed yet. */
  get pendingConfirmation(): number {
    return this.#unconfirmed.pending;
  }

  /**
   * Hands a message to the transport: with the channel's `send()` when it
   * has one (a `WebSocketChannel` then never makes its sink), else `sink.add()`.
   */
  write(message: Message): Promise<void> {
    return this.#send
      ? (this.channel as ClientChannel & Sender).send(message)
      : this.channel.sink.add(message);
  }

  /**
   * Records a `send()` message whose `write()` resolved, so that it is
   * reported if the connection ends before it is confirmed. Messages of
   * `afterConnect` are not recorded: every connection runs it again.
   */
  written(message: Message, seq: number, size: number): void {
    const end = this.#endedWith;
    if (end) {
      // Accepted by a transport that has already ended: unconfirmed at once.
      const kept = this.#host.copyUnconfirmed ? keptCopy(message) : message;
      this.#host.onUnconfirmed?.(
        this,
        { messages: [{ message: kept, seq, size }], omitted: 0 },
        end,
      );
      return;
    }
    this.#unconfirmed.add(message, seq, size);
    if (this.#confirmWithPing && !this.#confirming) {
      this.#confirming = true;
      // After the current burst of writes, so that one ping covers it.
      queueMicrotask(() => this.#confirmPing());
    }
  }

  /**
   * Ends the connection by local decision without waiting for the peer
   * (heartbeat timeout, failed `afterConnect`, connect timeout): `ended`
   * resolves now with `info`, the channel closes in the background with
   * `wireCode` (1006 itself can never be sent, RFC 6455 §7.4.1).
   */
  abandon(info: Omit<EndInfo, "local" | "wasClean">, wireCode: number, wireReason: string): void {
    this.#abandoned = true;
    this.#end({ ...info, wasClean: false, local: true });
    void closeQuietly(this.channel, wireCode, wireReason);
    this.#reader?.cancel().catch(() => {});
    if (this.#subscription) {
      this.#subscription.cancel();
      this.#resolveReadDone();
    }
  }

  /**
   * Runs the close handshake, waiting at most `timeout` ms for the peer;
   * after that the connection is abandoned.
   */
  async close(code: number, reason: string, timeout: number): Promise<void> {
    this.#heartbeat?.stop();
    if (this.#endedWith) return;
    this.#closeSent = true;
    let timer: unknown;
    const timedOut = new Promise<void>((resolve) => {
      timer = this.#host.clock.setTimeout(resolve, timeout);
    });
    await Promise.race([
      closeQuietly(this.channel, code, reason).then(() => this.channel.closed),
      timedOut,
    ]);
    this.#host.clock.clearTimeout(timer);
    if (!this.#endedWith) this.abandon({ code, reason }, code, reason);
    else this.#end({ code, reason, wasClean: true, local: true });
  }

  #heartbeatTimeout(): void {
    this.#host.onHeartbeatTimeout();
    const error = new ClientError("WS_HEARTBEAT_TIMEOUT", "No pong within the heartbeat deadline", {
      closeCode: 1006,
    });
    // Locally the connection is dead (1006 semantics, never sent on the wire,
    // RFC 6455 §7.4.1); a peer that still listens gets 1011, like
    // python-websockets' "keepalive ping timeout".
    this.abandon(
      { code: 1006, reason: "heartbeat timeout", error },
      1011,
      "keepalive ping timeout",
    );
  }

  #end(info: EndInfo): void {
    this.#heartbeat?.stop();
    if (this.#endedWith) return;
    this.#endedWith = info;
    // The peer answered our close frame, so it read every frame before it
    // (RFC 6455 §5.5.1: the close frame is the last one we sent).
    if (this.#closeSent && info.wasClean) this.#unconfirmed.confirmAll();
    const unconfirmed = this.#unconfirmed.take();
    if (unconfirmed.messages.length > 0 || unconfirmed.omitted > 0) {
      // Before `ended` resolves, so a resend is queued before any reconnect.
      this.#host.onUnconfirmed?.(this, unconfirmed, info);
    }
    this.#resolveEnded(info);
  }

  #confirmPing(): void {
    if (this.#endedWith || !this.#confirmWithPing) {
      this.#confirming = false;
      return;
    }
    const mark = this.#unconfirmed.mark;
    let pinging: Promise<number>;
    try {
      pinging = this.channel.ping();
    } catch (error) {
      pinging = Promise.reject(error);
    }
    pinging.then(
      () => {
        this.#unconfirmed.confirm(mark);
        this.#confirming = false;
        // Writes that came after the ping need another one.
        if (this.#unconfirmed.pending > 0 && !this.#endedWith) {
          this.#confirming = true;
          queueMicrotask(() => this.#confirmPing());
        }
      },
      () => {
        this.#confirming = false;
        // A live transport that refuses a ping cannot ping at all (a browser WebSocket).
        if (!this.#endedWith) this.#confirmWithPing = false;
      },
    );
  }

  /**
   * Takes the messages with the channel's synchronous `listen()`: no promise
   * and no stream read per message. A delivery that must wait (a full reader
   * with the `wait` policy) pauses the subscription until it may go on.
   */
  #listen(listen: Listenable["listen"]): void {
    const done = () => this.#resolveReadDone();
    const host = this.#host;
    const heartbeat = this.#heartbeat;
    // One callback for every wait, not a closure per message.
    const resume = () => {
      if (!this.#abandoned) subscription.resume();
    };
    const subscription = listen.call(this.channel, (value) => {
      if (this.#abandoned || heartbeat?.consume(value)) return;
      const wait = host.deliver(value);
      if (!wait) return;
      subscription.pause();
      wait.then(resume);
    }, { onDone: done, onError: done });
    this.#subscription = subscription;
  }

  async #readLoop(after: Promise<void>): Promise<void> {
    const listen = (this.channel as Partial<Listenable>).listen;
    if (typeof listen === "function") {
      await after;
      if (this.#abandoned) return this.#resolveReadDone();
      return this.#listen(listen);
    }
    try {
      await after;
      if (this.#abandoned) return;
      this.#reader = this.channel.stream.getReader();
      for (;;) {
        const { done, value } = await this.#reader.read();
        if (done || this.#abandoned) break;
        if (this.#heartbeat?.consume(value)) continue;
        const wait = this.#host.deliver(value);
        if (wait) await wait;
      }
    } catch {
      // The stream errors after an unclean end; `closed` carries the details.
    } finally {
      try {
        this.#reader?.releaseLock();
      } catch { /* a pending read after cancel */ }
      this.#resolveReadDone();
    }
  }
}
