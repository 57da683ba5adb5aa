import { registerContractMatrix } from "./fixtures/pairs.ts";

// The channel contract over Node's serve() and attach() (engine on node:http),
// with our engine client, the runtime's native WebSocket (Node ≥ 22) and ws.
await registerContractMatrix(["node-serve", "node-attach"], ["engine", "native", "ws"]);

// Invalid options are refused when the server is configured, never at a handshake.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { connect as connectNet } from "node:net";
import type { Duplex } from "node:stream";
import { attach, handleUpgrade, serve } from "../../src/adapters/node.ts";
import { deadline } from "../_util/async.ts";

const BAD_COMPRESSION: Array<[unknown, typeof TypeError | typeof RangeError]> = [
  [{ threshold: -1 }, RangeError],
  [{ maxConcurrency: 1.5 }, RangeError],
  [{ serverMaxWindowBits: 8 }, RangeError],
  [{ clientMaxWindowBits: 16 }, RangeError],
  [42, TypeError],
];

/** Sends a valid upgrade request with a deflate offer; resolves the response head (or all received). */
function rawUpgrade(port: number): Promise<string> {
  return deadline(
    new Promise<string>((resolve, reject) => {
      const socket = connectNet(port, "127.0.0.1", () => {
        socket.write(
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
        );
      });
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString("latin1");
        const end = text.indexOf("\r\n\r\n");
        if (end >= 0) {
          resolve(text.slice(0, end));
          socket.destroy();
        }
      });
      socket.on("error", reject);
      socket.on("close", () => resolve(text));
    }),
    5000,
    "upgrade response",
  );
}

test("serve (node) throws for invalid compression settings at the call, before listening", () => {
  for (const [compression, type] of BAD_COMPRESSION) {
    assert.throws(
      () =>
        serve({
          hostname: "127.0.0.1",
          port: 0,
          compression: compression as never,
          onChannel: () => {},
        }),
      type,
      JSON.stringify(compression),
    );
  }
});

test("attach throws TypeError / RangeError for invalid compression settings at once", () => {
  const server = createHttpServer();
  for (const [compression, type] of BAD_COMPRESSION) {
    assert.throws(
      () => attach(server, { compression: compression as never, onChannel: () => {} }),
      type,
      JSON.stringify(compression),
    );
  }
  assert.equal(server.listenerCount("upgrade"), 0);
});

test("handleUpgrade with invalid compression settings answers 500 and rejects", async () => {
  const results: Promise<unknown>[] = [];
  const server = createHttpServer();
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Uint8Array) => {
    const result = handleUpgrade(req, socket, head, {
      compression: { threshold: -1 },
      onChannel: () => {},
    });
    result.catch(() => {});
    results.push(result);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const head = await rawUpgrade((server.address() as { port: number }).port);
    assert.match(head, /^HTTP\/1\.1 500 /);
    assert.equal(results.length, 1);
    await assert.rejects(results[0], RangeError);
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("serve (node) with valid compression answers the handshake with the extension", async () => {
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    compression: { threshold: 0 },
    onChannel: () => {},
  });
  try {
    const head = await rawUpgrade(server.port);
    assert.match(head, /^HTTP\/1\.1 101 /);
    // node:zlib keeps context both ways, so neither side is asked to reset it.
    assert.match(head, /\r\nsec-websocket-extensions: permessage-deflate\r\n/i);
  } finally {
    await server.close();
  }
});
