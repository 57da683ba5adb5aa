/**
 * `onUpgrade` on every server entry point of the running runtime (`serve()`
 * everywhere; `upgrade()` on Deno, `createBunHandler()` on Bun, `attach()`
 * and `handleUpgrade()` on Node): a bearer token accepted and refused with
 * the application's own 401, a cookie, extra 101 headers, the `data` value
 * reaching `onChannel`, a throw answered 500 and reported; for `serve()`
 * also a slow check under many concurrent handshakes and a check that
 * outlives `handshakeTimeout`. Real clients: ours and raw sockets that
 * read the answer byte for byte.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { connect } from "../../mod.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import type { UpgradeHook } from "../../src/adapters/serve_options.ts";
import { deadline, waitFor } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { serveHere } from "../_util/serve_here.ts";
import { entryPoints, type StartedServer } from "../_util/entry_points.ts";

interface Hooks {
  onUpgrade?: UpgradeHook<unknown>;
  onError?: (error: unknown, request: Request) => void;
  onChannel?: (channel: WebSocketChannel, request: Request, data: unknown) => void;
}

/** Starts `name`'s entry point with `hooks` and handlers that do nothing. */
function starter(name: string): (hooks: Hooks) => Promise<StartedServer> {
  return (hooks) =>
    entryPoints[name].start({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      onChannel() {},
      ...hooks,
    });
}

