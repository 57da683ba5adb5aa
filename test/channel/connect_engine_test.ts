import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { connectEngine } from "../../src/channel/connect_engine.ts";
import { openTcp } from "../../src/adapters/tcp_transport.ts";
import { deadline } from "../_util/async.ts";
import { ConnectError, ConnectionClosedError } from "../../src/channel/errors.ts";
import { repoRoot, runtimes } from "../_util/runtimes.ts";

// connect()'s own tests (connect_test.ts) cover the engine transport end to end; these check
// the module on its own, over the runtime's dialer.

test("connectEngine throws a SyntaxError / TypeError for a bad URL, scheme, subprotocol or header, before connecting", () => {
  assert.throws(
    () => connectEngine("not a url", { connectTimeout: 5000, dial: openTcp }),
    SyntaxError,
  );
  assert.throws(
    () => connectEngine("ftp://127.0.0.1:1/", { connectTimeout: 5000, dial: openTcp }),
    SyntaxError,
  );
  assert.throws(
    () =>
      connectEngine("ws://127.0.0.1:1/", {
        protocols: ["a b"],
        connectTimeout: 5000,
        dial: openTcp,
      }),
    SyntaxError,
  );
  assert.throws(
    () =>
      connectEngine("ws://127.0.0.1:1/", {
        headers: { "x-a": "1\r\nX-Evil: 1" },
        connectTimeout: 5000,
        dial: openTcp,
      }),
    TypeError,
  );
  // No timer was left behind: the test runner would wait for it.
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
    const channel = connectEngine(`ws://127.0.0.1:${port}/`, {
      connectTimeout: 200,
      dial: openTcp,
    });
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
    const channel = connectEngine(`ws://127.0.0.1:${port}/`, {
      connectTimeout: 5000,
      dial: openTcp,
    });
    const error = await deadline(channel.ready.then(() => undefined, (e) => e), 5000, "ready");
    assert.ok(error instanceof ConnectError, `got ${error}`);
    assert.equal(error.code, "WS_CONNECT_FAILED");
    assert.ok(error.cause !== undefined);
    assert.equal((await channel.closed).code, 1006);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Asserts the library's error for a lost connection, with the runtime's own error as its cause. */
function assertConnectionLost(error: unknown, what: string): void {
  assert.ok(error instanceof ConnectionClosedError, `${what}: got ${error}`);
  assert.equal(error.code, "WS_CONNECTION_CLOSED", what);
  assert.equal(error.closeCode, 1006, what);
  assert.ok(error.cause instanceof Error, `${what}: cause ${error.cause}`);
}

test("a server process killed while the client sends: every send, the stream and ping() fail with ConnectionClosedError 1006 carrying the transport's error", async () => {
  const child = spawn(
    runtimes.node20,
    [join(repoRoot, "test/channel/fixtures/stalled_server.mjs")],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    const port = await deadline(
      new Promise<number>((resolve) => {
        let out = "";
        child.stdout!.on("data", (chunk) => {
          out += String(chunk);
          const match = /PORT (\d+)/.exec(out);
          if (match) resolve(Number(match[1]));
        });
      }),
      10_000,
      "the server to listen",
    );
    const channel = connectEngine(`ws://127.0.0.1:${port}/`, {
      connectTimeout: 5000,
      dial: openTcp,
    });
    await deadline(channel.ready, 5000, "ready");
    const streamError = (async () => {
      try {
        for await (const _ of channel.stream) { /* the server sends nothing */ }
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    const message = new Uint8Array(16 * 1024);
    let accepted = 0;
    const rejections: unknown[] = [];
    // The server stops reading after the upgrade: sends complete until both socket buffers
    // are full, then wait; the kill (with unread bytes) resets the connection mid-send.
    const kill = setTimeout(() => child.kill("SIGKILL"), 300);
    for (let i = 0; i < 10_000 && rejections.length < 20; i++) {
      try {
        await deadline(channel.sink.add(message), 10_000, "a send to settle");
        accepted++;
      } catch (error) {
        rejections.push(error);
      }
    }
    clearTimeout(kill);
    assert.ok(accepted > 0, "some sends completed before the kill");
    assert.equal(rejections.length, 20);
    rejections.forEach((error, i) => assertConnectionLost(error, `send ${i + 1} after the kill`));
    assertConnectionLost(await deadline(streamError, 5000, "the stream to fail"), "stream");
    assertConnectionLost(await channel.ping().then(() => undefined, (e) => e), "ping()");
    assert.deepEqual(await deadline(channel.closed, 5000, "closed"), {
      code: 1006,
      reason: "",
      wasClean: false,
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await deadline(exited, 5000, "the server to exit");
  }
});

test("connectEngine reports a dialer that throws or rejects through ready, never at the call", async () => {
  const refused = new ConnectError("WS_CONNECT_REFUSED", "Connection refused by the test dialer");
  for (
    const dial of [
      () => {
        throw refused;
      },
      () => Promise.reject(refused),
    ]
  ) {
    const channel = connectEngine("ws://127.0.0.1:9/", { connectTimeout: 5000, dial });
    const error = await deadline(channel.ready.then(() => undefined, (e) => e), 5000, "ready");
    assert.equal(error, refused);
    assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1006);
  }
});
