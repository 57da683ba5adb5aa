import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { connect, type ConnectOptions } from "../../src/channel/web_socket_channel.ts";
// The engine transport, as the entry points install it.
import "../../src/adapters/engine_connect.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { testCertificates } from "../adapters/fixtures/certs.ts";
import { type ServerKind, startServer } from "../adapters/fixtures/pairs.ts";

const ownServe: ServerKind = `${currentRuntime}-serve` as ServerKind;
const hasNative = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";

/** A raw TCP server; `answer` decides what to write once the request arrives (nothing: never answers). */
async function rawServer(answer?: (request: string) => string) {
  const sockets = new Set<Socket>();
  const closedSockets: Promise<void>[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    closedSockets.push(new Promise((resolve) => socket.on("close", () => resolve())));
    socket.on("error", () => {});
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      if (answer && text.includes("\r\n\r\n")) socket.end(answer(text));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as { port: number }).port}/`,
    /** Resolves when every accepted socket was closed (by the client). */
    allClosed: () => Promise.all(closedSockets),
    accepted: () => sockets.size,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function expectFailure(
  channel: WebSocketChannel,
  check: (error: Record<string, unknown>) => void,
) {
  const error = await deadline(
    channel.ready.then(() => undefined, (e) => e),
    10_000,
    "ready to settle",
  );
  assert.ok(error, "ready must reject");
  check(error);
  await assert.rejects(
    deadline(channel.stream.getReader().read(), 5000, "stream"),
    (e) => e === error,
  );
  const info = await deadline(channel.closed, 5000, "closed");
  assert.equal(info.code, 1006);
  return error;
}

test("connect (engine) rejects ready with WS_CONNECT_REFUSED and errors stream with the same error", async () => {
  const server = await rawServer();
  const url = server.url;
  await server.close();
  await expectFailure(connect(url, { transport: "engine" }), (error) => {
    assert.equal(error.name, "ConnectError");
    assert.equal(error.code, "WS_CONNECT_REFUSED");
  });
});

test("connect (engine) rejects an unknown host with WS_CONNECT_DNS", async () => {
  await expectFailure(connect("ws://wsc-test.invalid/", { transport: "engine" }), (error) => {
    assert.equal(error.code, "WS_CONNECT_DNS");
  });
});

test("connect (engine) times out against a listener that never answers and drops the socket", async () => {
  const server = await rawServer();
  try {
    const started = Date.now();
    await expectFailure(
      connect(server.url, { transport: "engine", connectTimeout: 300 }),
      (error) => {
        assert.equal(error.code, "WS_CONNECT_TIMEOUT");
      },
    );
    assert.ok(Date.now() - started < 5000);
    await deadline(server.allClosed(), 5000, "the server to see the socket closed");
  } finally {
    await server.close();
  }
});

test("connect (engine) aborted by its signal rejects with WS_CONNECT_ABORTED and drops the socket", async () => {
  const server = await rawServer();
  try {
    const controller = new AbortController();
    const channel = connect(server.url, { transport: "engine", signal: controller.signal });
    setTimeout(() => controller.abort(new Error("user gave up")), 100);
    await expectFailure(channel, (error) => assert.equal(error.code, "WS_CONNECT_ABORTED"));
    await deadline(server.allClosed(), 5000, "the server to see the socket closed");
  } finally {
    await server.close();
  }
});

for (const status of [401, 403, 404]) {
  test(`connect (engine) reports a rejected upgrade (${status}) as HandshakeError with status`, async () => {
    const server = await rawServer(() =>
      `HTTP/1.1 ${status} Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`
    );
    try {
      await expectFailure(connect(server.url, { transport: "engine" }), (error) => {
        assert.equal(error.name, "HandshakeError");
        assert.equal(error.status, status);
      });
    } finally {
      await server.close();
    }
  });
}

test("connect (engine) rejects a wrong Sec-WebSocket-Accept with WS_HANDSHAKE_BAD_ACCEPT", async () => {
  const server = await rawServer(() =>
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"
  );
  try {
    await expectFailure(connect(server.url, { transport: "engine" }), (error) => {
      assert.equal(error.code, "WS_HANDSHAKE_BAD_ACCEPT");
    });
  } finally {
    await server.close();
  }
});

test("connect (engine) sends custom headers that the server sees", async () => {
  const server = await startServer(ownServe);
  try {
    const channel = connect(`ws://127.0.0.1:${server.port}/h`, {
      transport: "engine",
      headers: { authorization: "Bearer t0ken" },
    });
    await deadline(channel.ready, 5000, "ready");
    await deadline(server.next(), 5000, "server channel");
    assert.equal(server.requests[0].headers.get("authorization"), "Bearer t0ken");
    assert.equal(new URL(server.requests[0].url).pathname, "/h");
    await channel.sink.close(1000);
  } finally {
    await server.close();
  }
});