const request = (port: number) =>
  `GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Version: 13\r\n";

/**
 * Sends an upgrade request with `headers` on a raw socket; resolves with
 * the status, the header lines (lower-cased names) and the body: a 101's
 * head, or a refusal's head and `Content-Length` bytes of body (a server on
 * `Deno.serve` or `Bun.serve` keeps the connection open after it).
 */
function rawUpgrade(port: number, headers: string) {
  return deadline(
    new Promise<{ status: number; fields: string[]; body: string }>((resolve, reject) => {
      const socket = netConnect({ host: "127.0.0.1", port });
      let text = "";
      const parse = () => {
        const end = text.indexOf("\r\n\r\n");
        const lines = text.slice(0, end).split("\r\n");
        const fields = lines.slice(1).map((line) => {
          const colon = line.indexOf(":");
          return `${line.slice(0, colon).toLowerCase()}:${line.slice(colon + 1).trim()}`;
        });
        return { status: Number(lines[0].slice(9, 12)), fields, body: text.slice(end + 4) };
      };
      const check = (closed: boolean) => {
        if (!text.includes("\r\n\r\n")) return closed && reject(new Error(`Cut off: ${text}`));
        const answer = parse();
        const length = answer.fields.find((field) => field.startsWith("content-length:"));
        const complete = answer.status === 101 ||
          (length !== undefined && answer.body.length >= Number(length.slice(15)));
        if (!complete && !closed) return;
        socket.destroy();
        resolve(answer);
      };
      socket.on("data", (chunk: Uint8Array) => {
        text += new TextDecoder("latin1").decode(chunk);
        check(false);
      });
      socket.on("error", reject);
      socket.on("close", () => check(true));
      socket.write(request(port) + headers + "\r\n");
    }),
    10_000,
    "the answer to an upgrade request",
  );
}

/** A bearer-token check: `Bearer good` is Ada, anything else is refused with 401. */
const bearer: UpgradeHook<unknown> = (request) => {
  if (request.headers.get("authorization") === "Bearer good") {
    return { data: { user: "ada", url: request.url } };
  }
  return new Response("token required\n", {
    status: 401,
    headers: { "www-authenticate": 'Bearer realm="chat"', "x-trace": "t1" },
  });
};

for (const [name, { runtime }] of Object.entries(entryPoints)) {
  const start = starter(name);
  const skip = runtime === currentRuntime ? false : `needs ${runtime}`;

  test(
    `onUpgrade (${currentRuntime} ${name}): a bearer token is accepted and its data reaches onChannel`,
    {
      skip,
    },
    async () => {
      const seen: unknown[] = [];
      const server = await start({
        onUpgrade: bearer,
        onChannel: (_channel, _request, data) => void seen.push(data),
      });
      try {
        const client = connect(`ws://127.0.0.1:${server.port}/chat?room=1`, {
          transport: "engine",
          headers: { authorization: "Bearer good" },
        });
        await deadline(client.ready, 5000, "the accepted upgrade");
        await waitFor(() => seen.length === 1, { what: "onChannel" });
        assert.deepEqual(seen, [{
          user: "ada",
          url: `http://127.0.0.1:${server.port}/chat?room=1`,
        }]);
        await client.sink.close(1000);
      } finally {
        await server.close();
      }
    },
  );

  test(
    `onChannel (${currentRuntime} ${name}): its request has the URL, method and headers the client sent, with or without onUpgrade`,
    { skip },
    async () => {
      const hook: UpgradeHook<unknown> = () => ({ data: "hooked" });
      for (const withHook of [false, true]) {
        const seen: Request[] = [];
        const server = await start({
          ...(withHook ? { onUpgrade: hook } : {}),
          onChannel: (_channel, request) => void seen.push(request),
        });
        try {
          const client = connect(`ws://127.0.0.1:${server.port}/feed/7?since=42`, {
            transport: "engine",
            headers: { "x-trace": "t-1", authorization: "Bearer a" },
          });
          await deadline(client.ready, 5000, "the accepted upgrade");
          await waitFor(() => seen.length === 1, { what: "onChannel" });
          const [request] = seen;
          assert.ok(request instanceof Request);
          assert.equal(request.method, "GET");
          assert.equal(request.url, `http://127.0.0.1:${server.port}/feed/7?since=42`);
          assert.equal(request.headers.get("x-trace"), "t-1");
          assert.equal(request.headers.get("authorization"), "Bearer a");
          assert.equal(request.headers.get("upgrade")?.toLowerCase(), "websocket");
          assert.equal(request.signal.aborted, false);
          await client.sink.close(1000);
        } finally {
          await server.close();
        }
      }
    },
  );

  test(
    `onUpgrade (${currentRuntime} ${name}): a refusal is sent as the application's 401, headers and body as given`,
    {
      skip,
    },
    async () => {
      let channels = 0;
      const server = await start({ onUpgrade: bearer, onChannel: () => void channels++ });
      try {
        const { status, fields, body } = await rawUpgrade(
          server.port,
          "Authorization: Bearer bad\r\n",
        );
        assert.equal(status, 401);
        assert.ok(fields.includes('www-authenticate:Bearer realm="chat"'), fields.join("\n"));
        assert.ok(fields.includes("x-trace:t1"), fields.join("\n"));
        assert.equal(body, "token required\n");
        const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
        await assert.rejects(deadline(client.ready, 5000, "the refusal"), {
          name: "HandshakeError",
          status: 401,
        });
        assert.equal(channels, 0);
      } finally {
        await server.close();
      }
    },
  );

  test(`onUpgrade (${currentRuntime} ${name}): a cookie session, with Set-Cookie on the 101`, {
    skip,
  }, async () => {
    const seen: unknown[] = [];
    const server = await start({
      onUpgrade: async (request) => {
        await new Promise((resolve) => setTimeout(resolve, 5)); // an async session lookup
        const session = /(?:^|;\s*)sid=([^;]+)/.exec(request.headers.get("cookie") ?? "")?.[1];
        if (session !== "s3cret") return new Response("no session", { status: 403 });
        return {
          headers: [["set-cookie", "seen=1; HttpOnly"], ["set-cookie", "lang=en"]],
          data: { session },
        };
      },
      onChannel: (_channel, _request, data) => void seen.push(data),
    });
    try {
      const accepted = await rawUpgrade(server.port, "Cookie: theme=dark; sid=s3cret\r\n");
      assert.equal(accepted.status, 101);
      assert.ok(
        accepted.fields.includes("set-cookie:seen=1; HttpOnly"),
        accepted.fields.join("\n"),
      );
      assert.ok(accepted.fields.includes("set-cookie:lang=en"), accepted.fields.join("\n"));
      await waitFor(() => seen.length === 1, { what: "onChannel" });
      assert.deepEqual(seen, [{ session: "s3cret" }]);
      const refused = await rawUpgrade(server.port, "Cookie: sid=forged\r\n");
      assert.equal(refused.status, 403);
      assert.equal(refused.body, "no session");
    } finally {
      await server.close();
    }
  });

  test(`onUpgrade (${currentRuntime} ${name}): a throw answers 500 and reaches onError`, {
    skip,
  }, async () => {
    const bug = new Error("session store unreachable");
    const reported: Array<[unknown, string]> = [];
    let calls = 0;
    const server = await start({
      onUpgrade: () => {
        if (calls++ % 2 === 0) throw bug;
        return Promise.reject(bug);
      },
      onError: (error, request) => void reported.push([error, request.url]),
    });
    try {
      const thrown = await rawUpgrade(server.port, "");
      assert.equal(thrown.status, 500);
      assert.doesNotMatch(thrown.body, /session store/, "the error stays on the server");
      const client = connect(`ws://127.0.0.1:${server.port}/chat?room=1`, { transport: "engine" });
      await assert.rejects(deadline(client.ready, 5000, "the 500"), { status: 500 });
      await waitFor(() => reported.length === 2, { what: "onError" });
      const url = `http://127.0.0.1:${server.port}/chat?room=1`;
      assert.deepEqual(reported, [[bug, url], [bug, url]]);
    } finally {
      await server.close();
    }
  });

  test(`onUpgrade (${currentRuntime} ${name}): reserved 101 headers are refused with 500`, {
    skip,
  }, async () => {
    const reported: unknown[] = [];
    const server = await start({
      onUpgrade: () => ({ headers: { "sec-websocket-accept": "forged" }, data: 1 }),
      onError: (error) => void reported.push(error),
    });
    try {
      assert.equal((await rawUpgrade(server.port, "")).status, 500);
      await waitFor(() => reported.length === 1, { what: "onError" });
      assert.ok(reported[0] instanceof TypeError);
    } finally {
      await server.close();
    }
  });
}

