/**
 * The checks the reconnecting client makes at construction, so that a
 * mistake throws there (as `connect()` does) instead of surfacing later as
 * failed attempts, or as a heartbeat that silently does nothing.
 *
 * @module
 */
import { checkConnectOptions } from "../channel/connect.ts";
import { UnsupportedError } from "../channel/errors.ts";
import { validateSubprotocols } from "../handshake/subprotocol.ts";
import { parseWebSocketUrl } from "../handshake/web_socket_url.ts";
import {
  checkChoiceOption,
  checkNumberOption,
  checkTypeOption,
  MAX_TIMEOUT,
} from "../_util/option_checks.ts";
import { checkSendable } from "../_util/sendable.ts";
import { defaultTransport } from "./default_connector.ts";
import type { HeartbeatOptions } from "../channel/heartbeat.ts";
import type { UrlSource, WebSocketClientOptions } from "./options.ts";

/**
 * Validates the constructor's arguments and returns the heartbeat to use:
 * the option as given, or `false` when none was given and the transport
 * cannot send protocol pings (a browser `WebSocket`): the default heartbeat
 * is a protocol ping, and a heartbeat asked for where it cannot run throws.
 *
 * @throws {SyntaxError} A URL or subprotocol the WHATWG `WebSocket` would refuse.
 * @throws {TypeError} An option of the wrong type, or `heartbeat.mode: "message"` without `pingMessage`.
 * @throws {RangeError} A number out of range.
 * @throws {UnsupportedError} `WS_OPTION_UNSUPPORTED`: an option this runtime
 * cannot honour (`connectOptions.headers` in a browser), or a heartbeat on a
 * transport that cannot send protocol pings without `heartbeat.pingMessage`.
 *
 * @example
 * ```ts
 * import { checkClientOptions } from "./check_options.ts";
 *
 * const heartbeat = checkClientOptions("ws://localhost:8080", { heartbeat: { interval: 5000 } });
 * console.assert(heartbeat !== false);
 * try {
 *   checkClientOptions("ftp://localhost", {});
 * } catch (error) {
 *   console.assert(error instanceof SyntaxError);
 * }
 * ```
 */
export function checkClientOptions(
  url: UrlSource | undefined,
  options: WebSocketClientOptions,
): HeartbeatOptions | false {
  checkTypeOption("options", options, "object");
  // An injected connector decides which URLs it takes (a fake's "memory:" …).
  if (options.connector === undefined) checkClientUrl(url);
  if (options.protocols !== undefined) validateSubprotocols(options.protocols);
  checkTypeOption("connector", options.connector, "function");
  checkNumberOption("connectTimeout", options.connectTimeout, { above: 0, max: MAX_TIMEOUT });
  checkNumberOption("closeTimeout", options.closeTimeout, { above: 0, max: MAX_TIMEOUT });
  checkTypeOption("readers", options.readers, "object");
  checkTypeOption("afterConnect", options.afterConnect, "function");
  checkTypeOption("random", options.random, "function");
  if (options.interceptors !== undefined && !Array.isArray(options.interceptors)) {
    throw new TypeError("interceptors must be an array");
  }
  const reconnect = options.reconnect;
  if (reconnect !== undefined && typeof reconnect !== "boolean") {
    checkTypeOption("reconnect", reconnect, "object");
    for (const name of ["base", "max", "floor", "stableAfter"] as const) {
      checkNumberOption(`reconnect.${name}`, reconnect[name], { min: 0, max: MAX_TIMEOUT });
    }
    checkNumberOption("reconnect.maxAttempts", reconnect.maxAttempts, { min: 0, integer: true });
    checkTypeOption("reconnect.policy", reconnect.policy, "function");
  }
  let transport: "native" | "engine" | undefined;
  if (options.connector === undefined) {
    const connectOptions = options.connectOptions ?? {};
    checkTypeOption("connectOptions", connectOptions, "object");
    checkConnectOptions(connectOptions);
    transport = defaultTransport(connectOptions);
  }
  return checkHeartbeat(options.heartbeat, transport);
}

/**
 * Checks a URL given to the constructor or to `connect(url)` of a client
 * with the default connector: a string or `URL` must be a valid WebSocket
 * URL; a function is called per attempt.
 *
 * @example
 * ```ts
 * import { checkClientUrl } from "./check_options.ts";
 *
 * checkClientUrl("wss://example.com/feed");
 * checkClientUrl(() => "wss://example.com/feed");
 * ```
 */
export function checkClientUrl(url: UrlSource | undefined): void {
  if (url === undefined || typeof url === "function") return;
  parseWebSocketUrl(url as string | URL);
}

function checkHeartbeat(
  heartbeat: HeartbeatOptions | false | undefined,
  transport: "native" | "engine" | undefined,
): HeartbeatOptions | false {
  if (heartbeat === false) return false;
  // The default heartbeat pings with protocol pings; where there are none it is off (documented).
  if (heartbeat === undefined) return transport === "native" ? false : {};
  checkTypeOption("heartbeat", heartbeat, "object");
  checkNumberOption("heartbeat.interval", heartbeat.interval, { min: 0, max: MAX_TIMEOUT });
  checkNumberOption("heartbeat.timeout", heartbeat.timeout, { above: 0, max: MAX_TIMEOUT });
  checkChoiceOption("heartbeat.mode", heartbeat.mode, ["auto", "protocol", "message"]);
  checkTypeOption("heartbeat.isPong", heartbeat.isPong, "function");
  for (const name of ["pingMessage", "pongMessage"] as const) {
    const value = heartbeat[name];
    if (value === undefined || typeof value === "function") continue;
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw new TypeError(`heartbeat.${name} must be a string or a Uint8Array`);
    }
    checkSendable(value, `heartbeat.${name}`);
  }
  if (heartbeat.interval === 0) return heartbeat;
  const mode = heartbeat.mode ?? "auto";
  if (mode === "message" && heartbeat.pingMessage === undefined) {
    throw new TypeError('heartbeat mode "message" needs heartbeat.pingMessage');
  }
  if (transport !== "native") return heartbeat;
  const why = "this transport (the WHATWG WebSocket) cannot send protocol pings";
  if (mode === "protocol") {
    throw new UnsupportedError(
      "WS_OPTION_UNSUPPORTED",
      `heartbeat mode "protocol" cannot run here: ${why}; use mode "auto" with heartbeat.pingMessage`,
    );
  }
  if (heartbeat.pingMessage === undefined) {
    throw new UnsupportedError(
      "WS_OPTION_UNSUPPORTED",
      `heartbeat needs heartbeat.pingMessage here: ${why}. Set pingMessage (the server must ` +
        'answer it with pongMessage, default "pong": serve({ answerPingMessages: true })), ' +
        "or pass heartbeat: false",
    );
  }
  // Known to be needed from the start: no failed protocol ping on each connection first.
  return { ...heartbeat, mode: "message" };
}
