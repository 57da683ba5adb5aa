import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { connect } from "../../mod.ts";
import { internalsOf } from "../../src/channel/channel_internals.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline, delay } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { serveHere } from "../_util/serve_here.ts";

/** Upgrades over a raw socket and then never reads or answers anything; collects what the server sends. */
function silentPeer(port: number) {
  const socket = netConnect({ host: "127.0.0.1", port });
  const received: number[] = [];
  socket.on("data", (chunk: Uint8Array) => received.push(...chunk));
  socket.on("error", () => {});
  socket.write(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  return { received, ended, destroy: () => socket.destroy() };
}

test(`serve (${currentRuntime}) closes a connection that does not answer pings with 1001 after idleTimeout`, async () => {
  const server = await serveHere({ idleTimeout: 0.2, closeTimeout: 300, onChannel: () => {} });
  const peer = silentPeer(server.port);
  try {
    await deadline(peer.ended, 10_000, "the server to drop the silent peer");
    const bytes = Uint8Array.from(peer.received);
    const text = new TextDecoder("latin1").decode(bytes);
    const frames = bytes.subarray(text.indexOf("\r\n\r\n") + 4);
    assert.equal(frames[0], 0x89, "a ping frame first");
    const close = frames.indexOf(0x88);
    assert.ok(close > 0, "then a close frame");
    assert.equal((frames[close + 2] << 8) | frames[close + 3], 1001);
  } finally {
    peer.destroy();
    await server.close();
  }
});

test(`serve (${currentRuntime}) keeps a connection that answers pings open past idleTimeout`, async () => {
  let serverSide: WebSocketChannel | undefined;
  const server = await serveHere({
    idleTimeout: 0.1,
    onChannel: (channel) => void (serverSide = channel),
  });
  try {
    const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
    await deadline(client.ready, 5000, "ready");
    client.stream.pipeTo(new WritableStream()).catch(() => {}); // reading lets the engine answer pings
    await delay(500);
    assert.equal(client.closeCode, undefined);
    assert.equal(serverSide?.closeCode, undefined);
    await client.sink.close(1000);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) close() ends open connections with 1001 and stops listening`, async () => {
  const server = await serveHere({ onChannel: () => {} });
  const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
  await deadline(client.ready, 5000, "ready");
  client.stream.pipeTo(new WritableStream()).catch(() => {});
  await deadline(server.close(), 10_000, "server close");
  const info = await deadline(client.closed, 5000, "client closed");
  assert.equal(info.code, 1001);
  assert.equal(info.wasClean, true);
  const again = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
  await assert.rejects(deadline(again.ready, 5000, "refused"), { code: "WS_CONNECT_REFUSED" });
});

test(`serve (${currentRuntime}) answers a refused origin with 403, visible to the client as status`, async () => {
  const server = await serveHere({ origins: ["https://good.example"], onChannel: () => {} });
  try {
    const bad = connect(`ws://127.0.0.1:${server.port}/`, {
      transport: "engine",
      headers: { origin: "https://evil.example" },
    });
    await assert.rejects(deadline(bad.ready, 5000, "refusal"), {
      name: "HandshakeError",
      status: 403,
    });
    const good = connect(`ws://127.0.0.1:${server.port}/`, {
      transport: "engine",
      headers: { origin: "https://good.example" },
    });
    await deadline(good.ready, 5000, "accepted");
    await good.sink.close(1000);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) closes with 1011 when onChannel throws, and reports it to onError`, async () => {
  const bug = new Error("application bug");
  const reported: unknown[] = [];
  const server = await serveHere({
    onChannel: () => {
      throw bug;
    },
    onError: (error) => void reported.push(error),
  });
  try {
    const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
    client.stream.pipeTo(new WritableStream()).catch(() => {});
    assert.equal((await deadline(client.closed, 5000, "closed")).code, 1011);
    assert.deepEqual(reported, [bug]);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) calls onChannel as a method of its options, with the request only when it declares one`, async () => {
  const calls: Array<{ marker: unknown; args: number; url?: string }> = [];
  const reported: Array<[unknown, string]> = [];
  const bug = new Error("async bug");
  const handlers = [
    // length 1: the channel alone; its rejection still reports the request to onError.
    async function (this: { marker?: string }, channel: WebSocketChannel) {
      calls.push({ marker: this.marker, args: arguments.length });
      await channel.send("one");
      throw bug;
    },
    // length 2: the request as well.
    function (this: { marker?: string }, channel: WebSocketChannel, request: Request) {
      calls.push({ marker: this.marker, args: arguments.length, url: request.url });
      channel.send("two").catch(() => {});
    },
  ];
  for (const onChannel of handlers) {
    const server = await serveHere(
      {
        marker: "M",
        onChannel,
        onError: (error: unknown, request: Request) => void reported.push([error, request.url]),
      } as Parameters<typeof serveHere>[0],
    );
    try {
      const client = connect(`ws://127.0.0.1:${server.port}/room?x=1`, { transport: "engine" });
      const reader = client.stream.getReader();
      assert.ok((await deadline(reader.read(), 5000, "the greeting")).value);
      reader.releaseLock();
      await client.sink.close(1000).catch(() => {});
    } finally {
      await server.close();
    }
  }
  const url = (port: string) => port.replace(/:\d+\//, "/");
  assert.deepEqual(calls.map((c) => [c.marker, c.args, c.url && url(c.url)]), [
    ["M", 1, undefined],
    ["M", 3, "http://127.0.0.1/room?x=1"],
  ]);
  assert.deepEqual(reported.map(([error, at]) => [error, url(at)]), [[
    bug,
    "http://127.0.0.1/room?x=1",
  ]]);
});

