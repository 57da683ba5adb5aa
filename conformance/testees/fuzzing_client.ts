/**
 * The client side of `wstest -m fuzzingserver`, shared by every client testee (Deno, Bun, Node and
 * the browser page): `/getCaseCount`, then `/runCase?case=i&agent=A` for each case, echoing every
 * message until the fuzzer closes, then `/updateReports?agent=A`. Runtime-neutral.
 *
 * @example
 * ```ts
 * await runFuzzingClient({ base: "ws://127.0.0.1:9001", agent: "engine-deno", connect });
 * ```
 * @module
 */
import type { Message } from "../../mod.ts";
import { echo } from "./echo.ts";

/** The part of `WebSocketChannel` a fuzzing session needs. */
export interface FuzzedChannel {
  readonly ready: Promise<void>;
  readonly stream: ReadableStream<Message>;
  readonly sink: { add(message: Message): Promise<void> };
  readonly closed: Promise<unknown>;
}

/** Options of {@link runFuzzingClient}. */
export interface FuzzingClientOptions {
  /** `ws://host:port` of the fuzzing server. */
  base: string;
  /** Agent name the reports are filed under. */
  agent: string;
  /** Opens a channel (WebSocketChannel.connect with the transport under test). */
  connect(url: string): FuzzedChannel;
  /** Progress callback, e.g. a log line every 50 cases. */
  onCase?(index: number, count: number): void;
}

async function firstMessage(channel: FuzzedChannel): Promise<Message | undefined> {
  await channel.ready;
  const reader = channel.stream.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  await channel.closed;
  return value;
}

/**
 * Runs every case the fuzzing server offers and asks it to write the reports; resolves with the
 * number of cases.
 *
 * @example
 * ```ts
 * const n = await runFuzzingClient({ base, agent, connect: (url) => WebSocketChannel.connect(url) });
 * ```
 */
export async function runFuzzingClient(options: FuzzingClientOptions): Promise<number> {
  const { base, connect } = options;
  const agent = encodeURIComponent(options.agent);
  const count = Number(await firstMessage(connect(`${base}/getCaseCount`)));
  if (!Number.isInteger(count) || count <= 0) {
    throw new Error(`bad case count from ${base}: ${count}`);
  }
  for (let i = 1; i <= count; i++) {
    options.onCase?.(i, count);
    const channel = connect(`${base}/runCase?case=${i}&agent=${agent}`);
    try {
      await channel.ready;
    } catch {
      // a refused opening handshake is graded by the fuzzer too
      await channel.closed;
      continue;
    }
    await echo(channel);
  }
  const done = connect(`${base}/updateReports?agent=${agent}`);
  await done.ready.catch(() => {});
  await done.closed;
  return count;
}
