/**
 * The reconnect loop of the client: a session per `connect()` target that
 * attempts, keeps the connection while it lives, asks the reconnect policy
 * after it ends and waits out the full-jitter backoff before the next
 * attempt, until the policy gives up or `disconnect()`, `close()` or a
 * switch to another URL stops it. Starting and stopping are serialized, so
 * the states always read connecting → open → disconnecting → closed.
 *
 * @module
 */
import { attemptConnection } from "./attempt.ts";
import type { ClientCore } from "./client_core.ts";
import { sleep } from "../_util/clock.ts";
import type { EndInfo } from "./connection.ts";
import type { DeliveryOptions } from "./delivery.ts";
import { ClientError, errorStatus } from "./errors.ts";
import type { HeartbeatOptions } from "../channel/heartbeat.ts";
import type { Outbound } from "./outbound.ts";
import type { AfterConnectContext, UrlSource } from "./options.ts";
import { type ResolvedReconnect, retryDelay } from "./retry_policy.ts";
import type { Connector, Message } from "./types.ts";

/** What the loop needs besides the shared state. */
export interface ReconnectLoopOptions {
  /** Where to connect until `connect(url)` names another URL. */
  source: UrlSource | undefined;
  connector: Connector;
  protocols: string[] | undefined;
  reconnect: ResolvedReconnect;
  connectTimeout: number;
  closeTimeout: number;
  random: () => number;
  heartbeat: HeartbeatOptions | false;
  delivery: DeliveryOptions | undefined;
  afterConnect: ((context: AfterConnectContext) => void | Promise<void>) | undefined;
  /** The send path: `afterConnect` sends through it, the queue is pumped once open. */
  outbound: Outbound;
  /** Hands a received message to the readers; a promise when they need the loop to wait. */
  deliver(message: Message): Promise<void> | undefined;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

interface Session {
  readonly controller: AbortController;
  readonly source: UrlSource;
  /** Resolves (to undefined) when the session is aborted. */
  readonly aborted: Promise<undefined>;
  /** `connect()` calls waiting for the next `open`. */
  waiters: Waiter[];
  done: Promise<void>;
}

type End = EndInfo & { status?: number; wasOpen: boolean };

/**
 * Runs the client's connections (see the module doc).
 *
 * @example
 * ```ts
 * import { ClientCore } from "./client_core.ts";
 * import { Outbound } from "./outbound.ts";
 * import { ReconnectLoop } from "./reconnect_loop.ts";
 * import { resolveReconnect } from "./options.ts";
 * import { ClientError, systemClock } from "@wsc/websocket-channel/client";
 * import { FakePeer } from "@wsc/websocket-channel/testing";
 *
 * const core = new ClientCore(systemClock, undefined);
 * const loop = new ReconnectLoop(core, {
 *   source: "ws://fake/",
 *   connector: (url) => new FakePeer(url, {}).channel,
 *   protocols: undefined,
 *   reconnect: resolveReconnect(false),
 *   connectTimeout: 1000,
 *   closeTimeout: 1000,
 *   random: Math.random,
 *   heartbeat: false,
 *   delivery: undefined,
 *   afterConnect: undefined,
 *   outbound: new Outbound(core, []),
 *   deliver: () => undefined,
 * });
 * await loop.connect(undefined);
 * console.assert(core.state.type === "open");
 * await loop.shutdown(1000, "", new ClientError("WS_CLIENT_CLOSED", "closed"));
 * console.assert(core.state.type === "closed");
 * ```
 */
export class ReconnectLoop {
  #core: ClientCore;
  #options: ReconnectLoopOptions;
  #source: UrlSource | undefined;
  #session: Session | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  #lastReadDone: Promise<void> = Promise.resolve();
  #stableTimer: unknown = undefined;
  /** While `#stop` switches URLs: a resend still goes out (on the new URL). */
  #switching = false;
  #resendUnconfirmed: boolean;

  /**
   * @param core The client's shared state.
   * @param options The transport, the timeouts, the policies and the message paths.
   */
  constructor(core: ClientCore, options: ReconnectLoopOptions) {
    this.#core = core;
    this.#options = options;
    this.#source = options.source;
    this.#resendUnconfirmed = options.delivery?.resendUnconfirmed ?? false;
  }

  /**
   * Starts a session on `url` (or the current source), stopping one on
   * another URL first; the returned `wait` settles at the next `open`.
   */
  connect(url: string | URL | undefined): Promise<void> {
    // The locked part only starts the session; waiting for `open` happens
    // outside the lock so that disconnect()/close() can interrupt it.
    return this.#serialize(() => this.#connectLocked(url)).then(({ wait }) => wait);
  }

