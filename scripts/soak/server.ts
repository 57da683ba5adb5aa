/**
 * Echo server for the soak test on our engine `serve()` of the running
 * runtime (Deno, Bun, or Node via an esbuild bundle), with the default
 * heartbeat (`idleTimeout` 30 s) and limits. Prints "PORT <n>".
 *
 * Control lines on stdin (no socket, so the descriptor count stays the
 * server's own): `gc` forces a collection (Node/Deno need --expose-gc, Bun has
 * Bun.gc) and answers `GC {"forced":…,"heapUsed":…,"channels":…}` on stdout;
 * `stats` answers the same without collecting.
 *
 * Usage: `deno run -A --v8-flags=--expose-gc scripts/soak/server.ts` |
 * `bun scripts/soak/server.ts` | `node --expose-gc .build/soak/server.mjs`
 *
 * @module
 */
import process from "node:process";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";

const g = globalThis as { Deno?: unknown; Bun?: { gc(force: boolean): void }; gc?: () => void };
const module = g.Deno
  ? await import("../../src/adapters/deno.ts")
  : g.Bun
  ? await import("../../src/adapters/bun.ts")
  : await import("../../src/adapters/node.ts");

let errors = 0;

async function echo(channel: WebSocketChannel) {
  const reader = channel.stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      channel.sink.add(value).catch(() => {});
    }
  } catch {
    // A peer that leaves without a close handshake ends the stream with an error: expected here.
  }
}

const server = await module.serve({
  hostname: "127.0.0.1",
  port: 0,
  onChannel: (channel) => {
    echo(channel).catch(() => errors++);
  },
});
console.log(`PORT ${server.port}`);

function collect(): boolean {
  if (g.Bun) {
    g.Bun.gc(true);
    return true;
  }
  if (typeof g.gc === "function") {
    g.gc();
    return true;
  }
  return false;
}

function answer(line: string) {
  const command = line.trim();
  if (command !== "gc" && command !== "stats") return;
  const forced = command === "gc" ? collect() : false;
  const { heapUsed } = process.memoryUsage();
  console.log(`GC ${JSON.stringify({ forced, heapUsed, channels: server.channels.size, errors })}`);
}

let pending = "";
const onText = (text: string) => {
  pending += text;
  for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
    answer(pending.slice(0, newline));
    pending = pending.slice(newline + 1);
  }
};
if (g.Deno) {
  (async () => {
    for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
      onText(text);
    }
    Deno.exit(0);
  })();
} else {
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", onText);
  process.stdin.on("end", () => process.exit(0));
}
