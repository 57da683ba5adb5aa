/**
 * Handshake limits of `serve()` on the running runtime, seen from raw
 * `node:net` clients: oversized heads get 431, slow heads 408 at
 * `handshakeTimeout`, connections past `maxPendingHandshakes` 503, a missing
 * Origin 403 with `requireOrigin`; the same answers on Deno, Bun and Node.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect, type Socket } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { connect } from "../../mod.ts";
import { deadline, waitFor } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { serveHere } from "../_util/serve_here.ts";
import { testCertificates } from "./fixtures/certs.ts";

const REQUEST =
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/** A raw client: collects what the server sends until the connection ends. */
function rawClient(port: number) {
  const socket: Socket = netConnect({ host: "127.0.0.1", port });
  let text = "";
  socket.on("data", (chunk: Uint8Array) => (text += new TextDecoder("latin1").decode(chunk)));
  socket.on("error", () => {});
  const started = Date.now();
  const ended = new Promise<number>((resolve) =>
    socket.on("close", () => resolve(Date.now() - started))
  );
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return {
    socket,
    connected,
    /** Everything received so far. */
    get text() {
      return text;
    },
    /** Waits until the server closed the connection; the answer's status and the time taken. */
    async answer(what = "the server to answer and close") {
      const elapsed = await deadline(ended, 10_000, what);
      return { status: Number(text.slice(9, 12)), text, elapsed };
    },
    /** Waits until `text` holds a complete head. */
    async head(what = "a response head") {
      await deadline(
        (async () => {
          while (!text.includes("\r\n\r\n")) await new Promise((r) => setTimeout(r, 5));
        })(),
        5000,
        what,
      );
      return Number(text.slice(9, 12));
    },
  };
}

/** Sends `request` in one write and returns the answer once the server closed. */
async function exchange(port: number, request: string) {
  const client = rawClient(port);
  client.socket.write(request);
  try {
    return await client.answer();
  } finally {
    client.socket.destroy();
  }
}

