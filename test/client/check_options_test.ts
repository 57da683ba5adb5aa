import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketClient } from "../../src/client/web_socket_client.ts";
import { checkClientOptions } from "../../src/client/check_options.ts";
import { UnsupportedError } from "../../src/channel/errors.ts";
import { FakeTransport } from "../../src/testing/fake_transport.ts";
import type { WebSocketClientOptions } from "../../src/client/options.ts";

const hasNative = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";

test("the client constructor throws programming errors at the call", () => {
  const cases: Array<[unknown, WebSocketClientOptions, ErrorConstructor]> = [
    ["not a url", {}, SyntaxError],
    ["ftp://127.0.0.1/", {}, SyntaxError],
    [42, {}, TypeError],
    ["ws://127.0.0.1/", { protocols: ["a b"] }, SyntaxError],
    ["ws://127.0.0.1/", { connectTimeout: 0 }, RangeError],
    ["ws://127.0.0.1/", { closeTimeout: "5" as never }, TypeError],
    ["ws://127.0.0.1/", { reconnect: { base: -1 } }, RangeError],
    ["ws://127.0.0.1/", { reconnect: { maxAttempts: 1.5 } }, RangeError],
    ["ws://127.0.0.1/", { reconnect: "yes" as never }, TypeError],
    ["ws://127.0.0.1/", { heartbeat: { interval: -1 } }, RangeError],
    ["ws://127.0.0.1/", { heartbeat: { mode: "sometimes" as never } }, TypeError],
    ["ws://127.0.0.1/", { heartbeat: { mode: "message" } }, TypeError],
    ["ws://127.0.0.1/", { heartbeat: { pingMessage: 42 as never } }, TypeError],
    ["ws://127.0.0.1/", { connector: "fake" as never }, TypeError],
    ["ws://127.0.0.1/", { connectOptions: { connectTimeout: -1 } }, RangeError],
    ["ws://127.0.0.1/", { connectOptions: { transport: "tcp" as never } }, TypeError],
  ];
  for (const [url, options, type] of cases) {
    assert.throws(
      () => new WebSocketClient(url as string, options),
      type,
      `${String(url)} ${JSON.stringify(options)}`,
    );
  }
  assert.throws(
    () => new WebSocketClient("ws://127.0.0.1/", { heartbeat: { mode: "message" } }),
    /heartbeat mode "message" needs heartbeat.pingMessage/,
  );
  // A function URL is resolved per attempt; http(s) maps to ws(s) as in browsers.
  new WebSocketClient(() => "ws://127.0.0.1/");
  new WebSocketClient("https://example.com/feed");
});

test("client.connect(url) throws a SyntaxError for a URL the WHATWG WebSocket refuses", async () => {
  const client = new WebSocketClient();
  assert.throws(() => client.connect("ftp://x/"), SyntaxError);
  assert.throws(() => client.connect("::"), SyntaxError);
  assert.equal(client.metrics().attempts, 0);
  await client.close();
  // An injected connector decides which URLs it takes.
  const server = new FakeTransport();
  const fake = new WebSocketClient("memory:room", { connector: server.connector });
  await fake.connect();
  assert.equal(server.attempts[0].url, "memory:room");
  await fake.close();
});

test(
  "a heartbeat asked for where protocol pings cannot be sent needs pingMessage, named in the error",
  {
    skip: hasNative ? false : "no global WebSocket (Node 20)",
  },
  () => {
    const native = { connectOptions: { transport: "native" as const } };
    assert.throws(
      () => new WebSocketClient("ws://127.0.0.1/", { ...native, heartbeat: { interval: 5000 } }),
      (error: unknown) =>
        error instanceof UnsupportedError && error.code === "WS_OPTION_UNSUPPORTED" &&
        error.message.includes("heartbeat needs heartbeat.pingMessage") &&
        error.message.includes("answerPingMessages"),
    );
    assert.throws(
      () => new WebSocketClient("ws://127.0.0.1/", { ...native, heartbeat: { mode: "protocol" } }),
      (error: unknown) =>
        error instanceof UnsupportedError && /mode "protocol"/.test(error.message),
    );
    // With pingMessage it runs on messages from the start; off (interval 0 or false) is fine.
    assert.deepEqual(
      checkClientOptions("ws://127.0.0.1/", { ...native, heartbeat: { pingMessage: "ping" } }),
      { pingMessage: "ping", mode: "message" },
    );
    new WebSocketClient("ws://127.0.0.1/", { ...native, heartbeat: { interval: 0 } });
    new WebSocketClient("ws://127.0.0.1/", { ...native, heartbeat: false });
    // The default heartbeat pings with protocol pings: off where there are none, no error.
    assert.equal(checkClientOptions("ws://127.0.0.1/", native), false);
    // Headers the native WebSocket cannot send: refused at construction, not per attempt.
    assert.throws(
      () =>
        new WebSocketClient("ws://127.0.0.1/", {
          connectOptions: { transport: "native", headers: { authorization: "x" } },
        }),
      (error: unknown) => error instanceof UnsupportedError && /headers/.test(error.message),
    );
  },
);

test("with the engine or an injected connector, heartbeat options are accepted as given", () => {
  const heartbeat = { interval: 1000 };
  assert.equal(
    checkClientOptions("ws://127.0.0.1/", { heartbeat, connectOptions: { transport: "engine" } }),
    heartbeat,
  );
  const server = new FakeTransport();
  assert.equal(
    checkClientOptions("ws://127.0.0.1/", { heartbeat, connector: server.connector }),
    heartbeat,
  );
  assert.deepEqual(checkClientOptions("ws://127.0.0.1/", { connector: server.connector }), {});
});
