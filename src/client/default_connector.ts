/**
 * The connector used when none is injected: `WebSocketChannel.connect`,
 * loaded on first use so that code which always injects a transport (tests,
 * fakes) never loads the network stack.
 *
 * @module
 */
import type { ClientChannel, Connector } from "./types.ts";

let channelModule: Promise<{ WebSocketChannel: { connect: (url: string, options?: object) => ClientChannel } }> | undefined;

/**
 * Opens a connection with `WebSocketChannel.connect(url, { protocols, signal })`.
 *
 * @example
 * ```ts
 * import { defaultConnector } from "./default_connector.ts";
 *
 * console.assert(typeof defaultConnector === "function");
 * ```
 */
export const defaultConnector: Connector = async (url, options) => {
  channelModule ??= import("../channel/web_socket_channel.ts") as unknown as NonNullable<typeof channelModule>;
  const { WebSocketChannel } = await channelModule;
  return WebSocketChannel.connect(url, { protocols: options.protocols, signal: options.signal });
};
