/**
 * Interop with an independent implementation: the `ws` package as server
 * (our engine client over a node:net socket) and as client (our engine
 * server), on loopback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect, type Socket } from "node:net";
import { WebSocket as WsClient, WebSocketServer } from "ws";
import { zlibCodec } from "../../src/adapters/zlib_codec.ts";
import { clientOverStreams } from "../../src/channel/client_over_streams.ts";
import type { DeflateCodec } from "../../src/deflate/deflate_codec.ts";
import { deadline } from "../_util/async.ts";
import { startEngineServer } from "../_util/engine_server.ts";
import { connectTcp } from "../_util/tcp.ts";
import { readMessages } from "./channel_contract.ts";

const WAIT = 20_000;
const SIZES = [0, 1, 125, 126, 65535, 65536, 16 * 1024 * 1024];

// deno-lint-ignore no-explicit-any
type WsSocket = any;

function payload(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

function text(size: number): string {
  return "abcdefghij".repeat(Math.ceil(size / 10)).slice(0, size);
}

/** A ws server on 127.0.0.1:0; `onConnection` gets each ws socket. */
async function wsServer(onConnection: (ws: WsSocket) => void, options: object = {}) {
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    maxPayload: 64 * 1024 * 1024,
    ...options,
  });
  server.on("connection", onConnection);
  await new Promise<void>((resolve) => server.on("listening", () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

async function ourClient(url: string, port: number, options: { protocols?: string[] } = {}) {
  const streams = await connectTcp(port);
  const channel = clientOverStreams(url, streams, options);
  await deadline(channel.ready, WAIT, "handshake with ws");
  return { channel, socket: streams.socket };
}

const echo = (ws: WsSocket) =>
  ws.on("message", (data: Uint8Array, isBinary: boolean) => ws.send(data, { binary: isBinary }));

test("ws interop: our client echoes text and binary of every edge size through a ws server", async () => {
  const server = await wsServer(echo);
  try {
    const { channel } = await ourClient(server.url, server.port);
    const reader = channel.stream.getReader();
    for (const size of SIZES) {
      const bytes = payload(size);
      await channel.sink.add(bytes);
      const [got] = await readMessages(reader, 1, WAIT);
      assert.ok(got instanceof Uint8Array, `binary ${size}`);
      assert.equal(got.byteLength, size);
      assert.deepEqual(got, bytes, `binary ${size}`);
      if (size > 65536) continue;
      const message = text(size);
      await channel.sink.add(message);
      assert.deepEqual(await readMessages(reader, 1, WAIT), [message], `text ${size}`);
    }
    await channel.sink.close(1000);
    assert.equal((await deadline(channel.closed, WAIT, "closed")).wasClean, true);
  } finally {
    await server.close();
  }
});

test("ws interop: a ws client echoes text and binary of every edge size through our server", async () => {
  const server = await startEngineServer();
  try {
    const ws = new WsClient(server.url, { maxPayload: 64 * 1024 * 1024 });
    const { channel } = await server.accept();
    channel.stream.pipeTo(channel.sink).catch(() => {});
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const received: { data: Uint8Array; isBinary: boolean }[] = [];
    let notify: (() => void) | undefined;
    ws.on("message", (data: Uint8Array, isBinary: boolean) => {
      received.push({ data, isBinary });
      notify?.();
    });
    const next = async () => {
      while (received.length === 0) {
        await deadline(new Promise<void>((r) => notify = r), WAIT, "echo");
      }
      return received.shift()!;
    };
    for (const size of SIZES) {
      const bytes = payload(size);
      ws.send(bytes, { binary: true });
      const got = await next();
      assert.equal(got.isBinary, true);
      assert.equal(got.data.byteLength, size);
      assert.ok(Buffer.from(bytes).equals(got.data as Buffer), `binary ${size}`);
      if (size > 65536) continue;
      ws.send(text(size));
      const echoed = await next();
      assert.equal(echoed.isBinary, false);
      assert.equal(echoed.data.toString(), text(size));
    }
    const closed = new Promise<[number, string]>((resolve) =>
      ws.once("close", (code: number, reason: Uint8Array) => resolve([code, reason.toString()]))
    );
    ws.close(4003, "ws client done");
    // The engine echoes the code only (RFC 6455 §5.5.1 "typically echos the status code").
    assert.equal((await deadline(closed, WAIT, "ws close"))[0], 4003);
    assert.deepEqual(await deadline(channel.closed, WAIT, "our closed"), {
      code: 4003,
      reason: "ws client done",
      wasClean: true,
    });
  } finally {
    await server.close();
  }
});

test("ws interop: fragmented messages from ws arrive as one message", async () => {
  const server = await wsServer((ws: WsSocket) => {
    ws.send("Hel", { fin: false });
    ws.send("lo, ", { fin: false });
    ws.send("world", { fin: true });
    ws.send(payload(70_000).subarray(0, 30_000), { binary: true, fin: false });
    ws.send(payload(70_000).subarray(30_000), { binary: true, fin: true });
  });
  try {
    const { channel } = await ourClient(server.url, server.port);
    const got = await readMessages(channel.stream.getReader(), 2, WAIT);
    assert.equal(got[0], "Hello, world");
    assert.deepEqual(got[1], payload(70_000));
    await channel.sink.close(1000);
  } finally {
    await server.close();
  }
});

test("ws interop: pings both ways are answered", async () => {
  let serverSide!: WsSocket;
  let resolveConnected!: () => void;
  const connected = new Promise<void>((resolve) => resolveConnected = resolve);
  const server = await wsServer((ws: WsSocket) => {
    serverSide = ws;
    resolveConnected();
  });
  try {
    const { channel } = await ourClient(server.url, server.port);
    await deadline(connected, WAIT, "ws connection");
    const rtt = await deadline(channel.ping("are you there"), WAIT, "our ping");
    assert.ok(rtt >= 0);
    const pong = new Promise<string>((resolve) =>
      serverSide.once("pong", (data: Uint8Array) => resolve(data.toString()))
    );
    serverSide.ping("and you?");
    assert.equal(await deadline(pong, WAIT, "pong from our client"), "and you?");
    await channel.sink.close(1000);
  } finally {
    await server.close();
  }
});

test("ws interop: close codes and reasons travel both ways", async () => {
  const sockets: WsSocket[] = [];
  const server = await wsServer((ws: WsSocket) => sockets.push(ws));
  try {
    // Ours → ws.
    const first = await ourClient(server.url, server.port);
    await deadline(
      (async () => {
        while (sockets.length < 1) await new Promise((r) => setTimeout(r, 5));
      })(),
      WAIT,
      "ws connection",
    );
    const seen = new Promise<[number, string]>((resolve) =>
      sockets[0].once(
        "close",
        (code: number, reason: Uint8Array) => resolve([code, reason.toString()]),
      )
    );
    await first.channel.sink.close(4001, "from our client");
    assert.deepEqual(await deadline(seen, WAIT, "ws close event"), [4001, "from our client"]);
    assert.deepEqual(await first.channel.closed, {
      code: 4001,
      reason: "from our client",
      wasClean: true,
    });
    // ws → ours.
    const second = await ourClient(server.url, server.port);
    await deadline(
      (async () => {
        while (sockets.length < 2) await new Promise((r) => setTimeout(r, 5));
      })(),
      WAIT,
      "ws connection",
    );
    sockets[1].close(4002, "from ws server");
    const reader = second.channel.stream.getReader();
    assert.deepEqual(await readMessages(reader, 1, WAIT), [], "stream ends cleanly");
    assert.deepEqual(await deadline(second.channel.closed, WAIT, "closed"), {
      code: 4002,
      reason: "from ws server",
      wasClean: true,
    });
    assert.equal(second.channel.closeCode, 4002);
  } finally {
    await server.close();
  }
});

test("ws interop: our server's 1001 and an empty close reach a ws client", async () => {
  const server = await startEngineServer();
  try {
    for (const [code, expected] of [[1001, 1001], [undefined, 1005]] as const) {
      const ws = new WsClient(server.url);
      const { channel } = await server.accept();
      await new Promise((resolve) => ws.once("open", resolve));
      const seen = new Promise<number>((resolve) => ws.once("close", (c: number) => resolve(c)));
      if (code === undefined) await channel.sink.close();
      else await channel.closeWithCode(code, "restart");
      assert.equal(await deadline(seen, WAIT, "ws close"), expected);
      assert.equal((await channel.closed).wasClean, true);
    }
  } finally {
    await server.close();
  }
});

test("ws interop: subprotocol chosen by a ws server is reported by our client", async () => {
  const server = await wsServer(() => {}, {
    handleProtocols: (protocols: Set<string>) => protocols.has("b") ? "b" : false,
  });
  try {
    const { channel } = await ourClient(server.url, server.port, { protocols: ["a", "b"] });
    assert.equal(channel.protocol, "b");
    await channel.sink.close(1000);
  } finally {
    await server.close();
  }
});

test("ws interop: a ws client offering a subprotocol gets ours", async () => {
  const server = await startEngineServer({ protocols: ["chat", "superchat"] });
  try {
    const ws = new WsClient(server.url, ["superchat", "chat"]);
    const { channel } = await server.accept();
    await new Promise((resolve) => ws.once("open", resolve));
    assert.equal(ws.protocol, channel.protocol);
    assert.ok(channel.protocol === "chat" || channel.protocol === "superchat");
    ws.terminate();
    assert.equal((await deadline(channel.closed, WAIT, "closed")).code, 1006);
  } finally {
    await server.close();
  }
});

/** Bad frames from a raw socket: the exact close code comes back, then FIN, and the server lives on. */
async function rawExchange(port: number, frame: number[]): Promise<{ code: number; fin: boolean }> {
  const socket = tcpConnect({ host: "127.0.0.1", port });
  const chunks: Uint8Array[] = [];
  let fin = false;
  const ended = new Promise<void>((resolve) => {
    socket.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    socket.on("end", () => {
      fin = true;
      resolve();
    });
    socket.on("close", () => resolve());
  });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  socket.write(new Uint8Array(frame));
  await deadline(ended, WAIT, "the server to close the connection");
  socket.destroy();
  const all = Buffer.concat(chunks);
  const headEnd = all.indexOf("\r\n\r\n") + 4;
  const closeFrame = all.subarray(headEnd);
  assert.equal(closeFrame[0], 0x88, "a close frame follows the 101");
  return { code: closeFrame.readUInt16BE(2), fin };
}

test("bad input end-to-end: raw frames get the exact close code, then FIN, and the server survives", async () => {
  const server = await startEngineServer();
  const m = [0, 0, 0, 0];
  const cases: [string, number[], number][] = [
    ["reserved opcode 3", [0x83, 0x80, ...m], 1002],
    ["unmasked client frame", [0x81, 0x01, 0x61], 1002],
    ["RSV1 without an extension", [0xc1, 0x80, ...m], 1002],
    ["fragmented ping", [0x09, 0x80, ...m], 1002],
    ["invalid UTF-8 text", [0x81, 0x82, ...m, 0xff, 0xfe], 1007],
    ["close code 1005 on the wire", [0x88, 0x82, ...m, 0x03, 0xed], 1002],
    ["continuation without a start", [0x80, 0x80, ...m], 1002],
    ["control frame of 126 bytes", [0x89, 0xfe, 0x00, 0x7e, ...m, ...new Array(126).fill(0)], 1002],
  ];
  try {
    for (const [name, frame, expected] of cases) {
      const accepted = server.accept();
      const { code, fin } = await rawExchange(server.port, frame);
      assert.equal(code, expected, name);
      assert.ok(fin, `${name}: the server half-closes (FIN) after its close frame`);
      const { channel } = await accepted;
      assert.equal((await deadline(channel.closed, WAIT, "closed")).code, expected, name);
    }
    // Still serving after all that.
    const ws = new WsClient(server.url);
    const { channel } = await server.accept();
    channel.stream.pipeTo(channel.sink).catch(() => {});
    await new Promise((resolve) => ws.once("open", resolve));
    const reply = new Promise<string>((resolve) =>
      ws.once("message", (d: Uint8Array) => resolve(d.toString()))
    );
    ws.send("alive?");
    assert.equal(await deadline(reply, WAIT, "echo"), "alive?");
    ws.close();
  } finally {
    await server.close();
  }
});

test("bad input end-to-end: our client fails a masked frame from the server with 1002", async () => {
  let raw!: Socket;
  const { createServer } = await import("node:net");
  const tcp = createServer((socket) => {
    raw = socket;
    let buffered = "";
    socket.on("data", async (chunk: Uint8Array) => {
      buffered += Buffer.from(chunk).toString("latin1");
      if (!buffered.includes("\r\n\r\n")) return;
      const key = /sec-websocket-key: (.*)\r\n/i.exec(buffered)![1];
      const { signKey } = await import("../../src/handshake/accept_key.ts");
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${await signKey(key)}\r\n\r\n`,
      );
      socket.write(new Uint8Array([0x81, 0x81, 1, 2, 3, 4, 0x61 ^ 1])); // masked by a server: wrong
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  const port = (tcp.address() as { port: number }).port;
  try {
    const { channel } = await ourClient(`ws://127.0.0.1:${port}/`, port);
    const read = channel.stream.getReader().read();
    await assert.rejects(deadline(read, WAIT, "stream error"), {
      name: "ProtocolError",
      closeCode: 1002,
    });
    assert.equal((await deadline(channel.closed, WAIT, "closed")).code, 1002);
    assert.equal(channel.closeCode, 1002);
  } finally {
    raw?.destroy();
    await new Promise((resolve) => tcp.close(resolve));
  }
});

/** Echoes `count` JSON-like texts of growing size from a ws client with perMessageDeflate through our server. */
async function wsDeflateEcho(
  clientNoContextTakeover: boolean | undefined,
  count: number,
  codec?: DeflateCodec,
) {
  const server = await startEngineServer({
    compression: { threshold: 64, clientNoContextTakeover, codec },
  });
  try {
    // ws defaults: offers client_max_window_bits and keeps its context unless told otherwise.
    const ws = new WsClient(server.url, { perMessageDeflate: { threshold: 0 } });
    const { channel } = await server.accept();
    channel.stream.pipeTo(channel.sink).catch(() => {});
    await deadline(
      new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      }),
      WAIT,
      "ws open",
    );
    const extensions = String(ws.extensions);
    const received: string[] = [];
    let notify: (() => void) | undefined;
    ws.on("message", (data: Uint8Array) => {
      received.push(data.toString());
      notify?.();
    });
    for (let i = 0; i < count; i++) {
      // Repeats across messages, so a client keeping its context refers back into earlier ones.
      const message = JSON.stringify({ id: i, user: "alice", items: text(200 + i * 97) });
      ws.send(message);
      while (received.length === 0) {
        await deadline(new Promise<void>((r) => notify = r), WAIT, "compressed echo");
      }
      assert.equal(received.shift(), message, `message ${i}`);
    }
    ws.close(1000);
    await deadline(channel.closed, WAIT, "our closed");
    return { extensions, ourExtensions: channel.extensions };
  } finally {
    await server.close();
  }
}

test("ws interop: a ws client with perMessageDeflate is told to reset its context by default", async () => {
  const { ourExtensions } = await wsDeflateEcho(undefined, 20);
  assert.equal(
    ourExtensions,
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  );
});

test("ws interop: with clientNoContextTakeover false a ws client keeps its context and every message inflates", async () => {
  const { ourExtensions } = await wsDeflateEcho(false, 40);
  assert.equal(ourExtensions, "permessage-deflate; server_no_context_takeover");
});

test("ws interop: with the zlib codec a ws client and our server both keep their context", async () => {
  const { extensions, ourExtensions } = await wsDeflateEcho(undefined, 40, zlibCodec);
  // Nothing asks either side to reset: ws compresses every message against the previous
  // ones, and so do we (every echo above was checked byte for byte by the ws client).
  assert.equal(ourExtensions, "permessage-deflate");
  assert.equal(extensions, "permessage-deflate");
});

test("ws interop: our client with the zlib codec against a ws server, context kept both ways", async () => {
  const server = await wsServer(
    (ws: WsSocket) =>
      ws.on("message", (data: Uint8Array, binary: boolean) => ws.send(data, { binary })),
    { perMessageDeflate: { threshold: 0 } },
  );
  try {
    const streams = await connectTcp(server.port);
    const channel = clientOverStreams(server.url, streams, {
      compression: { threshold: 0, codec: zlibCodec },
    });
    await deadline(channel.ready, WAIT, "handshake with ws");
    assert.equal(channel.extensions, "permessage-deflate");
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      const message = JSON.stringify({ id: i % 4, user: "alice", items: text(300 + (i % 4) * 50) });
      sent.push(message);
      await channel.sink.add(message);
    }
    const received = await readMessages(channel.stream.getReader(), sent.length);
    assert.deepEqual(received, sent);
    // Repeated messages cost a few bytes each once both windows hold them.
    assert.ok(
      streams.socket.bytesWritten < sent.join("").length / 5,
      `${streams.socket.bytesWritten} bytes written`,
    );
    await channel.sink.close(1000);
    await deadline(channel.closed, WAIT, "closed");
  } finally {
    await server.close();
  }
});

test("ws interop: connect() with compression uses node:zlib, offering context takeover", async () => {
  const server = await wsServer(
    (ws: WsSocket) =>
      ws.on("message", (data: Uint8Array, binary: boolean) => ws.send(data, { binary })),
    { perMessageDeflate: { threshold: 0 } },
  );
  const { connect } = await import("../../mod.ts");
  try {
    const channel = connect(server.url, { transport: "engine", compression: { threshold: 0 } });
    await deadline(channel.ready, WAIT, "connect() handshake with ws");
    // Without a codec the offer carries client_no_context_takeover and ws echoes it back.
    assert.equal(channel.extensions, "permessage-deflate");
    const message = JSON.stringify({ user: "alice", items: text(2000) });
    for (let i = 0; i < 5; i++) await channel.sink.add(message);
    const received = await readMessages(channel.stream.getReader(), 5);
    assert.deepEqual(received, Array(5).fill(message));
    await channel.sink.close(1000);
    await deadline(channel.closed, WAIT, "closed");
  } finally {
    await server.close();
  }
});
