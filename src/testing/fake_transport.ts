/**
 * An in-memory "server" for testing reconnecting clients: its `connector`
 * plugs into `WebSocketClient`, and the test scripts what each connection
 * attempt does (accept, refuse with an HTTP status, fail, hang) and drives
 * the accepted connections through {@linkcode FakePeer}.
 *
 * @module
 */
import { ConnectError } from "../channel/errors.ts";
import { Inbox } from "../channel/inbox.ts";
import type { WebSocketChannel } from "../channel/web_socket_channel.ts";
import { type FakeChannelOptions, FakePeer } from "./fake_channel.ts";

/** What one scripted attempt does. */
export type FakeOutcome =
  | { type: "accept"; options?: FakeChannelOptions }
  | { type: "refuse"; status: number }
  | { type: "fail"; error?: Error }
  | { type: "hang" };

/** One connection attempt seen by the fake. */
export interface FakeAttempt {
  /** The URL the client asked for. */
  readonly url: string;
  /** The subprotocols offered. */
  readonly protocols: string[] | undefined;
  /** The attempt's signal (aborted when the client gave up on it). */
  readonly signal: AbortSignal;
  /** What the fake did. */
  readonly outcome: FakeOutcome["type"];
  /** The accepted connection, for `accept`. */
  readonly peer?: FakePeer;
}

/**
 * The fake server. Attempts follow the script (`refuseNext`, `failNext`,
 * `hangNext`, `acceptNext`) and then the default (`accept`, or whatever
 * `down()`/`up()` set).
 *
 * @example Refuse once with 503, then accept and echo
 * ```ts
 * import { FakeTransport } from "@wsc/websocket-channel/testing";
 *
 * const server = new FakeTransport();
 * server.refuseNext(503);
 * server.onConnection((peer) => peer.onMessage((m) => peer.send(m)));
 * const signal = new AbortController().signal;
 * const first = await server.connector("ws://fake/", { signal });
 * await first.ready.catch((e) => console.assert(e.status === 503));
 * const second = await server.connector("ws://fake/", { signal });
 * await second.ready;
 * ```
 */
export class FakeTransport {
  /** Every attempt, in order. */
  readonly attempts: FakeAttempt[] = [];
  /** Every accepted connection, in order. */
  readonly peers: FakePeer[] = [];
  /** Defaults for accepted connections (protocol, pings, close echo). */
  channelOptions: FakeChannelOptions;
  #script: FakeOutcome[] = [];
  #default: FakeOutcome = { type: "accept" };
  #onConnection: ((peer: FakePeer) => void)[] = [];
  #peerWaiters: ((peer: FakePeer) => void)[] = [];

  /**
   * Creates a fake server.
   * @param channelOptions Defaults for accepted connections.
   */
  constructor(channelOptions: FakeChannelOptions = {}) {
    this.channelOptions = channelOptions;
  }

  /** The connector to inject: `new WebSocketClient(url, { connector: server.connector })`. */
  readonly connector = (
    url: string,
    options: { signal: AbortSignal; protocols?: string[] },
  ): WebSocketChannel => this.#attempt(url, options);

  /** The most recent accepted connection. */
  get lastPeer(): FakePeer | undefined {
    return this.peers[this.peers.length - 1];
  }

  /** Scripts the next `times` attempts to be refused with HTTP `status`. */
  refuseNext(status: number, times = 1): this {
    for (let i = 0; i < times; i++) this.#script.push({ type: "refuse", status });
    return this;
  }

  /** Scripts the next `times` attempts to fail like an unreachable host. */
  failNext(times = 1, error?: Error): this {
    for (let i = 0; i < times; i++) this.#script.push({ type: "fail", error });
    return this;
  }

  /** Scripts the next `times` attempts to never complete (until their signal aborts). */
  hangNext(times = 1): this {
    for (let i = 0; i < times; i++) this.#script.push({ type: "hang" });
    return this;
  }

  /** Scripts the next attempt to be accepted with specific channel options. */
  acceptNext(options?: FakeChannelOptions): this {
    this.#script.push({ type: "accept", options });
    return this;
  }

  /** From now on, unscripted attempts fail (the server is down); `status` refuses instead. */
  down(status?: number): this {
    this.#default = status === undefined ? { type: "fail" } : { type: "refuse", status };
    return this;
  }

  /** From now on, unscripted attempts are accepted. */
  up(): this {
    this.#default = { type: "accept" };
    return this;
  }

  /** Runs `handler` for every accepted connection (before the client sees it open). */
  onConnection(handler: (peer: FakePeer) => void): this {
    this.#onConnection.push(handler);
    return this;
  }

  /** Resolves with the next accepted connection. */
  nextPeer(): Promise<FakePeer> {
    return new Promise((resolve) => this.#peerWaiters.push(resolve));
  }

  /** Drops every open connection (e.g. a server crash). */
  dropAll(): void {
    for (const peer of this.peers) peer.drop();
  }

  #attempt(url: string, options: { signal: AbortSignal; protocols?: string[] }): WebSocketChannel {
    const outcome = this.#script.shift() ?? this.#default;
    const record = (peer?: FakePeer) =>
      this.attempts.push({
        url,
        protocols: options.protocols,
        signal: options.signal,
        outcome: outcome.type,
        peer,
      });
    if (outcome.type === "accept") {
      const peer = new FakePeer(url, { ...this.channelOptions, ...outcome.options });
      record(peer);
      this.peers.push(peer);
      for (const handler of this.#onConnection) handler(peer);
      for (const waiter of this.#peerWaiters.splice(0)) waiter(peer);
      return peer.channel;
    }
    record();
    let ready: Promise<void>;
    if (outcome.type === "refuse") {
      ready = Promise.reject(
        new ConnectError(
          "WS_HANDSHAKE_BAD_STATUS",
          `Server refused the upgrade with ${outcome.status}`,
          {
            status: outcome.status,
          },
        ),
      );
    } else if (outcome.type === "fail") {
      ready = Promise.reject(
        outcome.error ?? new ConnectError("WS_CONNECT_REFUSED", `Connection to ${url} refused`),
      );
    } else {
      ready = new Promise((_, reject) => {
        const abort = () =>
          reject(
            new ConnectError("WS_CONNECT_ABORTED", "Connect aborted", {
              cause: options.signal.reason,
            }),
          );
        if (options.signal.aborted) abort();
        else options.signal.addEventListener("abort", abort, { once: true });
      });
    }
    return failedChannel(ready);
  }
}

function failedChannel(ready: Promise<void>): WebSocketChannel {
  ready.catch(() => {});
  const info = ready.then(
    () => ({ code: 1006, reason: "", wasClean: false }),
    () => ({ code: 1006, reason: "", wasClean: false }),
  );
  const closedError = () => ready.then(() => {}, (error) => Promise.reject(error));
  const sink = Object.assign(new WritableStream(), {
    add: () => closedError(),
    close: () => info.then(() => {}),
  });
  const inbox = new Inbox();
  ready.catch((error) => inbox.error(error));
  return {
    get stream() {
      return inbox.stream;
    },
    listen: (listener, options) => inbox.listen(listener, options),
    sink,
    send: () => closedError(),
    ready,
    closed: info,
    protocol: "",
    extensions: "",
    closeCode: undefined,
    closeReason: undefined,
    ping: () => closedError().then(() => 0),
  } satisfies WebSocketChannel;
}