test(`onUpgrade (${currentRuntime} serve): a check still running at handshakeTimeout gets 503, its signal aborts, onError hears`, async () => {
  const reported: unknown[] = [];
  let aborted: unknown;
  const server = await serveHere({
    handshakeTimeout: 300,
    onUpgrade: (request) =>
      new Promise<undefined>((resolve) => {
        request.signal.addEventListener("abort", () => {
          aborted = request.signal.reason;
          resolve(undefined); // too late: the upgrade must not go on
        });
      }),
    onError: (error) => void reported.push(error),
  });
  try {
    const answer = await rawUpgrade(server.port, "");
    assert.equal(answer.status, 503);
    assert.ok(answer.fields.includes("retry-after:1"), answer.fields.join("\n"));
    await waitFor(() => reported.length === 1 && aborted !== undefined, { what: "onError" });
    assert.equal((reported[0] as { code?: string }).code, "WS_HANDSHAKE_TIMEOUT");
    assert.equal(aborted, reported[0]);
    assert.equal(server.channels.size, 0);
  } finally {
    await server.close();
  }
});

test(`onUpgrade (${currentRuntime} serve): 200 concurrent handshakes on a slow check hold at most maxPendingHandshakes checks`, async () => {
  const limit = 20;
  let running = 0;
  let most = 0;
  let calls = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const server = await serveHere({
    maxPendingHandshakes: limit,
    onUpgrade: async () => {
      calls++;
      most = Math.max(most, ++running);
      await gate; // an authentication service that does not answer
      running--;
      return { data: "ok" };
    },
  });
  const clients = Array.from(
    { length: 200 },
    () =>
      connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine", connectTimeout: 20_000 }),
  );
  const outcomes = clients.map((client) =>
    client.ready.then(() => "open", (error) => error.status === 503 ? "busy" : error.code)
  );
  try {
    // Every client beyond the pending checks is turned away while the checks hang.
    let settled = 0;
    for (const outcome of outcomes) outcome.then(() => settled++);
    await waitFor(() => settled === 200 - limit && running === limit, {
      timeout: 20_000,
      what: "all but the pending handshakes to be refused",
    });
    assert.equal(most, limit);
    assert.equal(calls, limit);
    open();
    const results = await deadline(Promise.all(outcomes), 20_000, "every client to settle");
    const count = (kind: string) => results.filter((result) => result === kind).length;
    assert.equal(count("open"), limit);
    assert.equal(count("open") + count("busy") + count("WS_CONNECT_FAILED"), 200, results.join());
    assert.equal(most, limit);
  } finally {
    open();
    await Promise.all(clients.map((client) => client.sink.close(1000).catch(() => {})));
    await server.close();
  }
});

test(`onUpgrade (${currentRuntime} serve): a TRACE upgrade request is refused with 405, never reaching onUpgrade`, async () => {
  let calls = 0;
  const server = await serveHere({ onUpgrade: () => void calls++ });
  try {
    const socket = netConnect({ host: "127.0.0.1", port: server.port });
    let text = "";
    socket.on("data", (chunk: Uint8Array) => (text += new TextDecoder("latin1").decode(chunk)));
    socket.on("error", () => {});
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write(request(server.port).replace(/^GET/, "TRACE") + "\r\n");
    await deadline(closed, 10_000, "the refusal");
    assert.match(text, /^HTTP\/1\.1 405 /);
    assert.equal(calls, 0);
  } finally {
    await server.close();
  }
});
