import process from "node:process";
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  clientOverStreams,
  type ClientOverStreamsOptions,
} from "../../src/channel/client_over_streams.ts";
import { serverOverStreams } from "../../src/channel/server_over_streams.ts";
import { createByteStreamPair } from "../../src/testing/byte_stream_pair.ts";
import { deadline, delay } from "../_util/async.ts";
import { readMessages } from "./channel_contract.ts";
import { connectionEnded, encoder } from "./fixtures/raw_exchange.ts";

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
