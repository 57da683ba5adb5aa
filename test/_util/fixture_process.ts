/**
 * Pieces of the fixture servers that tests run as child processes (on Deno,
 * Bun and Node): the echo handler they share, and stopping when the parent
 * closes the child's stdin.
 *
 * @module
 */
import process from "node:process";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";

/**
 * Echoes every message; a text message `close:<code>:<reason>` makes it close
 * the channel with that code and reason instead.
 */
export async function echoOrClose(channel: WebSocketChannel): Promise<void> {
  try {
    for await (const message of channel.stream) {
      if (typeof message === "string" && message.startsWith("close:")) {
        const [, code, reason] = message.split(":");
        await channel.sink.close(Number(code), reason);
        return;
      }
      await channel.sink.add(message);
    }
  } catch { /* the connection ended */ }
}

/** Calls `stop` (once) when this process's stdin ends or closes: the parent is done with it. */
export function onStdinEnd(stop: () => unknown): void {
  let stopped = false;
  const once = () => {
    if (stopped) return;
    stopped = true;
    stop();
  };
  process.stdin.on("data", () => {});
  process.stdin.on("end", once);
  process.stdin.on("close", once);
}
