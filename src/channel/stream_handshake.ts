/**
 * The opening handshake over a raw byte-stream pair (a TCP socket, an
 * in-memory pair), client and server side, followed by the engine channel:
 * the names the engine entry point (`./engine`) exports. The client side is
 * in `./client_over_streams.ts`, the server side in
 * `./server_over_streams.ts`, the answer to an upgrade request that every
 * raw-socket server shares in `./upgrade_answer.ts`.
 *
 * @module
 */
export { clientOverStreams, type ClientOverStreamsOptions } from "./client_over_streams.ts";
export type { HandshakeLimits } from "./handshake_streams.ts";
export {
  serverOverStreams,
  type ServerOverStreamsOptions,
  type ServerUpgrade,
  type UpgradeRequestInfo,
} from "./server_over_streams.ts";