test(`serve (${currentRuntime}) answers 431 to a 20 KiB request head`, async () => {
  const server = await serveHere({});
  try {
    const { status, text } = await exchange(
      server.port,
      REQUEST + `X-Big: ${"a".repeat(20 * 1024)}\r\n\r\n`,
    );
    assert.equal(status, 431, text);
    assert.match(text, /connection: close/i);
    assert.equal(server.channels.size, 0);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) answers 431 to 1,000 headers and to 129, accepts 128`, async () => {
  const server = await serveHere({});
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join("");
  try {
    assert.equal((await exchange(server.port, REQUEST + fields(1000) + "\r\n")).status, 431);
    // REQUEST has 5 fields: 124 more is 129.
    assert.equal((await exchange(server.port, REQUEST + fields(124) + "\r\n")).status, 431);
    const within = rawClient(server.port);
    within.socket.write(REQUEST + fields(123) + "\r\n");
    assert.equal(await within.head(), 101, within.text);
    within.socket.destroy();
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) answers 431 to a header line over 8 KiB`, async () => {
  const server = await serveHere({});
  try {
    const { status } = await exchange(server.port, REQUEST + `X-Long: ${"a".repeat(9000)}\r\n\r\n`);
    assert.equal(status, 431);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) answers 400 to a malformed head`, async () => {
  const server = await serveHere({});
  try {
    assert.equal((await exchange(server.port, "GET / HTTP/1.1\r\nBad Header\r\n\r\n")).status, 400);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) answers 408 to a head still trickling in at handshakeTimeout`, async () => {
  const handshakeTimeout = 300;
  const server = await serveHere({ handshakeTimeout });
  const client = rawClient(server.port);
  let sent = 0;
  const trickle = setInterval(() => {
    if (!client.socket.destroyed && client.socket.writable) client.socket.write(REQUEST[sent++]);
  }, 20);
  try {
    const { status, text, elapsed } = await client.answer("a 408");
    assert.equal(status, 408, text);
    assert.ok(elapsed >= handshakeTimeout - 20, `answered after ${elapsed} ms`);
    assert.ok(sent < REQUEST.length, "the head was not complete");
  } finally {
    clearInterval(trickle);
    client.socket.destroy();
    await server.close();
  }
});

test(`serve (${currentRuntime}) answers 408 to a connection that sends nothing`, async () => {
  const server = await serveHere({ handshakeTimeout: 200 });
  const client = rawClient(server.port);
  try {
    assert.equal((await client.answer("a 408")).status, 408);
  } finally {
    client.socket.destroy();
    await server.close();
  }
});

test(`serve (${currentRuntime}) handshakeTimeout does not apply once the connection is open`, async () => {
  const server = await serveHere({
    handshakeTimeout: 150,
    onChannel: (channel) => void channel.stream.pipeTo(channel.sink).catch(() => {}),
  });
  try {
    const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
    await deadline(client.ready, 5000, "ready");
    await new Promise((resolve) => setTimeout(resolve, 400));
    await client.sink.add("still here");
    const reader = client.stream.getReader();
    assert.equal((await deadline(reader.read(), 5000, "echo")).value, "still here");
    reader.releaseLock();
    await client.sink.close(1000);
    assert.equal((await deadline(client.closed, 5000, "closed")).code, 1000);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) answers 503 past maxPendingHandshakes while earlier handshakes complete`, async () => {
  const server = await serveHere({ maxPendingHandshakes: 2 });
  const held = [rawClient(server.port), rawClient(server.port)];
  const extra: ReturnType<typeof rawClient>[] = [];
  try {
    for (const client of held) {
      await client.connected;
      client.socket.write(REQUEST); // the head is not complete: the handshake stays pending
    }
    // The third connection is answered without its request being read…
    const silent = rawClient(server.port);
    extra.push(silent);
    const busy = await silent.answer("a 503");
    assert.equal(busy.status, 503, busy.text);
    assert.match(busy.text, /retry-after: 1/i);
    // …and so is one that sends a complete request.
    assert.equal((await exchange(server.port, REQUEST + "\r\n")).status, 503);
    // The pending handshakes still complete.
    for (const client of held) client.socket.write("\r\n");
    for (const client of held) assert.equal(await client.head(), 101, client.text);
    // Their slots are free again: a new client connects.
    const late = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
    await deadline(late.ready, 5000, "a client after the pending handshakes completed");
    await late.sink.close(1000);
  } finally {
    for (const client of [...held, ...extra]) client.socket.destroy();
    await server.close();
  }
});

test(`serve (${currentRuntime}) frees the handshake slot of a refused request`, async () => {
  const server = await serveHere({ maxPendingHandshakes: 1 });
  // The server frees the slot once it has closed the refused connection, a moment
  // after the client saw it close: until then a new connection may still get 503.
  const answered = (request: string) =>
    waitFor(async () => {
      const { status } = await exchange(server.port, request);
      return status === 503 ? undefined : status;
    }, { timeout: 5000, what: "an answer other than 503" });
  try {
    assert.equal(await answered("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 426);
    assert.equal(await answered(REQUEST + `X-Big: ${"a".repeat(20000)}\r\n\r\n`), 431);
    assert.equal(await answered(REQUEST + "Sec-WebSocket-Version: 8\r\n\r\n"), 426);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) requireOrigin refuses a request without Origin with 403`, async () => {
  const server = await serveHere({ requireOrigin: true, origins: ["https://app.example"] });
  try {
    const { status, text } = await exchange(server.port, REQUEST + "\r\n");
    assert.equal(status, 403, text);
    const allowed = rawClient(server.port);
    allowed.socket.write(REQUEST + "Origin: https://app.example\r\n\r\n");
    assert.equal(await allowed.head(), 101);
    allowed.socket.destroy();
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) without requireOrigin accepts a request without Origin`, async () => {
  const server = await serveHere({ origins: ["https://app.example"] });
  const client = rawClient(server.port);
  try {
    client.socket.write(REQUEST + "\r\n");
    assert.equal(await client.head(), 101);
  } finally {
    client.socket.destroy();
    await server.close();
  }
});

test(`serve (${currentRuntime}) answers 400 to a Host that makes no URL, and 500 when a protocols callback throws`, async () => {
  const reported: unknown[] = [];
  const server = await serveHere({
    protocols: (offered) => {
      if (offered.includes("broken")) throw new Error("selector bug");
      return offered[0];
    },
    onError: (error) => void reported.push(error),
  });
  try {
    const badHost = await exchange(
      server.port,
      REQUEST.replace("Host: 127.0.0.1", "Host: a b") + "\r\n",
    );
    assert.equal(badHost.status, 400, badHost.text);
    assert.match(badHost.text, /Invalid Host header$/);
    const broken = await exchange(server.port, REQUEST + "Sec-WebSocket-Protocol: broken\r\n\r\n");
    assert.equal(broken.status, 500, broken.text);
    assert.doesNotMatch(broken.text, /selector bug/);
    const fine = rawClient(server.port);
    fine.socket.write(REQUEST + "Sec-WebSocket-Protocol: chat\r\n\r\n");
    assert.equal(await fine.head(), 101, fine.text);
    assert.match(fine.text, /sec-websocket-protocol: chat/i);
    fine.socket.destroy();
    assert.deepEqual(reported, [], "not onUpgrade's failure: nothing to report");
  } finally {
    await server.close();
  }
});

test(
  "attach (node:http) applies the same header count limit: 431 to 200 short headers",
  { skip: currentRuntime !== "node" && "node:http of the running runtime has its own limits" },
  async () => {
    const { attach } = await import("../../src/adapters/node.ts");
    const http = createHttpServer();
    const handler = attach(http, { onChannel: () => {} });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const port = (http.address() as { port: number }).port;
    // About 2 KiB: node:http alone takes it (up to 2,000 fields, 16 KiB).
    const fields = Array.from({ length: 200 }, (_, i) => `X-H${i}: v\r\n`).join("");
    try {
      const { status, text } = await exchange(port, REQUEST + fields + "\r\n");
      assert.equal(status, 431, text);
    } finally {
      await handler.close();
      http.closeAllConnections?.();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  },
);

test(
  `serve (${currentRuntime}) with tls closes a connection that never starts its TLS handshake`,
  {
    skip: currentRuntime === "deno" &&
      "Deno's TlsConn finishes the TLS handshake before it closes: kept until the client leaves",
  },
  async () => {
    const { cert, key } = testCertificates();
    const server = await serveHere({ tls: { cert, key }, handshakeTimeout: 300 });
    // One sends nothing, one the start of a ClientHello and no more.
    const silent = rawClient(server.port);
    const stalled = rawClient(server.port);
    try {
      await stalled.connected;
      stalled.socket.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]));
      await silent.answer("the server to close a connection without a ClientHello");
      await stalled.answer("the server to close a connection whose ClientHello stopped");
    } finally {
      silent.socket.destroy();
      stalled.socket.destroy();
      await server.close();
    }
  },
);
