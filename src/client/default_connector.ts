/**
 * The connector used when none is injected: `WebSocketChannel.connect`.
 * It prefers the engine transport where the runtime has one (Deno, Node,
 * Bun): only the engine can send protocol pings for the heartbeat and report
 * the HTTP status of a refused handshake to the reconnect policy. In a
 * browser it falls back to the native `WebSocket`.
 *
 * @module
 */
import { chooseTransport, hasEngine } from "../channel/connect.ts";
import { connect, type ConnectOptions } from "../channel/web_socket_channel.ts";
import type { Connector } from "./types.ts";

/** Options passed through to `WebSocketChannel.connect` (the client owns `signal` and `protocols`). */
export type DefaultConnectOptions = Omit<ConnectOptions, "signal" | "protocols">;

/**
 * Builds the default connector.
 *
 * @param options Headers, transport, compression, TLS settings for every attempt.
 * @returns A connector over `WebSocketChannel.connect`.
 *
 * @example
 * ```ts
 * import { createDefaultConnector } from "@wsc/websocket-channel/client";
 *
 * const connector = createDefaultConnector({ headers: { authorization: "Bearer x" } });
 * console.assert(typeof connector === "function");
 * ```
 */
export function createDefaultConnector(options: DefaultConnectOptions = {}): Connector {
  return (url, { signal, protocols }) => {
    const base = { ...options, signal, protocols };
    // `connect` itself, not `WebSocketChannel.connect`: the value object also
    // holds `fromStreams`/`fromWebSocket`, which a browser bundle would carry.
    if (options.transport !== undefined) return connect(url, base);
    try {
      return connect(url, { ...base, transport: "engine" });
    } catch (error) {
      // No engine here (a browser): the native WebSocket is the transport.
      if ((error as { code?: string }).code !== "WS_OPTION_UNSUPPORTED") throw error;
      return connect(url, { ...base, transport: "auto" });
    }
  };
}

/**
 * The transport the default connector uses here with `options`: the engine
 * (protocol pings) where the runtime has one and `transport` is not set,
 * otherwise what `connect()` picks. Throws `UnsupportedError`
 * (`WS_OPTION_UNSUPPORTED`) for options this runtime cannot honour, such as
 * `headers` in a browser.
 *
 * @example
 * ```ts
 * import { defaultTransport } from "./default_connector.ts";
 *
 * console.assert(defaultTransport({ transport: "engine" }) === "engine");
 * ```
 */
export function defaultTransport(options: DefaultConnectOptions = {}): "native" | "engine" {
  if (options.transport === undefined && hasEngine()) return "engine";
  return chooseTransport({ ...options, transport: options.transport ?? "auto" });
}
