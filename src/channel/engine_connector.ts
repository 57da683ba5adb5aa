/**
 * Where `connect()` finds its engine transport. The runtime entry points
 * install it (`src/adapters/engine_connect.ts`: the engine over the
 * runtime's TCP/TLS dialer); browser builds leave it out, so the engine and
 * the HTTP handshake code stay out of an app that only connects, and the
 * channel layer never names the adapters.
 *
 * @module
 */
import type { StreamChannel } from "./stream_channel.ts";
import type { ConnectOptions } from "./connect_options.ts";

/**
 * Opens a connection with the engine over TCP/TLS. Returns the channel at
 * once: `ready` rejects with the typed failure.
 */
export type EngineConnector = (url: string | URL, options: ConnectOptions) => StreamChannel;

let installed: EngineConnector | undefined;

/**
 * Installs the engine transport of `connect()`; the last call wins.
 *
 * @param connector Opens a connection with the engine.
 *
 * @example
 * ```ts ignore
 * import { installEngineConnector } from "./engine_connector.ts";
 * import { connectEngine } from "./connect_engine.ts";
 *
 * installEngineConnector((url, options) => connectEngine(url, { ...options, dial: myDialer }));
 * ```
 */
export function installEngineConnector(connector: EngineConnector): void {
  installed = connector;
}

/**
 * The installed engine transport, `undefined` when none was installed (a
 * browser build, or a program that imported `connect.ts` without an entry
 * point).
 *
 * @returns The connector or `undefined`.
 *
 * @example
 * ```ts ignore
 * import { engineConnector } from "./engine_connector.ts";
 *
 * console.log(engineConnector() !== undefined);
 * ```
 */
export function engineConnector(): EngineConnector | undefined {
  return installed;
}
