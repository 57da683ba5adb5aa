/**
 * A WHATWG-`WebSocket`-shaped view of a `Bun.serve` `ServerWebSocket`, so
 * the native channel wrapper can drive it. Bun reports events to one handler
 * object per server; the handlers forward them here.
 *
 * Backpressure mapping: `send()` returning -1 (queued over the backpressure
 * limit) marks the socket blocked and `bufferedAmount` reports "full" until
 * Bun calls `drain`, so `sink.add()` waits; 0 (dropped) throws, so the
 * `add()` of a lost message rejects instead of resolving.
 *
 * @module
 */
import { WebSocketError } from "../engine/errors.ts";
import type { WebSocketLike } from "../channel/native_channel.ts";
import { NATIVE_TOPICS, type NativeTopics } from "../channel/channel_internals.ts";

/** The part of Bun's `ServerWebSocket` the shim uses. */
export interface BunServerWebSocket<T = unknown> {
  readonly readyState: number;
  data: T;
  binaryType?: string;
  send(data: string | ArrayBufferLike | ArrayBufferView, compress?: boolean): number;
  close(code?: number, reason?: string): void;
  getBufferedAmount?(): number;
  /** Bun's native topics (uWebSockets): subscribe this socket. */
  subscribe?(topic: string): void;
  /** Unsubscribe this socket. */
  unsubscribe?(topic: string): void;
  /** Publish to every subscriber of `topic` but this socket. */
  publish?(topic: string, data: string | ArrayBufferLike | ArrayBufferView): number;
}

/** The part of Bun's `Server` that publishes to a topic's subscribers. */
export interface BunPublisher {
  /** Publish to every subscriber of `topic` on this server. */
  publish(topic: string, data: string | Uint8Array): number;
}

function byteLength(data: string | ArrayBufferLike | ArrayBufferView): number {
  return typeof data === "string" ? data.length : data.byteLength;
}

// deno-lint-ignore no-explicit-any
type Listener = (event: any) => void;

/**
 * The shim; the Bun handlers call {@linkcode BunSocketShim.dispatch} and
 * {@linkcode BunSocketShim.drained}.
 *
 * @example
 * ```ts ignore
 * const shim = new BunSocketShim(ws, "chat");
 * const channel = fromWebSocket(shim);
 * shim.dispatch("message", { data: "hello" });
 * ```
 */
export class BunSocketShim implements WebSocketLike {
  readonly #ws: BunServerWebSocket;
  readonly #listeners = new Map<string, Set<Listener>>();
  #blocked = false;
  #tail: Promise<void> | undefined;
  readonly #server: BunPublisher | undefined;
  #topics: NativeTopics | undefined;
  readonly protocol: string;
  readonly extensions = "";

  /**
   * @param ws The Bun socket.
   * @param protocol The subprotocol selected at upgrade.
   */
  constructor(ws: BunServerWebSocket, protocol: string, server?: BunPublisher) {
    this.#ws = ws;
    this.protocol = protocol;
    this.#server = server;
  }

  /**
   * Bun's own topics, so a topic hub publishes once per server instead of
   * once per socket (Bun frames the message once and writes it natively).
   */
  get [NATIVE_TOPICS](): NativeTopics | undefined {
    const ws = this.#ws, server = this.#server;
    if (!server || !ws.subscribe || !ws.unsubscribe || !ws.publish) return undefined;
    return this.#topics ??= {
      server,
      subscribe: (topic) => ws.subscribe!(topic),
      unsubscribe: (topic) => ws.unsubscribe!(topic),
      publishFromHere: (topic, data) => void ws.publish!(topic, data),
      publishToAll: (topic, data) => void server.publish(topic, data),
    };
  }

  get readyState(): number {
    return this.#ws.readyState;
  }

  /** "Full" while Bun reported backpressure and has not drained yet. */
  get bufferedAmount(): number {
    if (this.#blocked) return Number.MAX_SAFE_INTEGER;
    return this.#ws.getBufferedAmount?.() ?? 0;
  }

  get binaryType(): string {
    return this.#ws.binaryType ?? "nodebuffer";
  }

  set binaryType(value: string) {
    this.#ws.binaryType = value;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#tail || (typeof Blob !== "undefined" && data instanceof Blob)) {
      // A Blob must be read first; later messages queue behind it to keep order.
      const previous = this.#tail ?? Promise.resolve();
      const next = previous.then(async () => {
        const bytes = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : data;
        if (this.#ws.readyState === 1) this.#sendNow(bytes);
      });
      this.#tail = next;
      next.then(() => {
        if (this.#tail === next) this.#tail = undefined;
      }, () => this.close(1011));
      return;
    }
    this.#sendNow(data as string | ArrayBufferLike | ArrayBufferView);
  }

  #sendNow(data: string | ArrayBufferLike | ArrayBufferView): void {
    const result = this.#ws.send(data);
    if (result === -1) this.#blocked = true;
    // Bun reports payload bytes, so an empty message sent fine also gives 0.
    else if (result === 0 && (this.#ws.readyState !== 1 || byteLength(data) > 0)) {
      throw new WebSocketError(
        "WS_SEND_DROPPED",
        "Bun dropped the message (connection closing or backpressure limit)",
      );
    }
  }

  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  /** Delivers an event from the Bun handlers to the channel. */
  dispatch(type: string, event: unknown): void {
    const set = this.#listeners.get(type);
    if (set) { for (const listener of [...set]) listener(event); }
  }

  /** Bun's `drain` handler: the socket accepts writes again. */
  drained(): void {
    this.#blocked = false;
  }
}