  /** Stops the session and the connection with `code`, then empties the queue with `WS_MESSAGE_DROPPED`. */
  disconnect(code: number, reason: string): Promise<void> {
    const cancel = new ClientError("WS_CONNECT_CANCELLED", "disconnect() was called");
    return this.#serialize(async () => {
      const core = this.#core;
      if (core.final) throw core.closedError();
      await this.#stop(code, reason, cancel, false);
      core.queue?.clear(new ClientError("WS_MESSAGE_DROPPED", "Discarded by disconnect()"));
    });
  }

  /** Stops for good (the client is already final): waiting `connect()` calls reject with `error`. */
  async shutdown(code: number, reason: string, error: ClientError): Promise<void> {
    await this.#serialize(() => this.#stop(code, reason, error, false));
    this.#clearStableTimer();
  }

  #serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(task, task);
    this.#lock = run.catch(() => {});
    return run;
  }

  async #connectLocked(url: string | URL | undefined): Promise<{ wait: Promise<void> }> {
    const core = this.#core;
    if (core.final) throw core.closedError();
    const session = this.#session;
    const wanted = url === undefined ? undefined : String(url);
    if (session && (wanted === undefined || wanted === sourceKey(session.source))) {
      // Already connecting, open or between attempts on this URL: wait for open.
      if (core.state.type === "open") return { wait: Promise.resolve() };
      return { wait: waitForOpen(session) };
    }
    if (wanted !== undefined) this.#source = wanted;
    if (this.#source === undefined) {
      throw new TypeError(
        "connect() needs a URL: none was given to the constructor or to connect()",
      );
    }
    if (session || core.conn) {
      const cancel = new ClientError("WS_CONNECT_CANCELLED", "connect() to another URL");
      await this.#stop(1001, "switching URL", cancel, true);
    }
    return { wait: waitForOpen(this.#startSession(this.#source)) };
  }

  /** Stops the session and the connection: disconnecting → closed(code, reason). */
  async #stop(
    code: number,
    reason: string,
    error: ClientError,
    willReconnect: boolean,
  ): Promise<void> {
    const core = this.#core;
    const session = this.#session;
    this.#session = undefined;
    if (session) {
      session.controller.abort(error);
      settleWaiters(session, error);
    }
    core.nextReconnectAt = null;
    this.#clearStableTimer();
    const conn = core.conn;
    core.setConnection(undefined);
    if (conn) {
      core.setState({ type: "disconnecting", code, reason });
      this.#switching = willReconnect;
      try {
        await conn.close(code, reason, this.#options.closeTimeout);
      } finally {
        this.#switching = false;
      }
      core.recordDisconnect(code, reason);
    }
    if (session) await session.done;
    const wasIdle = !conn && !session;
    if (!wasIdle || core.final) {
      core.setState(
        willReconnect
          ? { type: "closed", code, reason, willReconnect: true, nextDelay: 0 }
          : { type: "closed", code, reason, willReconnect: false },
      );
    }
  }

  #startSession(source: UrlSource): Session {
    const controller = new AbortController();
    const session: Session = {
      controller,
      source,
      aborted: new Promise((resolve) =>
        controller.signal.addEventListener("abort", () => resolve(undefined), { once: true })
      ),
      waiters: [],
      done: Promise.resolve(),
    };
    this.#session = session;
    this.#core.attemptStreak = 0;
    session.done = this.#runSession(session).catch((error) => {
      // A bug in the loop must still settle everything.
      this.#core.emitError(error);
      settleWaiters(session, error);
      if (this.#session === session) this.#session = undefined;
    });
    return session;
  }

  async #runSession(session: Session): Promise<void> {
    const core = this.#core;
    const options = this.#options;
    const signal = session.controller.signal;
    for (;;) {
      if (signal.aborted) return;
      core.attemptStreak++;
      core.recorder.attempts++;
      core.nextReconnectAt = null;
      let url: string;
      let end: End;
      try {
        url = String(
          typeof session.source === "function" ? await session.source() : session.source,
        );
      } catch (error) {
        end = failure(error);
        if (signal.aborted) return;
        if (!(await this.#afterEnd(session, end))) return;
        continue;
      }
      core.url = url;
      core.setState({ type: "connecting", url, attempt: core.attemptStreak });
      const outcome = await attemptConnection(url, {
        connector: options.connector,
        protocols: options.protocols,
        timeout: options.connectTimeout,
        signal,
        clock: core.clock,
        previousReadDone: this.#lastReadDone,
        onConnection: (conn) => void (this.#lastReadDone = conn.readDone),
        host: {
          clock: core.clock,
          heartbeat: options.heartbeat,
          deliver: options.deliver,
          onRtt: (ms) => core.recorder.recordRtt(ms),
          onHeartbeatTimeout: () => void core.recorder.heartbeatTimeouts++,
          onError: (error) => core.emitError(error),
          confirmWithPing: options.delivery?.confirmWithPing ?? this.#resendUnconfirmed,
          maxUnconfirmedBytes: options.delivery?.maxBytes,
          copyUnconfirmed: this.#resendUnconfirmed,
          onUnconfirmed: (conn, { messages, omitted }, end) =>
            core.unconfirmed.report(messages, {
              omitted,
              url: conn.url,
              code: end.code,
              // Resent while the client goes on: not after disconnect() or close().
              requeueInto: this.#resendUnconfirmed && !core.final &&
                  (this.#session !== undefined || this.#switching)
                ? core.queue
                : undefined,
            }),
        },
        afterConnect: options.afterConnect,
        sendOn: (conn, message) => options.outbound.sendOn(conn, message),
      });
      if (signal.aborted) {
        // The stopper owns the states from here; a connection that made it
        // through just as we were stopped must not live on.
        if (outcome.ok) {
          outcome.connection.abandon({ code: 1006, reason: "cancelled" }, 1000, "cancelled");
        }
        return;
      }
      if (!outcome.ok) {
        core.recorder.failedAttempts++;
        end = failure(outcome.error);
        if (outcome.code !== undefined) {
          end = { ...end, code: outcome.code, reason: outcome.reason ?? "" };
        }
      } else {
        const conn = outcome.connection;
        core.setConnection(conn);
        core.recorder.connects++;
        if (core.recorder.connects > 1) core.recorder.reconnects++;
        core.recorder.lastConnectedAt = core.clock.now();
        this.#armStableTimer();
        core.setState({
          type: "open",
          url,
          protocol: conn.channel.protocol,
          extensions: conn.channel.extensions,
        });
        settleWaiters(session);
        void options.outbound.pump();
        const info = await Promise.race([conn.ended, session.aborted]);
        if (signal.aborted || info === undefined) return;
        core.setConnection(undefined);
        this.#clearStableTimer();
        end = { ...info, wasOpen: true };
      }
      core.recordDisconnect(end.code, end.reason, end.error);
      if (!(await this.#afterEnd(session, end))) return;
    }
  }

  /** Decides and waits for the next attempt; false when the session is over. */
  async #afterEnd(session: Session, end: End): Promise<boolean> {
    const core = this.#core;
    const signal = session.controller.signal;
    const delay = retryDelay(
      {
        code: end.code,
        reason: end.reason,
        status: end.status,
        error: end.error,
        wasOpen: end.wasOpen,
        attempt: core.attemptStreak,
      },
      this.#options.reconnect,
      this.#options.random,
      (error) => core.emitError(error),
    );
    if (end.error && !end.wasOpen) core.emitError(end.error);
    if (delay === undefined) {
      this.#session = undefined;
      const stopped = new ClientError(
        "WS_RECONNECT_STOPPED",
        `Not reconnecting after ${end.code}${end.status ? ` (HTTP ${end.status})` : ""}`,
        { cause: end.error, closeCode: end.code },
      );
      core.setState({
        type: "closed",
        code: end.code,
        reason: end.reason,
        willReconnect: false,
        ...(end.error ? { error: end.error } : {}),
      });
      settleWaiters(session, end.error ?? stopped);
      core.queue?.clear(stopped);
      return false;
    }
    core.nextReconnectAt = core.clock.now() + delay;
    core.setState({
      type: "closed",
      code: end.code,
      reason: end.reason,
      willReconnect: true,
      nextDelay: delay,
      ...(end.error ? { error: end.error } : {}),
    });
    try {
      await sleep(core.clock, delay, signal);
    } catch {
      return false;
    }
    return !signal.aborted;
  }

  #armStableTimer(): void {
    this.#clearStableTimer();
    const clock = this.#core.clock;
    this.#stableTimer = clock.setTimeout(() => {
      this.#stableTimer = undefined;
      this.#core.attemptStreak = 0;
    }, this.#options.reconnect.stableAfter);
  }

  #clearStableTimer(): void {
    if (this.#stableTimer !== undefined) this.#core.clock.clearTimeout(this.#stableTimer);
    this.#stableTimer = undefined;
  }
}

function waitForOpen(session: Session): Promise<void> {
  return new Promise((resolve, reject) => session.waiters.push({ resolve, reject }));
}

function settleWaiters(session: Session, error?: unknown): void {
  const waiters = session.waiters;
  session.waiters = [];
  for (const waiter of waiters) error === undefined ? waiter.resolve() : waiter.reject(error);
}

function sourceKey(source: UrlSource): string | undefined {
  return typeof source === "function" ? undefined : String(source);
}

function failure(error: unknown): End {
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    code: 1006,
    reason: err.message,
    wasClean: false,
    local: true,
    error: err,
    status: errorStatus(err),
    wasOpen: false,
  };
}
