/**
 * The engine client through an HTTP CONNECT proxy on the running runtime:
 * a real tinyproxy (with and without BasicAuth) for `ws:` and `wss:`, the
 * environment (`HTTP_PROXY`, `NO_PROXY`) only with `proxy: "env"`, and a
 * small CONNECT proxy of the test's own for what tinyproxy does not do
 * (refusals, an endless or missing answer, recording the request).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import process from "node:process";
import { connect } from "../../mod.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import type { ServeOptions } from "../../src/adapters/serve_options.ts";
import { deadline } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { serveHere } from "../_util/serve_here.ts";
import { freePort } from "../_util/server_process.ts";
import { startTinyproxy, tinyproxySkip } from "../_util/tinyproxy.ts";
import { testCertificates } from "./fixtures/certs.ts";

const skip = tinyproxySkip;

/** An echo server of the running runtime. */
function echoServer(options: Partial<ServeOptions> = {}) {
  return serveHere({
    idleTimeout: 0,
    onChannel: (channel) => void channel.stream.pipeTo(channel.sink).catch(() => {}),
    ...options,
  });
}

/** Sends one message and expects it back, then closes. */
async function roundTrip(channel: WebSocketChannel, text = "through the tunnel") {
  await deadline(channel.ready, 10_000, "ready");
  await channel.sink.add(text);
  const reader = channel.stream.getReader();
  assert.equal((await deadline(reader.read(), 5000, "the echo")).value, text);
  reader.releaseLock();
  await channel.sink.close(1000);
}

test(
  `proxy (${currentRuntime}): ws:// through tinyproxy, and not without it`,
  { skip },
  async () => {
    const server = await echoServer();
    const proxy = await startTinyproxy();
    try {
      const url = `ws://127.0.0.1:${server.port}/`;
      await roundTrip(connect(url, { transport: "engine", proxy: proxy.url }));
      await proxy.stop();
      // The same connection with the proxy gone fails: it really went through it.
      const down = connect(url, { transport: "engine", proxy: proxy.url });
      await assert.rejects(deadline(down.ready, 10_000, "refusal"), { code: "WS_CONNECT_REFUSED" });
    } finally {
      await proxy.stop();
      await server.close();
    }
  },
);

test(
  `proxy (${currentRuntime}): wss:// through tinyproxy, TLS inside the tunnel for the target host`,
  {
    skip,
  },
  async () => {
    const { ca, cert, key } = testCertificates();
    const server = await echoServer({ tls: { cert, key } });
    const proxy = await startTinyproxy();
    try {
      // "localhost": the certificate is checked (and SNI sent) for the target, not the proxy.
      await roundTrip(
        connect(`wss://localhost:${server.port}/`, {
          transport: "engine",
          proxy: proxy.url,
          caCerts: [ca],
        }),
      );
      // Without the CA the target's certificate is refused, inside the tunnel too.
      const untrusted = connect(`wss://localhost:${server.port}/`, {
        transport: "engine",
        proxy: proxy.url,
      });
      await assert.rejects(deadline(untrusted.ready, 10_000, "TLS failure"), {
        code: "WS_CONNECT_TLS",
      });
    } finally {
      await proxy.stop();
      await server.close();
    }
  },
);

test(
  `proxy (${currentRuntime}): BasicAuth credentials from the URL; the proxy's 407 without them`,
  {
    skip,
  },
  async () => {
    const server = await echoServer();
    const proxy = await startTinyproxy({ user: "ada", password: "l0velace" });
    try {
      const url = `ws://127.0.0.1:${server.port}/`;
      await roundTrip(connect(url, { transport: "engine", proxy: proxy.url }));
      // No credentials: 407 Proxy Authentication Required. Wrong ones: tinyproxy 1.11
      // answers 401. Either way the proxy's own status reaches the caller.
      const cases: Array<[string, number]> = [
        [`http://127.0.0.1:${proxy.port}`, 407],
        [`http://ada:nope@127.0.0.1:${proxy.port}`, 401],
      ];
      for (const [wrong, status] of cases) {
        const refused = connect(url, { transport: "engine", proxy: wrong });
        await assert.rejects(deadline(refused.ready, 10_000, "the refusal"), (error: unknown) => {
          const e = error as { name: string; code: string; status: number; message: string };
          assert.equal(e.name, "ConnectError");
          assert.equal(e.code, "WS_PROXY_REFUSED");
          assert.equal(e.status, status);
          assert.doesNotMatch(e.message, /nope/, "credentials never appear in errors");
          return true;
        });
      }
    } finally {
      await proxy.stop();
      await server.close();
    }
  },
);

/** Sets environment variables for one test (Deno.env on Deno, process.env elsewhere). */
function setEnv(values: Record<string, string | undefined>): () => void {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  const get = (name: string) => deno ? deno.env.get(name) : process.env[name];
  const set = (name: string, value: string | undefined) => {
    if (deno) value === undefined ? deno.env.delete(name) : deno.env.set(name, value);
    else if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  const saved = Object.keys(values).map((name) => [name, get(name)] as const);
  for (const [name, value] of Object.entries(values)) set(name, value);
  return () => {
    for (const [name, value] of saved) set(name, value);
  };
}

const PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"].flatMap((name) => [
  name,
  name.toLowerCase(),
]);