test("connect (engine) over wss verifies the server with the CA passed in caCerts", async () => {
  const certs = testCertificates();
  const server = await startServer(ownServe, { cert: certs.cert, key: certs.key });
  try {
    const channel = connect(`wss://127.0.0.1:${server.port}/tls`, {
      transport: "engine",
      caCerts: [certs.ca],
    });
    await deadline(channel.ready, 5000, "ready");
    const serverChannel = await deadline(server.next(), 5000, "server channel");
    serverChannel.stream.pipeTo(serverChannel.sink).catch(() => {});
    await channel.sink.add("over tls");
    const { value } = await deadline(channel.stream.getReader().read(), 5000, "echo");
    assert.equal(value, "over tls");
    await channel.sink.close(1000);
    assert.equal((await deadline(channel.closed, 5000, "closed")).wasClean, true);
  } finally {
    await server.close();
  }
});

test("connect (engine) over wss refuses an untrusted certificate with WS_CONNECT_TLS", async () => {
  const certs = testCertificates();
  const server = await startServer(ownServe, { cert: certs.cert, key: certs.key });
  try {
    await expectFailure(
      connect(`wss://127.0.0.1:${server.port}/`, { transport: "engine" }),
      (error) => {
        assert.equal(error.code, "WS_CONNECT_TLS");
      },
    );
  } finally {
    await server.close();
  }
});

test("connect (engine) closes with 1009 when the server sends more than maxMessageSize", async () => {
  const server = await startServer(ownServe);
  try {
    const channel = connect(`ws://127.0.0.1:${server.port}/`, {
      transport: "engine",
      maxMessageSize: 1000,
    });
    await deadline(channel.ready, 5000, "ready");
    const serverChannel = await deadline(server.next(), 5000, "server channel");
    serverChannel.sink.add(new Uint8Array(1001)).catch(() => {});
    await assert.rejects(deadline(channel.stream.getReader().read(), 5000, "read"), {
      closeCode: 1009,
    });
    assert.equal((await deadline(serverChannel.closed, 5000, "server closed")).code, 1009);
  } finally {
    await server.close();
  }
});

test("connect refuses options the native WebSocket cannot honour, naming the option", () => {
  if (!hasNative) {
    assert.throws(() => connect("ws://127.0.0.1:1/", { transport: "native" }), {
      code: "WS_OPTION_UNSUPPORTED",
    });
    return;
  }
  assert.throws(
    () => connect("ws://127.0.0.1:1/", { transport: "native", headers: { authorization: "x" } }),
    (error: Error & { code?: string }) =>
      error.code === "WS_OPTION_UNSUPPORTED" && /headers/.test(error.message),
  );
  assert.throws(
    () => connect("ws://127.0.0.1:1/", { transport: "native", caCerts: ["x"] }),
    (error: Error & { code?: string }) =>
      error.code === "WS_OPTION_UNSUPPORTED" && /caCerts/.test(error.message),
  );
});

