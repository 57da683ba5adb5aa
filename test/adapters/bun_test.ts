import { registerContractMatrix } from "./fixtures/pairs.ts";

// The channel contract over Bun's engine serve() and the Bun.serve handler
// pair, with our engine client, the runtime's native WebSocket and ws.
await registerContractMatrix(["bun-serve", "bun-handler"], ["engine", "native", "ws"]);

// Bun-specific behaviour of the Bun.serve handler pair.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../../mod.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline, delay } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";

const onBun = currentRuntime === "bun" ? false : "needs Bun";

async function bunHandlerServer(options: Record<string, unknown>) {
  const { createBunHandler } = await import("../../src/adapters/bun.ts");
  const channels: WebSocketChannel[] = [];
  const handler = createBunHandler({
    onChannel: (channel) => void channels.push(channel),
    ...options,
  });
  // deno-lint-ignore no-explicit-any
  const server = (globalThis as any).Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // deno-lint-ignore no-explicit-any
    fetch: (request: Request, bun: any) => handler.upgrade(request, bun),
    websocket: handler.websocket,
  });
  return { url: `ws://127.0.0.1:${server.port}/`, channels, stop: () => server.stop(true) };
}

test(
  "createBunHandler maps send() -1 and drain to sink backpressure towards a client that does not read",
  {
    skip: onBun,
  },
  async () => {
    const server = await bunHandlerServer({ backpressureLimit: 64 * 1024 });
    try {
      const client = connect(server.url, { transport: "engine" });
      await deadline(client.ready, 5000, "ready");
      await deadline(
        (async () => {
          while (!server.channels[0]) await delay(5);
        })(),
        5000,
        "server channel",
      );
      const channel = server.channels[0];
      const chunk = new Uint8Array(64 * 1024);
      let sent = 0;
      let stop = false;
      const writing = (async () => {
        while (!stop && sent < 1024) {
          await channel.sink.add(chunk);
          sent++;
        }
      })();
      let last = -1;
      while (sent !== last) {
        last = sent;
        await delay(100);
      }
      assert.ok(sent < 1024, `the server pushed ${sent * 64} KiB to a client that does not read`);
      stop = true;
      const reader = client.stream.getReader();
      for (let i = 0; i < sent; i++) await deadline(reader.read(), 5000, "draining");
      await deadline(writing, 5000, "the writer to finish after drain");
      await client.sink.close(1000);
    } finally {
      server.stop();
    }
  },
);

test("createBunHandler closes with 1008 when unread messages exceed maxQueuedBytes", {
  skip: onBun,
}, async () => {
  const server = await bunHandlerServer({ maxQueuedBytes: 256 * 1024 });
  try {
    const client = connect(server.url, { transport: "engine" });
    await deadline(client.ready, 5000, "ready");
    client.stream.pipeTo(new WritableStream()).catch(() => {});
    const chunk = new Uint8Array(32 * 1024);
    for (let i = 0; i < 64 && client.closeCode === undefined; i++) {
      await client.sink.add(chunk).catch(() => {});
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
    server.stop();
  }
});

const BAD_COMPRESSION: Array<[unknown, typeof TypeError | typeof RangeError]> = [
  [{ threshold: -1 }, RangeError],
  [{ maxConcurrency: 0 }, RangeError],
  [{ serverMaxWindowBits: 16 }, RangeError],
  ["on", TypeError],
];

test(
  "serve (Bun) throws for invalid compression settings at the call, before listening",
  { skip: onBun },
  async () => {
    const { serve } = await import("../../src/adapters/bun.ts");
    for (const [compression, type] of BAD_COMPRESSION) {
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

test("createBunHandler throws TypeError / RangeError for invalid compression settings at once", {
  skip: onBun,
}, async () => {
  const { createBunHandler } = await import("../../src/adapters/bun.ts");
  for (const [compression, type] of BAD_COMPRESSION) {
    assert.throws(
      () => createBunHandler({ compression: compression as never, onChannel() {} }),
      type,
      JSON.stringify(compression),
    );
  }
});
