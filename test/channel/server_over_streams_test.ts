import { test } from "node:test";
import assert from "node:assert/strict";
import { refuseOverStreams, serverOverStreams } from "../../src/channel/server_over_streams.ts";
import { clientOverStreams } from "../../src/channel/client_over_streams.ts";
import { createRejection } from "../../src/handshake/server_handshake.ts";
import { socketTransport } from "../../src/adapters/node_socket_transport.ts";
import { connectedSocketPair } from "../_util/tcp.ts";
import { createByteStreamPair } from "../../src/testing/byte_stream_pair.ts";
import { deadline, delay } from "../_util/async.ts";
import { readMessages } from "./channel_contract.ts";
import { encoder, exchange, GOOD_REQUEST, readToEnd } from "./fixtures/raw_exchange.ts";

test("serverOverStreams answers 101 and its first frame in the same read as the client sees them", async () => {
  const [a, b] = createByteStreamPair();
  const client = clientOverStreams("ws://example.com/", a);
  const { channel: server } = await serverOverStreams(b);
  server.sink.add("right after the 101");
  await client.ready;
  assert.deepEqual(await readMessages(client.stream.getReader(), 1), ["right after the 101"]);
});

test("serverOverStreams gives channel, request and data as own properties, the request built when read", async () => {
  const [a, b] = createByteStreamPair();
  clientOverStreams("ws://example.com/chat?x=1", a);
  const upgrade = await deadline(serverOverStreams(b), 5000, "upgrade");
  const { channel, ...rest } = upgrade;
  assert.equal(channel, upgrade.channel);
  assert.deepEqual(Object.keys(rest), ["request", "data"]);
  assert.equal(rest.request.url, "http://example.com/chat?x=1");
  assert.equal(rest.request, upgrade.request, "built once");
  assert.equal(rest.data, undefined);
  assert.equal({ ...upgrade }.request.headers.get("host"), "example.com");
  await channel.closeWithCode(1000);
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

test("serverOverStreams reads one options object for every connection it serves, and a changed copy anew", async () => {
  const options = { maxMessageSize: 4, compression: { threshold: -1 } };
  // Invalid settings answer 500 on every connection that uses them, not only the first.
  for (let i = 0; i < 2; i++) {
    const [a, b] = createByteStreamPair();
    const upgrade = serverOverStreams(b, options);
    upgrade.catch(() => {});
    assert.match(await exchange(a, GOOD_REQUEST + "\r\n"), /^HTTP\/1\.1 500 /);
    await assert.rejects(upgrade, RangeError);
  }
  // A corrected copy is read anew, and its limit holds on each of its connections.
  const fixed = { ...options, compression: false as const };
  for (let i = 0; i < 2; i++) {
    const [a, b] = createByteStreamPair();
    const upgrade = serverOverStreams(b, fixed);
    const client = clientOverStreams("ws://example.com/", a);
    const { channel } = await deadline(upgrade, 5000, "upgrade");
    await client.ready;
    void client.sink.add("1234").catch(() => {});
    assert.deepEqual(await readMessages(channel.stream.getReader(), 1), ["1234"]);
    void client.sink.add("12345").catch(() => {});
    assert.equal((await deadline(channel.closed, 5000, "closed")).code, 1009);
  }
});

test("serverOverStreams applies its readableHighWaterMark: an application that reads nothing stops the reads", async () => {
  const [a, b] = createByteStreamPair({ bufferSize: 4 << 20 });
  let serverRead = 0;
  const counted = b.readable.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        serverRead += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  );
  const accepted = serverOverStreams({ readable: counted, writable: b.writable }, {
    readableHighWaterMark: 16 * 1024,
    // The close waits behind the unread messages: give up on it soon.
    closeTimeout: 200,
  });
  const client = clientOverStreams("ws://example.com/", a, { closeTimeout: 200 });
  const { channel: server } = await deadline(accepted, 5000, "upgrade");
  await deadline(client.ready, 5000, "ready");
  // 500 KiB sent; the server's application never reads.
  for (let i = 0; i < 50; i++) client.send(new Uint8Array(10 * 1024)).catch(() => {});
  await delay(300);
  // The 16 KiB mark, a message past it and the pipe's own chunk: far below what was sent.
  assert.ok(serverRead < 100 * 1024, `read ${serverRead} bytes`);
  await client.sink.close(1000).catch(() => {});
  await server.sink.close(1000).catch(() => {});
});
