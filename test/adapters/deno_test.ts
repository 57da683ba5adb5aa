import { registerContractMatrix } from "./fixtures/pairs.ts";

// The channel contract over Deno's engine serve() and Deno.upgradeWebSocket
// wrapper, with our engine client, the runtime's native WebSocket and ws.
await registerContractMatrix(["deno-serve", "deno-upgrade"], ["engine", "native", "ws"]);

// Deno-specific behaviour of upgrade() (Deno.upgradeWebSocket).
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline, delay } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";

const onDeno = currentRuntime === "deno" ? false : "needs Deno";

async function upgradeServer(options: Record<string, unknown>) {
  const { upgrade } = await import("../../src/adapters/deno.ts");
  const channels: WebSocketChannel[] = [];
  const deno = (globalThis as { Deno: typeof Deno }).Deno;
  const server = deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const { response, channel } = await upgrade(request, options);
    channels.push(channel);
    return response;
  });
  return { url: `ws://127.0.0.1:${server.addr.port}/`, channels, stop: () => server.shutdown() };
}

test(
  "upgrade closes with 1008 when unread messages exceed maxQueuedBytes",
  { skip: onDeno },
  async () => {
    const server = await upgradeServer({ maxQueuedBytes: 256 * 1024 });
    try {
      const client = connect(server.url, { transport: "engine" });
      await deadline(client.ready, 5000, "ready");
      client.stream.pipeTo(new WritableStream()).catch(() => {});
      const chunk = new Uint8Array(32 * 1024);
      for (let i = 0; i < 64 && client.closeCode === undefined; i++) {
        await client.sink.add(chunk).catch(() => {});
        await delay(1);
      }
      assert.equal((await deadline(client.closed, 5000, "closed")).code, 1008);
      const reader = server.channels[0].stream.getReader();
      await assert.rejects(
        deadline(
          (async () => {
            while (!(await reader.read()).done) { /* the queued messages, then the error */ }
          })(),
          5000,
          "server stream",
        ),
        { code: "WS_INBOUND_QUEUE_FULL" },
      );
    } finally {
      await server.stop();
    }
  },
);

test("upgrade answers a refused origin with 403 and rejects the channel's ready with that status", {
  skip: onDeno,
}, async () => {
  const server = await upgradeServer({ origins: ["https://good.example"] });
  try {
    const client = connect(server.url, {
      transport: "engine",
      headers: { origin: "https://evil.example" },
    });
    await assert.rejects(deadline(client.ready, 5000, "refusal"), {
      name: "HandshakeError",
      status: 403,
    });
    await assert.rejects(server.channels[0].ready, { status: 403 });
  } finally {
    await server.stop();
  }
});

test(
  "upgrade refuses the compression option with an UnsupportedError naming it",
  { skip: onDeno },
  async () => {
    const { upgrade } = await import("../../src/adapters/deno.ts");
    const request = new Request("http://localhost/", { headers: { upgrade: "websocket" } });
    await assert.rejects(
      upgrade(request, { compression: true }),
      (error: Error & { code?: string }) =>
        error.code === "WS_OPTION_UNSUPPORTED" && /compression/.test(error.message),
    );
  },
);

test(
  "serve (Deno) throws for invalid compression settings at the call, before listening",
  { skip: onDeno },
  async () => {
    const { serve } = await import("../../src/adapters/deno.ts");
    const cases: Array<[unknown, typeof TypeError | typeof RangeError]> = [
      [{ threshold: -1 }, RangeError],
      [{ maxConcurrency: 0 }, RangeError],
      [{ clientMaxWindowBits: 7 }, RangeError],
      ["on", TypeError],
    ];
    for (const [compression, type] of cases) {
      assert.throws(
        () =>
          serve({
            hostname: "127.0.0.1",
            port: 0,
            compression: compression as never,
            onChannel() {},
          }),
        type,
        JSON.stringify(compression),
      );
    }
  },
);
