/**
 * The client's states as a discriminated union, and a small typed event hub
 * that feeds both listeners and `stateChanges` streams.
 *
 * @module
 */

/** Trying to open a connection; `attempt` counts from 1 since the last stable connection. */
export interface ConnectingState {
  /** Discriminant. */
  readonly type: "connecting";
  /** The URL being tried. */
  readonly url: string;
  /** 1 for the first attempt since the last stable connection, then 2, 3, … */
  readonly attempt: number;
}
/** Connected, `afterConnect` done: messages flow. */
export interface OpenState {
  /** Discriminant. */
  readonly type: "open";
  /** The URL of the connection. */
  readonly url: string;
  /** The negotiated subprotocol, `""` when none. */
  readonly protocol: string;
  /** The negotiated extensions, `""` when none. */
  readonly extensions: string;
}
/** `disconnect()`/`close()`/a URL switch is running the close handshake. */
export interface DisconnectingState {
  /** Discriminant. */
  readonly type: "disconnecting";
  /** The close code being sent. */
  readonly code: number;
  /** The close reason being sent. */
  readonly reason: string;
}
/**
 * Not connected. `willReconnect` tells whether a reconnect is scheduled, and
 * `nextDelay` in how many milliseconds.
 */
export interface ClosedState {
  /** Discriminant. */
  readonly type: "closed";
  /** The close code (1006 for a lost connection or a failed attempt). */
  readonly code: number;
  /** The close reason, possibly empty. */
  readonly reason: string;
  /** Whether a reconnect is scheduled. */
  readonly willReconnect: boolean;
  /** Milliseconds until the scheduled reconnect attempt. */
  readonly nextDelay?: number;
  /** Why the connection ended or the attempt failed, when it was an error. */
  readonly error?: Error;
}

/**
 * Every state of a {@linkcode WebSocketClient}; switch on `type`.
 *
 * @example
 * ```ts
 * import type { ClientState } from "@wsc/websocket-channel/client";
 *
 * function describe(state: ClientState): string {
 *   switch (state.type) {
 *     case "connecting": return `connecting to ${state.url} (#${state.attempt})`;
 *     case "open": return `open ${state.url}`;
 *     case "disconnecting": return `closing ${state.code}`;
 *     case "closed": return state.willReconnect ? `retry in ${state.nextDelay} ms` : "closed";
 *   }
 * }
 * console.assert(describe({ type: "open", url: "ws://x", protocol: "", extensions: "" }) === "open ws://x");
 * ```
 */
export type ClientState = ConnectingState | OpenState | DisconnectingState | ClosedState;

/**
 * Whether two states are the same for listeners (so the second is not
 * emitted again).
 *
 * @example
 * ```ts
 * import { sameState } from "./state.ts";
 *
 * console.assert(sameState({ type: "connecting", url: "ws://a", attempt: 1 }, { type: "connecting", url: "ws://a", attempt: 1 }));
 * ```
 */
export function sameState(a: ClientState, b: ClientState): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case "connecting": {
      const o = b as ConnectingState;
      return a.url === o.url && a.attempt === o.attempt;
    }
    case "open": {
      const o = b as OpenState;
      return a.url === o.url && a.protocol === o.protocol && a.extensions === o.extensions;
    }
    case "disconnecting": {
      const o = b as DisconnectingState;
      return a.code === o.code && a.reason === o.reason;
    }
    case "closed": {
      const o = b as ClosedState;
      return a.code === o.code && a.reason === o.reason && a.willReconnect === o.willReconnect &&
        a.nextDelay === o.nextDelay && a.error === o.error;
    }
  }
}

/**
 * A minimal typed event hub: `on(type, listener)` returns an unsubscribe
 * function; a throwing listener is reported to `onListenerError` and never
 * breaks the client or the other listeners.
 *
 * @example
 * ```ts
 * import { Emitter } from "./state.ts";
 *
 * const hub = new Emitter<{ tick: number }>();
 * let seen = 0;
 * const off = hub.on("tick", (n) => { seen = n; });
 * hub.emit("tick", 3);
 * off();
 * console.assert(seen === 3);
 * ```
 */
export class Emitter<Events extends object> {
  #listeners = new Map<keyof Events, Set<(value: never) => void>>();
  #onListenerError: (error: unknown) => void;

  /** @param onListenerError Called when a listener throws. Default: `console.error`. */
  constructor(onListenerError?: (error: unknown) => void) {
    this.#onListenerError = onListenerError ?? defaultReport;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(type: K, listener: (value: Events[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    const entry = listener as (value: never) => void;
    set.add(entry);
    return () => void set.delete(entry);
  }

  /** Calls every listener of `type` with `value`, in registration order. */
  emit<K extends keyof Events>(type: K, value: Events[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (value: Events[K]) => void)(value);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  /** Whether `type` has at least one listener. */
  has(type: keyof Events): boolean {
    return (this.#listeners.get(type)?.size ?? 0) > 0;
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}

function defaultReport(error: unknown): void {
  // A listener bug should be loud but must not kill the process or the client.
  console.error(error);
}
