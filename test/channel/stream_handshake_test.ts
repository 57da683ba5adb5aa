import process from "node:process";
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  clientOverStreams,
  type ClientOverStreamsOptions,
  refuseOverStreams,
  serverOverStreams,
} from "../../src/channel/stream_handshake.ts";
import { createRejection } from "../../src/handshake/server_handshake.ts";
import { socketTransport } from "../../src/adapters/node_socket_transport.ts";
import { connectedSocketPair } from "../_util/tcp.ts";
import { createByteStreamPair } from "../../src/testing/byte_stream_pair.ts";
import { deadline, delay } from "../_util/async.ts";
import { readMessages } from "./channel_contract.ts";

const encoder = new TextEncoder();

/**
 * Writes `text` to the writable, reads everything the other side sends until
 * EOF, then closes its own side (as a client does after `Connection: close`).
 */
async function exchange(
  endpoint: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  text: string,
): Promise<string> {
  const writer = endpoint.writable.getWriter();
  await writer.write(encoder.encode(text));
  const out = await readToEnd(endpoint.readable);
  await writer.close().catch(() => {});
  return out;
}

/** Everything read until EOF, as text. */
async function readToEnd(readable: ReadableStream<Uint8Array>): Promise<string> {
  let out = "";
  const reader = readable.getReader();
  await deadline(
    (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        out += new TextDecoder().decode(value);
      }
    })(),
    5000,
    "the server's answer and EOF",
  );
  return out;
}

/** True once the peer closed or reset the connection (both count as dropping it). */
async function connectionEnded(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  try {
    return (await deadline(reader.read(), 5000, "the connection to end")).done;
  } catch (error) {
    return error instanceof Error && /reset/i.test(error.message);
  }
}

const GOOD_REQUEST = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

test("clientOverStreams and serverOverStreams connect over an in-memory pair", async () => {
  const [a, b] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/chat?room=1", a, {
    protocols: ["v2", "v1"],
    headers: { authorization: "Bearer x" },
  });
  const { channel: server, request } = await deadline(
    serverOverStreams(b, { protocols: ["v1", "v2"] }),
    5000,
    "server handshake",
  );
  await deadline(client.ready, 5000, "client ready");
  // The default selection takes the client's most preferred protocol that the server supports.
  assert.equal(client.protocol, "v2");
  assert.equal(server.protocol, "v2");
  assert.equal(request.url, "http://example.com/chat?room=1");
  assert.equal(request.headers.get("authorization"), "Bearer x");
  await client.sink.add("hello");
  assert.deepEqual(await readMessages(server.stream.getReader(), 1), ["hello"]);
  await client.sink.close(1000);
  assert.equal((await deadline(server.closed, 5000, "closed")).wasClean, true);
});

test("serverOverStreams answers 101 and its first frame in the same read as the client sees them", async () => {
  const [a, b] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/", a);
  const { channel: server } = await serverOverStreams(b);
  server.sink.add("right after the 101");
  await client.ready;
  assert.deepEqual(await readMessages(client.stream.getReader(), 1), ["right after the 101"]);
});

