/**
 * The echo loop every testee runs: each message goes back as it came (text as text, binary as
 * binary), one at a time so that backpressure and order hold. Uses only the public channel surface.
 *
 * @example
 * ```ts
 * await echo(channel);
 * ```
 * @module
 */
import type { Message } from "../../mod.ts";

/** The part of `WebSocketChannel` the echo loop needs. */
export interface EchoChannel {
  readonly stream: ReadableStream<Message>;
  readonly sink: { add(message: Message): Promise<void> };
  readonly closed: Promise<unknown>;
}

/**
 * Echoes until the stream ends. A stream error (unclean end, protocol failure we detected) and a
 * refused `add` (the peer already closed) are what the fuzzer provokes on purpose: it grades the
 * close frames on the wire, so here they only end the loop.
 *
 * @example
 * ```ts
 * serve({ port: 0, onChannel: (channel) => echo(channel) });
 * ```
 */
export async function echo(channel: EchoChannel): Promise<void> {
  const reader = channel.stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await channel.sink.add(value).catch(() => {});
    }
  } catch {
    // unclean end: already graded on the wire
  } finally {
    reader.releaseLock();
  }
  await channel.closed;
}
