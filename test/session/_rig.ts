/**
 * Session test fixtures: a session hub and a session client joined by
 * in-memory channel pairs, with a switch to cut every connection (both ends
 * see 1006, the client reconnects); and a hub served over the running
 * runtime's `serve()`.
 *
 * @module
 */
import type { WebSocketServer } from "../../src/adapters/serve_options.ts";
import { type ChannelPair, createChannelPair } from "../../src/testing/channel_pair.ts";
import { SESSION_PROTOCOL } from "../../src/session/frames.ts";
import { SessionHub, type SessionHubOptions } from "../../src/session/session_hub.ts";
import { SessionClient, type SessionClientOptions } from "../../src/session/session_client.ts";
import type { SessionGap, TopicMessage } from "../../src/session/session_client.ts";
import { waitFor } from "../_util/async.ts";
import { serveHere } from "../_util/serve_here.ts";

export interface Rig {
  /** The hub new connections go to (replace it to simulate a restarted server). */
  hub: SessionHub;
  client: SessionClient;
  messages: TopicMessage[];
  gaps: SessionGap[];
  /** Cuts every open connection. */
  cut(): void;
  /** Refuses new connections while true. */
  offline: boolean;
  /** Subscribes the client to `topic`, connects, and waits until it holds a position there. */
  subscribed(topic: string): Promise<void>;
  /** Cuts every connection and refuses new ones while `during` runs, then lets the client back. */
  outage(during: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export function rig(
  hubOptions: SessionHubOptions = {},
  clientOptions: SessionClientOptions = {},
): Rig {
  const pairs: ChannelPair[] = [];
  const state: Rig = {
    hub: new SessionHub(hubOptions),
    client: undefined as unknown as SessionClient,
    messages: [],
    gaps: [],
    offline: false,
    cut() {
      for (const pair of pairs.splice(0)) pair.destroy();
    },
    async subscribed(topic) {
      state.client.subscribe(topic);
      await state.client.connect();
      await waitFor(() => state.client.positions()[topic] !== undefined);
    },
    async outage(during) {
      state.offline = true;
      state.cut();
      try {
        await during();
      } finally {
        state.offline = false;
      }
    },
    async close() {
      await state.client.close();
      await state.hub.close();
    },
  };
  state.client = new SessionClient("memory://session", {
    heartbeat: false,
    reconnect: { base: 5, max: 20 },
    connector: () => {
      if (state.offline) throw new Error("offline");
      const pair = createChannelPair({ protocol: SESSION_PROTOCOL });
      pairs.push(pair);
      state.hub.accept(pair[1]);
      return pair[0];
    },
    ...clientOptions,
  });
  state.client.on("message", (message) => state.messages.push(message));
  state.client.on("gap", (gap) => state.gaps.push(gap));
  return state;
}

/**
 * Serves `hub` with the running runtime's `serve()` on 127.0.0.1 (a free
 * port), offering the session subprotocol; the caller closes the server.
 */
export function serveHub(
  hub: SessionHub,
  accepted?: (peer: ReturnType<SessionHub["accept"]>) => void,
): Promise<WebSocketServer> {
  return serveHere({
    protocols: [SESSION_PROTOCOL],
    onChannel: (channel) => {
      const peer = hub.accept(channel);
      accepted?.(peer);
    },
  });
}