test("serverOverStreams hands bytes that came with the request head to the engine", async () => {
  const [a, b] = createByteStreamPair();
  const upgrade = serverOverStreams(b);
  const writer = a.writable.getWriter();
  // Request head and a masked text frame "hi" in one write.
  await writer.write(encoder.encode(GOOD_REQUEST + "\r\n"));
  await writer.write(new Uint8Array([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
  const { channel } = await deadline(upgrade, 5000, "upgrade");
  assert.deepEqual(await readMessages(channel.stream.getReader(), 1), ["hi"]);
});

test("serverOverStreams refuses a bad version with 426 and closes the connection", async () => {
  const [a, b] = createByteStreamPair();
  const upgrade = serverOverStreams(b);
  upgrade.catch(() => {});
  const answer = await exchange(a, GOOD_REQUEST.replace("Version: 13", "Version: 8") + "\r\n");
  assert.match(answer, /^HTTP\/1\.1 426 /);
  assert.match(answer, /sec-websocket-version: 13/i);
  await assert.rejects(upgrade, { name: "HandshakeError", status: 426 });
});

test("serverOverStreams refuses a disallowed origin with 403", async () => {
  const [a, b] = createByteStreamPair();
  const upgrade = serverOverStreams(b, { origins: ["https://good.example"] });
  upgrade.catch(() => {});
  const answer = await exchange(a, GOOD_REQUEST + "Origin: https://evil.example\r\n\r\n");
  assert.match(answer, /^HTTP\/1\.1 403 /);
  await assert.rejects(upgrade, { status: 403 });
});

test("serverOverStreams answers 431 to an oversized head", async () => {
  const [a, b] = createByteStreamPair();
  const upgrade = serverOverStreams(b, { maxHeadSize: 1024 });
  upgrade.catch(() => {});
  const answer = await exchange(a, GOOD_REQUEST + `X-Big: ${"a".repeat(2000)}\r\n\r\n`);
  assert.match(answer, /^HTTP\/1\.1 431 /);
  await assert.rejects(upgrade, { status: 431 });
});

test("serverOverStreams answers 400 to a malformed request line", async () => {
  const [a, b] = createByteStreamPair();
  const upgrade = serverOverStreams(b);
  upgrade.catch(() => {});
  const answer = await exchange(a, "GARBAGE\r\nHost: x\r\n\r\n");
  assert.match(answer, /^HTTP\/1\.1 400 /);
  await assert.rejects(upgrade, { status: 400 });
});

test("serverOverStreams answers 408 to a slow client at the handshake timeout and closes", async () => {
  const [a, b] = createByteStreamPair();
  const upgrade = serverOverStreams(b, { handshakeTimeout: 50 });
  upgrade.catch(() => {});
  const writer = a.writable.getWriter();
  await writer.write(encoder.encode("GET / HTTP/1.1\r\n"));
  const answer = await readToEnd(a.readable);
  assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(answer, /connection: close/i);
  await writer.close();
  await assert.rejects(deadline(upgrade, 5000, "timeout"), {
    code: "WS_HANDSHAKE_TIMEOUT",
    status: 408,
  });
});

test("serverOverStreams keeps reading after a refusal until the client closes its side", async () => {
  const [a, b] = createByteStreamPair();
  let settled = false;
  const upgrade = serverOverStreams(b, { maxHeadSize: 1024 });
  upgrade.catch(() => {}).finally(() => (settled = true));
  const writer = a.writable.getWriter();
  await writer.write(encoder.encode(GOOD_REQUEST + `X-Big: ${"a".repeat(2000)}\r\n`));
  const answer = await readToEnd(a.readable);
  assert.match(answer, /^HTTP\/1\.1 431 /);
  // The client may still be sending: the server reads and drops it rather than reset.
  await writer.write(encoder.encode("more of the head\r\n"));
  await delay(50);
  assert.equal(settled, false);
  await writer.close();
  await assert.rejects(deadline(upgrade, 1500, "the refusal to finish"), { status: 431 });
});

test("serverOverStreams answers 431 over a direct socket transport before closing it", async () => {
  const pair = await connectedSocketPair();
  try {
    const upgrade = serverOverStreams(socketTransport(pair.serverSide));
    upgrade.catch(() => {});
    let text = "";
    pair.client.on("data", (chunk: Uint8Array) => (text += new TextDecoder().decode(chunk)));
    const closed = new Promise<void>((resolve) => pair.client.on("close", () => resolve()));
    pair.client.on("error", () => {});
    pair.client.write(GOOD_REQUEST + `X-Big: ${"a".repeat(20 * 1024)}\r\n\r\n`);
    await deadline(closed, 5000, "the server to close");
    assert.match(text, /^HTTP\/1\.1 431 /);
    await assert.rejects(deadline(upgrade, 5000, "upgrade"), { status: 431 });
  } finally {
    await pair.close();
  }
});

test("serverOverStreams with requireOrigin refuses a request without Origin with 403", async () => {
  const [a, b] = createByteStreamPair();
  const upgrade = serverOverStreams(b, { requireOrigin: true });
  upgrade.catch(() => {});
  const answer = await exchange(a, GOOD_REQUEST + "\r\n");
  assert.match(answer, /^HTTP\/1\.1 403 /);
  await assert.rejects(upgrade, { status: 403 });
  const [c, d] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/", c, {
    headers: { origin: "https://example.com" },
  });
  await deadline(serverOverStreams(d, { requireOrigin: true }), 5000, "upgrade with Origin");
  await deadline(client.ready, 5000, "ready");
});

test("refuseOverStreams answers without reading the request, then closes", async () => {
  const [a, b] = createByteStreamPair();
  const done = refuseOverStreams(
    b,
    createRejection(503, "Busy", { headers: { "retry-after": "1" } }),
  );
  const writer = a.writable.getWriter();
  await writer.write(encoder.encode(GOOD_REQUEST + "\r\n"));
  const answer = await readToEnd(a.readable);
  assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(answer, /retry-after: 1/i);
  assert.ok(answer.endsWith("\r\n\r\nBusy"));
  await writer.close();
  await deadline(done, 1500, "the refusal to finish");
});

test("clientOverStreams rejects ready with the HTTP status of a refused upgrade", async () => {
  const [a, b] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/", a);
  const reader = b.readable.getReader();
  await reader.read();
  await b.writable.getWriter().write(
    encoder.encode("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"),
  );
  await assert.rejects(deadline(client.ready, 5000, "ready"), {
    name: "HandshakeError",
    status: 401,
  });
  await assert.rejects(client.stream.getReader().read(), { status: 401 });
  assert.deepEqual(await client.closed, { code: 1006, reason: "", wasClean: false });
});

test("clientOverStreams rejects a wrong accept key", async () => {
  const [a, b] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/", a);
  await b.readable.getReader().read();
  await b.writable.getWriter().write(
    encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    ),
  );
  await assert.rejects(deadline(client.ready, 5000, "ready"), { code: "WS_HANDSHAKE_BAD_ACCEPT" });
});