test("connect throws programming errors at the call on every transport, as the WHATWG constructor does", async () => {
  const transports: ConnectOptions["transport"][] = hasNative
    ? ["engine", "native", "auto"]
    : ["engine", "auto"];
  const cases: Array<[string, ConnectOptions, ErrorConstructor]> = [
    ["not a url", {}, SyntaxError],
    ["ftp://127.0.0.1:1/", {}, SyntaxError],
    ["ws://127.0.0.1:1/", { protocols: ["a b"] }, SyntaxError],
    ["ws://127.0.0.1:1/", { protocols: ["chat", "chat"] }, SyntaxError],
    ["ws://127.0.0.1:1/", { protocols: [1 as unknown as string] }, TypeError],
    ["ws://127.0.0.1:1/", { connectTimeout: -1 }, RangeError],
    ["ws://127.0.0.1:1/", { connectTimeout: "5000" as unknown as number }, TypeError],
    ["ws://127.0.0.1:1/", { closeTimeout: Number.NaN }, RangeError],
    ["ws://127.0.0.1:1/", { maxFragments: 0 }, RangeError],
    ["ws://127.0.0.1:1/", { maxMessageSize: -5 }, RangeError],
    ["ws://127.0.0.1:1/", { signal: {} as AbortSignal }, TypeError],
  ];
  for (const transport of transports) {
    for (const [url, options, type] of cases) {
      assert.throws(
        () => connect(url, { ...options, transport }),
        type,
        `${url} ${JSON.stringify(options)} (${transport})`,
      );
    }
  }
  assert.throws(() => connect("ws://127.0.0.1:1/", { transport: "tcp" as never }), TypeError);
  assert.throws(() => connect("ws://127.0.0.1:1/", null as never), TypeError);
  assert.throws(
    () => connect("ws://127.0.0.1:1/", { transport: "engine", headers: { "x a": "1" } }),
    TypeError,
  );
  // The message says what was wrong.
  assert.throws(
    () => connect("ftp://127.0.0.1:1/"),
    /Invalid WebSocket URL scheme: ftp: \(use ws:, wss:, http: or https:\)/,
  );
  // A network failure is not a programming error: it rejects ready.
  const refused = connect("ws://127.0.0.1:1/", { transport: "engine" });
  await assert.rejects(deadline(refused.ready, 10_000, "ready"), { code: "WS_CONNECT_REFUSED" });
});

test("connect throws TypeError / RangeError for invalid compression settings at the call", () => {
  const cases: Array<[unknown, typeof TypeError | typeof RangeError]> = [
    [{ threshold: -1 }, RangeError],
    [{ maxConcurrency: 0 }, RangeError],
    [{ clientMaxWindowBits: 8 }, RangeError],
    [{ serverMaxWindowBits: 16 }, RangeError],
    ["yes", TypeError],
  ];
  for (const [compression, type] of cases) {
    for (const transport of ["engine", "auto"] as const) {
      assert.throws(
        () =>
          connect("ws://127.0.0.1:1/", {
            transport,
            compression: compression as ConnectOptions["compression"],
          }),
        type,
        `${JSON.stringify(compression)} (${transport})`,
      );
    }
  }
});

test("connect auto uses the native WebSocket where it exists, else the engine (Node 20)", async () => {
  const server = await startServer(ownServe);
  try {
    const channel = connect(`ws://127.0.0.1:${server.port}/`);
    await deadline(channel.ready, 5000, "ready");
    const serverChannel = await deadline(server.next(), 5000, "server channel");
    serverChannel.stream.pipeTo(new WritableStream()).catch(() => {});
    if (hasNative) await assert.rejects(channel.ping(), { code: "WS_PING_UNSUPPORTED" });
    else assert.ok((await deadline(channel.ping(), 5000, "ping")) >= 0, "the engine can ping");
    await channel.sink.close(1000);
  } finally {
    await server.close();
  }
});

test(
  "connect (native) types failures as far as the platform tells: timeout, refused, rejected status",
  {
    skip: hasNative ? false : "no global WebSocket",
  },
  async () => {
    const silent = await rawServer();
    const rejecting = await rawServer(() =>
      "HTTP/1.1 401 No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    try {
      await expectFailure(
        connect(silent.url, { transport: "native", connectTimeout: 300 }),
        (error) => {
          assert.equal(error.code, "WS_CONNECT_TIMEOUT");
        },
      );
      const refusedUrl = await rawServer().then(async (s) => (await s.close(), s.url));
      await expectFailure(connect(refusedUrl, { transport: "native" }), (error) => {
        // Deno says "tcp connect error", Bun "Failed to connect", undici nothing.
        const expected = currentRuntime === "deno"
          ? ["WS_CONNECT_REFUSED"]
          : ["WS_CONNECT_REFUSED", "WS_CONNECT_FAILED"];
        assert.ok(expected.includes(error.code as string), String(error.code));
      });
      await expectFailure(connect(rejecting.url, { transport: "native" }), (error) => {
        if (currentRuntime === "node") assert.equal(error.code, "WS_CONNECT_FAILED");
        else assert.equal(error.status, 401);
      });
    } finally {
      await silent.close();
      await rejecting.close();
    }
  },
);