test(`serve (${currentRuntime}) stops when its signal aborts`, async () => {
  const controller = new AbortController();
  const server = await serveHere({ signal: controller.signal, onChannel: () => {} });
  controller.abort();
  await deadline(server.close(), 5000, "close after abort");
  const client = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
  await assert.rejects(deadline(client.ready, 5000, "refused"), { code: "WS_CONNECT_REFUSED" });
});

/** Upgrades over a raw socket; `upgraded` resolves with the bytes after the response head. */
function rawClient(port: number) {
  const socket = netConnect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  socket.on("error", () => {});
  let received = new Uint8Array(0);
  let headEnd = -1;
  let onData = () => {};
  socket.on("data", (chunk: Uint8Array) => {
    const next = new Uint8Array(received.length + chunk.length);
    next.set(received);
    next.set(chunk, received.length);
    received = next;
    if (headEnd < 0) {
      const at = new TextDecoder("latin1").decode(received).indexOf("\r\n\r\n");
      if (at >= 0) headEnd = at + 4;
    }
    onData();
  });
  const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.write(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  return {
    socket,
    ended,
    /** The bytes after the handshake response, once there are at least `count`. */
    async frames(count = 0): Promise<Uint8Array> {
      while (headEnd < 0 || received.length - headEnd < count) {
        await new Promise<void>((resolve) => onData = resolve);
      }
      return received.subarray(headEnd);
    },
  };
}

/** Splits unmasked server frames (payloads under 126 bytes) into [opcode, payload text]. */
function parseFrames(bytes: Uint8Array): [number, string][] {
  const frames: [number, string][] = [];
  for (let i = 0; i + 2 <= bytes.length;) {
    const length = bytes[i + 1] & 0x7f;
    assert.ok(length < 126, "short frames only");
    const payload = bytes.subarray(i + 2, i + 2 + length);
    const opcode = bytes[i] & 0x0f;
    frames.push([
      opcode,
      opcode === 0x8 ? String((payload[0] << 8) | payload[1]) : new TextDecoder().decode(payload),
    ]);
    i += 2 + length;
  }
  return frames;
}

const maskedFrame = (b0: number, payload: number[]) =>
  new Uint8Array([b0, 0x80 | payload.length, 0, 0, 0, 0, ...payload]);

test(`serve (${currentRuntime}) echoes a message sent together with a close before replying to the close`, async () => {
  const server = await serveHere({
    onChannel: (channel) => void channel.stream.pipeTo(channel.sink).catch(() => {}),
  });
  const client = rawClient(server.port);
  try {
    await deadline(client.frames(), 5000, "handshake");
    // One write, so the server reads the message and the close together.
    client.socket.write(
      new Uint8Array([
        ...maskedFrame(0x81, [...new TextEncoder().encode("hello")]),
        ...maskedFrame(0x88, [0x03, 0xe8]),
      ]),
    );
    await deadline(client.ended, 5000, "the server to close TCP");
    assert.deepEqual(parseFrames(await client.frames()), [[0x1, "hello"], [0x8, "1000"]]);
  } finally {
    client.socket.destroy();
    await server.close();
  }
});

test(`serve (${currentRuntime}) keeps its queued pongs bounded under a ping flood from a peer that does not read`, async () => {
  let serverSide: WebSocketChannel | undefined;
  const server = await serveHere({ onChannel: (channel) => void (serverSide = channel) });
  const client = rawClient(server.port);
  let maxBacklog = 0;
  const sample = () => {
    const internals = serverSide && internalsOf(serverSide);
    if (internals) maxBacklog = Math.max(maxBacklog, internals.backlog());
  };
  const sampler = setInterval(sample, 5);
  try {
    await deadline(client.frames(), 5000, "handshake");
    client.socket.pause(); // reads nothing from now on
    // 200,000 pings of 125 bytes (26 MB) in writes of 1,000.
    const ping = maskedFrame(0x89, new Array(125).fill(0x70));
    const batch = new Uint8Array(ping.length * 1000);
    for (let i = 0; i < 1000; i++) batch.set(ping, i * ping.length);
    for (let i = 0; i < 200; i++) {
      if (!client.socket.write(batch)) {
        await new Promise<void>((resolve) => client.socket.once("drain", () => resolve()));
      }
    }
    sample();
    // Ask for one more pong, then read everything: that pong must come.
    client.socket.write(maskedFrame(0x89, [...new TextEncoder().encode("last")]));
    client.socket.resume();
    const lastPong = new Uint8Array([0x8a, 4, ...new TextEncoder().encode("last")]);
    const found = (async () => {
      for (let have = 0;; have += 1) {
        const bytes = await client.frames(have);
        if (indexOf(bytes, lastPong) >= 0) return;
        have = bytes.length;
      }
    })();
    await deadline(found, 20_000, "the pong for the last ping");
    sample();
    assert.ok(maxBacklog < 256 * 1024, `server backlog reached ${maxBacklog} bytes`);
  } finally {
    clearInterval(sampler);
    client.socket.destroy();
    await server.close();
  }
});

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