test("clientOverStreams times out a server that never answers, and closes the transport", async () => {
  const [a, b] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/", a, { handshakeTimeout: 50 });
  const reader = b.readable.getReader();
  await reader.read(); // the request
  await assert.rejects(deadline(client.ready, 5000, "ready"), { code: "WS_HANDSHAKE_TIMEOUT" });
  assert.equal(await connectionEnded(reader), true);
});

test("clientOverStreams honours an abort signal", async () => {
  const [a] = createByteStreamPair();
  const controller = new AbortController();
  const client = clientOverStreams("ws://example.com/", a, { signal: controller.signal });
  await delay(5);
  controller.abort();
  await assert.rejects(deadline(client.ready, 5000, "ready"), {
    name: "ConnectError",
    code: "WS_CONNECT_ABORTED",
  });
});

test("clientOverStreams reports a connection closed during the handshake", async () => {
  const [a, b] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/", a);
  await b.readable.getReader().read();
  await b.writable.close();
  await assert.rejects(deadline(client.ready, 5000, "ready"), { code: "WS_CONNECT_FAILED" });
});

test("clientOverStreams throws for a bad URL, subprotocol or header, sends nothing and closes the streams", async () => {
  for (
    const [url, options, type] of [
      ["ftp://example.com/", {}, SyntaxError],
      ["not a url", {}, SyntaxError],
      ["ws://example.com/", { protocols: ["a\r\nX: 1"] }, SyntaxError],
      ["ws://example.com/", { headers: { "bad name": "1" } }, TypeError],
    ] as Array<[string, ClientOverStreamsOptions, ErrorConstructor]>
  ) {
    const [a, b] = createByteStreamPair();
    assert.throws(() => clientOverStreams(url, a, options), type, url);
    assert.equal(await connectionEnded(b.readable.getReader()), true);
  }
});

test("compression: both ends negotiate permessage-deflate and exchange compressed messages", async () => {
  const [a, b] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/", a, { compression: { threshold: 16 } });
  const { channel: server } = await serverOverStreams(b, { compression: true });
  await client.ready;
  assert.match(client.extensions, /permessage-deflate/);
  assert.equal(client.extensions, server.extensions);
  const big = "compress me ".repeat(10_000);
  const bytes = new Uint8Array(200_000).fill(42);
  const serverReader = server.stream.getReader();
  await client.sink.add(big);
  await client.sink.add("tiny");
  await client.sink.add(bytes);
  assert.deepEqual(await readMessages(serverReader, 3), [big, "tiny", bytes]);
  await server.sink.add(big);
  assert.deepEqual(await readMessages(client.stream.getReader(), 1), [big]);
  await client.sink.close(1000);
});

test("compression: a server without compression declines the offer", async () => {
  const [a, b] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/", a, { compression: true });
  const { channel: server } = await serverOverStreams(b);
  await client.ready;
  assert.equal(client.extensions, "");
  await client.sink.add("x".repeat(5000));
  assert.deepEqual(await readMessages(server.stream.getReader(), 1), ["x".repeat(5000)]);
});

test("serverOverStreams with invalid compression settings answers 500 and rejects with RangeError", async () => {
  const [a, b] = createByteStreamPair();
  const upgrade = serverOverStreams(b, { compression: { threshold: -1 } });
  upgrade.catch(() => {});
  const answer = await exchange(
    a,
    GOOD_REQUEST + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
  );
  assert.match(answer, /^HTTP\/1\.1 500 /);
  assert.match(answer, /connection: close/i);
  await assert.rejects(upgrade, RangeError);
  // A request without an offer gets the same answer: the settings are wrong, not the request.
  const [c, d] = createByteStreamPair();
  const second = serverOverStreams(d, { compression: "on" as never });
  second.catch(() => {});
  assert.match(await exchange(c, GOOD_REQUEST + "\r\n"), /^HTTP\/1\.1 500 /);
  await assert.rejects(second, TypeError);
});

test("clientOverStreams throws TypeError / RangeError for invalid compression settings and closes the streams", async () => {
  const [a, b] = createByteStreamPair();
  assert.throws(
    () => clientOverStreams("ws://example.com/", a, { compression: { maxConcurrency: 0 } }),
    RangeError,
  );
  assert.throws(
    () => clientOverStreams("ws://example.com/", Promise.resolve(a), { compression: 1 as never }),
    TypeError,
  );
  // Nothing was sent and the transport was closed.
  assert.equal(await connectionEnded(b.readable.getReader()), true);
});

test("an unobserved failed handshake never becomes an unhandled rejection", async () => {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const [a, b] = createByteStreamPair();
    clientOverStreams("ws://example.com/", a, { handshakeTimeout: 20 });
    await b.readable.getReader().read();
    await delay(100);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  assert.deepEqual(seen, []);
});
