/**
 * Shared setup for the client tests: a client wired to a fake server and a
 * fake clock, and a recorder of its states.
 *
 * @module
 */
import { WebSocketClient } from "../../src/client/web_socket_client.ts";
import type { WebSocketClientOptions } from "../../src/client/options.ts";
import type { ClientState } from "../../src/client/state.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { FakeTransport } from "../../src/testing/fake_transport.ts";
import type { FakeChannelOptions } from "../../src/testing/fake_channel.ts";
import { seededRandom } from "../../src/client/backoff.ts";

export interface Rig {
  client: WebSocketClient;
  server: FakeTransport;
  clock: FakeClock;
  states: ClientState[];
  /** State types joined with spaces, e.g. "connecting open closed". */
  types(): string;
}

export function rig(
  options: WebSocketClientOptions = {},
  channelOptions: FakeChannelOptions = {},
  url = "ws://fake/",
): Rig {
  const clock = new FakeClock(1_000_000);
  const server = new FakeTransport(channelOptions);
  const client = new WebSocketClient(url, {
    connector: server.connector,
    clock,
    random: seededRandom(1),
    heartbeat: false,
    ...options,
  });
  const states: ClientState[] = [];
  client.on("state", (state) => states.push(state));
  return { client, server, clock, states, types: () => states.map((s) => s.type).join(" ") };
}

/** Rejection of `promise`, or a failure if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<{ code?: string } & Error> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string } & Error;
  }
  throw new Error("expected a rejection");
}

/** Fails when two consecutive states are equal. */
export function assertNoDuplicateStates(states: readonly ClientState[]): void {
  for (let i = 1; i < states.length; i++) {
    if (
      JSON.stringify(states[i]) === JSON.stringify(states[i - 1]) && states[i].type !== "closed"
    ) {
      throw new Error(`duplicate consecutive state at ${i}: ${JSON.stringify(states[i])}`);
    }
    if (states[i] === states[i - 1]) throw new Error(`same state object twice at ${i}`);
  }
}

/** Reads up to `count` values (fewer if the stream ends first). */
export async function take<T>(reader: ReadableStreamDefaultReader<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i++) {
    const { value, done } = await reader.read();
    if (done) break;
    out.push(value);
  }
  return out;
}

/** The messages `m<from>` to `m<to - 1>`. */
export const numbered = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, i) => `m${from + i}`);