test(
  `proxy (${currentRuntime}): "env" follows HTTP_PROXY and NO_PROXY, and nothing reads them otherwise`,
  {
    skip,
  },
  async () => {
    const server = await echoServer();
    const proxy = await startTinyproxy();
    const dead = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const url = `ws://127.0.0.1:${server.port}/`;
    const clear = Object.fromEntries(PROXY_VARIABLES.map((name) => [name, undefined]));
    let restore = setEnv({ ...clear, HTTP_PROXY: proxy.url });
    try {
      await roundTrip(connect(url, { transport: "engine", proxy: "env" }));
      restore();
      restore = setEnv({ ...clear, http_proxy: dead, HTTP_PROXY: proxy.url });
      // Lowercase first: the dead proxy is used, and the connection is refused.
      const viaDead = connect(url, { transport: "engine", proxy: "env" });
      await assert.rejects(deadline(viaDead.ready, 10_000, "refusal"), {
        code: "WS_CONNECT_REFUSED",
      });
      // Without proxy: "env" the environment is not read at all.
      await roundTrip(connect(url, { transport: "engine" }));
      for (
        const noProxy of ["127.0.0.1", "localhost, 127.0.0.1", `127.0.0.1:${server.port}`, "*"]
      ) {
        restore();
        restore = setEnv({ ...clear, HTTP_PROXY: dead, NO_PROXY: noProxy });
        await roundTrip(connect(url, { transport: "engine", proxy: "env" }), noProxy);
      }
      restore();
      restore = setEnv({ ...clear, HTTP_PROXY: dead, no_proxy: "127.0.0.1:1,example.com" });
      const notBypassed = connect(url, { transport: "engine", proxy: "env" });
      await assert.rejects(deadline(notBypassed.ready, 10_000, "refusal"), {
        code: "WS_CONNECT_REFUSED",
      });
      restore();
      restore = setEnv({ ...clear, HTTPS_PROXY: "socks5://127.0.0.1:1080" });
      const wrongKind = connect(`wss://127.0.0.1:${server.port}/`, {
        transport: "engine",
        proxy: "env",
      });
      await assert.rejects(
        deadline(wrongKind.ready, 10_000, "TypeError"),
        (error: Error) => error instanceof TypeError && /HTTPS_PROXY/.test(error.message),
      );
    } finally {
      restore();
      await proxy.stop();
      await server.close();
    }
  },
);

/** A CONNECT proxy of the test's own that answers with `answer` and records each request head. */
async function scriptedProxy(answer: (socket: Socket) => void) {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = "";
    const onData = (chunk: Uint8Array) => {
      head += new TextDecoder("latin1").decode(chunk);
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      heads.push(head);
      answer(socket);
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    heads,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test(`proxy (${currentRuntime}): the CONNECT request, and a refusal's status as a typed error`, async () => {
  const proxy = await scriptedProxy((socket) =>
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nnot ok")
  );
  try {
    const withCredentials = proxy.url.replace("http://", "http://us%20er:p%40ss@");
    const channel = connect("wss://example.test:8443/chat", {
      transport: "engine",
      proxy: withCredentials,
    });
    await assert.rejects(deadline(channel.ready, 10_000, "403"), {
      name: "ConnectError",
      code: "WS_PROXY_REFUSED",
      status: 403,
    });
    assert.equal(
      proxy.heads[0],
      "CONNECT example.test:8443 HTTP/1.1\r\nHost: example.test:8443\r\n" +
        `Proxy-Authorization: Basic ${btoa("us er:p@ss")}\r\n\r\n`,
    );
    const plain = connect("ws://[::1]/", { transport: "engine", proxy: proxy.url });
    await assert.rejects(deadline(plain.ready, 10_000, "403"), { status: 403 });
    assert.equal(proxy.heads[1], "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n");
  } finally {
    await proxy.close();
  }
});

test(`proxy (${currentRuntime}): an endless answer head is cut at 16 KiB, a silent proxy at connectTimeout, an abort during CONNECT`, async () => {
  const endless = await scriptedProxy((socket) => {
    socket.write("HTTP/1.1 200 OK\r\n");
    const line = `X-Filler: ${"a".repeat(1000)}\r\n`;
    const timer = setInterval(() => socket.writable ? socket.write(line) : clearInterval(timer), 1);
    socket.on("close", () => clearInterval(timer));
  });
  const silent = await scriptedProxy(() => {});
  try {
    const flooded = connect("ws://example.test/", { transport: "engine", proxy: endless.url });
    await assert.rejects(deadline(flooded.ready, 10_000, "the cut"), { code: "WS_PROXY_FAILED" });
    const slow = connect("ws://example.test/", {
      transport: "engine",
      proxy: silent.url,
      connectTimeout: 300,
    });
    await assert.rejects(deadline(slow.ready, 10_000, "the timeout"), {
      code: "WS_CONNECT_TIMEOUT",
    });
    const controller = new AbortController();
    const aborted = connect("ws://example.test/", {
      transport: "engine",
      proxy: silent.url,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(deadline(aborted.ready, 10_000, "the abort"), {
      code: "WS_CONNECT_ABORTED",
    });
  } finally {
    await endless.close();
    await silent.close();
  }
});

test(`proxy (${currentRuntime}): bytes after a 2xx answer are not a tunnel`, async () => {
  const proxy = await scriptedProxy((socket) =>
    socket.write("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 101 Switching")
  );
  try {
    const channel = connect("ws://example.test/", { transport: "engine", proxy: proxy.url });
    await assert.rejects(deadline(channel.ready, 10_000, "the failure"), {
      code: "WS_PROXY_FAILED",
    });
  } finally {
    await proxy.close();
  }
});

test('proxy: anything but "env" or an http:// URL throws a TypeError at the call', () => {
  for (const proxy of ["https://proxy:443", "socks5://proxy:1080", "not a url", "http://"]) {
    assert.throws(() => connect("ws://example.test/", { transport: "engine", proxy }), TypeError);
  }
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function") {
    // A WHATWG WebSocket cannot be sent through our tunnel: said, never ignored.
    assert.throws(
      () => connect("ws://example.test/", { transport: "native", proxy: "http://p:1" }),
      { code: "WS_OPTION_UNSUPPORTED" },
    );
  }
});
