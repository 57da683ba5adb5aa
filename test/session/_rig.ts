/**
 * A session hub and session clients joined by in-memory channel pairs, with
 * a switch to cut every connection (both ends see 1006, the client
 * reconnects).
 *
 * @module
 */
import { type ChannelPair, createChannelPair } from "../../src/testing/channel_pair.ts";
import { SESSION_PROTOCOL } from "../../src/session/frames.ts";
import { SessionHub, type SessionHubOptions } from "../../src/session/session_hub.ts";
import { SessionClient, type SessionClientOptions } from "../../src/session/session_client.ts";
import type { SessionGap, TopicMessage } from "../../src/session/session_client.ts";

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
