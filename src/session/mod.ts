/**
 * Lossless sessions over WebSocket (`wsc.session.1`, opt-in per
 * connection): topic messages carry positions and are replayed from history
 * after a reconnect (or reported as a gap), and client sends are
 * acknowledged once the server's application accepted them and delivered to
 * it once. See docs/session-protocol.md for the wire format.
 *
 * @example
 * ```ts
 * import { SESSION_PROTOCOL, SessionClient, SessionHub } from "@wsc/websocket-channel/session";
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
 *
 * const received: unknown[] = [];
 * const hub = new SessionHub({ onMessage: ({ data }) => void received.push(data) });
 * const client = new SessionClient("memory://", {
 *   connector: () => {
 *     const [near, far] = createChannelPair({ protocol: SESSION_PROTOCOL });
 *     hub.accept(far);
 *     return near;
 *   },
 * });
 * await client.connect();
 * await client.send("hello");
 * console.assert(received[0] === "hello");
 * await client.close();
 * await hub.close();
 * ```
 *
 * @module
 */
// The session client's default connector runs over connect(): its engine transport over the
// runtime's TCP/TLS dialer; browser builds map it to nothing (the `browser` field of package.json).
import "../adapters/engine_connect.ts";

export { SessionError, type SessionErrorCode } from "./errors.ts";
export {
  type ClientFrame,
  decodeFrame,
  encodeFrame,
  type ServerFrame,
  SESSION_MINOR_VERSION,
  SESSION_PROTOCOL,
  type SessionFrame,
} from "./frames.ts";
export type {
  ClaimResult,
  HistoryEntry,
  HistoryPage,
  SessionStore,
  SessionStoreReceiver,
  TopicHead,
} from "./store.ts";
export { MemorySessionStore, type MemorySessionStoreOptions } from "./memory_store.ts";
export {
  SessionHub,
  type SessionHubOptions,
  type SessionHubStats,
  type SessionMessage,
  SessionRejection,
} from "./session_hub.ts";
export type { SessionPeer } from "./session_peer.ts";
export {
  SessionClient,
  type SessionClientEvents,
  type SessionClientOptions,
  type SessionGap,
  type TopicMessage,
  type TopicPosition,
} from "./session_client.ts";
export type { OutboxOptions } from "./outbox.ts";
