import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { connectEngine } from "../../src/channel/connect_engine.ts";
import { deadline } from "../_util/async.ts";
import { ConnectError } from "../../src/channel/errors.ts";

// connect()'s own tests (connect_test.ts) cover the engine transport end to end; these check
// the module on its own, as the browser stub replaces it wholesale.

test("connectEngine rejects ready for an invalid URL and ends with 1006", async () => {
  const channel = connectEngine("not a url", {}, 5000);
  const error = await deadline(channel.ready.then(() => undefined, (e) => e), 5000, "ready");
  assert.ok(error instanceof SyntaxError, `got ${error}`);
  assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1006);
});

test("connectEngine times out after the given milliseconds and drops the socket", async () => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const channel = connectEngine(`ws://127.0.0.1:${port}/`, {}, 200);
    const error = await deadline(channel.ready.then(() => undefined, (e) => e), 5000, "ready");
    assert.equal((error as { code?: string }).code, "WS_CONNECT_TIMEOUT");
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("a connection reset during the opening handshake rejects ready with ConnectError WS_CONNECT_FAILED", async () => {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    const channel = connectEngine(`ws://127.0.0.1:${port}/`, {}, 5000);
    const error = await deadline(channel.ready.then(() => undefined, (e) => e), 5000, "ready");
    assert.ok(error instanceof ConnectError, `got ${error}`);
    assert.equal(error.code, "WS_CONNECT_FAILED");
    assert.ok(error.cause !== undefined);
    assert.equal((await channel.closed).code, 1006);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
