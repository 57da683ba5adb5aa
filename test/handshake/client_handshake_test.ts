import assert from "node:assert/strict";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { WebSocketServer } from "ws";
import { isValidKey, signKey } from "../../src/handshake/accept_key.ts";
import {
  createUpgradeRequest,
  verifyUpgradeResponse,
} from "../../src/handshake/client_handshake.ts";
import { HandshakeError } from "../../src/handshake/errors.ts";
import {
  encodeRequestHead,
  Http1HeadReader,
  type Http1HeadResult,
} from "../../src/handshake/http1_codec.ts";
import { parseStatusLine } from "../../src/handshake/http1_start_line.ts";
import { deadline, waitFor } from "../_util/async.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

function response(changes: Record<string, string | null> = {}, status = 101) {
  const headers = new Headers({
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-accept": ACCEPT,
  });
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return { status, headers };
}

async function rejectsWith(promise: Promise<unknown>, code: string, status?: number) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    return true;
  });
}

test("createUpgradeRequest builds the RFC 6455 §4.1 headers", () => {
  const { request, key } = createUpgradeRequest("ws://example.com:8080/chat?x=1#frag", {
    protocols: ["chat", "superchat"],
    extensions: "permessage-deflate; client_max_window_bits",
    headers: { Authorization: "Bearer t", origin: "https://example.com" },
  });
  assert.ok(isValidKey(key));
  assert.equal(request.url.href, "ws://example.com:8080/chat?x=1");
  const h = request.headers;
  assert.equal(h.get("host"), "example.com:8080");
  assert.equal(h.get("upgrade"), "websocket");
  assert.equal(h.get("connection"), "Upgrade");
  assert.equal(h.get("sec-websocket-key"), key);
  assert.equal(h.get("sec-websocket-version"), "13");
  assert.equal(h.get("sec-websocket-protocol"), "chat, superchat");
  assert.equal(h.get("sec-websocket-extensions"), "permessage-deflate; client_max_window_bits");
  assert.equal(h.get("authorization"), "Bearer t");
  assert.equal(h.get("origin"), "https://example.com");
});

test("createUpgradeRequest maps http(s) to ws(s), omits default ports and uses a fresh key", () => {
  const a = createUpgradeRequest("https://example.com/");
  assert.equal(a.request.url.protocol, "wss:");
  assert.equal(a.request.headers.get("host"), "example.com");
  assert.equal(a.request.headers.has("sec-websocket-protocol"), false);
  assert.equal(a.request.headers.has("sec-websocket-extensions"), false);
  assert.notEqual(createUpgradeRequest("ws://a/").key, createUpgradeRequest("ws://a/").key);
  assert.equal(createUpgradeRequest("ws://[::1]:9000/").request.headers.get("host"), "[::1]:9000");
  assert.equal(createUpgradeRequest(new URL("ws://a/"), { key: KEY }).key, KEY);
});

test("createUpgradeRequest lets Host be overridden", () => {
  const { request } = createUpgradeRequest("ws://127.0.0.1:1/", {
    headers: [["Host", "virtual.example"]],
  });
  assert.equal(request.headers.get("host"), "virtual.example");
});

test("createUpgradeRequest rejects bad URLs synchronously", () => {
  assert.throws(() => createUpgradeRequest("not a url"), SyntaxError);
  assert.throws(() => createUpgradeRequest("ftp://example.com/"), SyntaxError);
  assert.throws(() => createUpgradeRequest("ws://a/", { key: "short" }), SyntaxError);
  assert.throws(
    () => createUpgradeRequest("ws://a/", { extensions: ",;constructor" }),
    SyntaxError,
  );
});

// A7: nothing invalid may reach the wire; errors are synchronous.
test("createUpgradeRequest rejects injected protocols and header values (A7)", () => {
  assert.throws(
    () => createUpgradeRequest("ws://a/", { protocols: ["a\r\nX-Evil: 1"] }),
    SyntaxError,
  );
  assert.throws(
    () => createUpgradeRequest("ws://a/", { protocols: ["chat", "chat"] }),
    SyntaxError,
  );
  assert.throws(() => createUpgradeRequest("ws://a/", { protocols: [""] }), SyntaxError);
  assert.throws(
    () => createUpgradeRequest("ws://a/", { headers: { "x-a": "1\nX-Evil: 1" } }),
    TypeError,
  );
  assert.throws(() => createUpgradeRequest("ws://a/", { headers: { "x-a": "1\r\n" } }), TypeError);
  assert.throws(
    () => createUpgradeRequest("ws://a/", { headers: { "x-a": "1\u0000" } }),
    TypeError,
  );
  assert.throws(() => createUpgradeRequest("ws://a/", { headers: [["x-a", "\u0100"]] }), TypeError);
  assert.throws(() => createUpgradeRequest("ws://a/", { headers: { "x a": "1" } }), TypeError);
  assert.throws(() => createUpgradeRequest("ws://a/", { headers: { "x\r\ny": "1" } }), TypeError);
  assert.throws(
    () => createUpgradeRequest("ws://a/", { extensions: "a; b=1\r\nX: 1" }),
    SyntaxError,
  );
});

test("createUpgradeRequest refuses to override handshake headers", () => {
  for (
    const name of [
      "Upgrade",
      "connection",
      "Sec-WebSocket-Key",
      "sec-websocket-version",
      "Sec-WebSocket-Protocol",
    ]
  ) {
    assert.throws(
      () => createUpgradeRequest("ws://a/", { headers: { [name]: "x" } }),
      TypeError,
      name,
    );
  }
});

test("verifyUpgradeResponse accepts a valid 101", async () => {
  const result = await verifyUpgradeResponse(response(), { key: KEY });
  assert.deepEqual(result, { protocol: "", extensions: "" });
  assert.equal(await signKey(KEY), ACCEPT);
});

test("verifyUpgradeResponse accepts mixed-case tokens", async () => {
  const ok = response({ upgrade: "WebSocket", connection: "keep-alive, UPGRADE" });
  assert.deepEqual(await verifyUpgradeResponse(ok, { key: KEY }), { protocol: "", extensions: "" });
});

test("verifyUpgradeResponse reports the status of a non-101 answer (C1)", async () => {
  for (const status of [200, 302, 401, 403, 500]) {
    await rejectsWith(
      verifyUpgradeResponse(response({}, status), { key: KEY }),
      "WS_HANDSHAKE_BAD_STATUS",
      status,
    );
  }
});

test("verifyUpgradeResponse rejects a missing or wrong accept value (C2)", async () => {
  const other = "x3JJHMbDL1EzLkh9GBhXDw==";
  for (
    const accept of [
      null,
      "",
      "wrong",
      await signKey(other),
      `${ACCEPT}, ${ACCEPT}`,
      ACCEPT.toLowerCase(),
    ]
  ) {
    await rejectsWith(
      verifyUpgradeResponse(response({ "sec-websocket-accept": accept }), { key: KEY }),
      "WS_HANDSHAKE_BAD_ACCEPT",
    );
  }
});

test("verifyUpgradeResponse rejects a missing or wrong Upgrade (C3)", async () => {
  for (const upgrade of [null, "h2c", "websocket2", "websocket, h2c", "\u00ff"]) {
    await rejectsWith(
      verifyUpgradeResponse(response({ upgrade }), { key: KEY }),
      "WS_HANDSHAKE_BAD_UPGRADE",
    );
  }
});

test("verifyUpgradeResponse fails cleanly when a 2000-header response hides Upgrade (C3, A3)", async () => {
  let text = "HTTP/1.1 101 Switching Protocols\r\n";
  for (let i = 0; i < 2100; i++) text += `x-${i}: ${i}\r\n`;
  text += `upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${ACCEPT}\r\n\r\n`;
  const reader = new Http1HeadReader();
  assert.throws(() => reader.push(new TextEncoder().encode(text)), (error: unknown) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.status, 431);
    return true;
  });
  // The same response through a permissive reader still fails on verification, not with a crash.
  const big = new Http1HeadReader({ maxHeadSize: 1 << 20, maxHeaderCount: 5000 });
  const result = big.push(new TextEncoder().encode(text.replace("upgrade: websocket\r\n", "")));
  assert.ok(result);
  assert.equal(parseStatusLine(result.head.startLine).status, 101);
  await rejectsWith(
    verifyUpgradeResponse({ status: 101, headers: result.head.headers }, { key: KEY }),
    "WS_HANDSHAKE_BAD_UPGRADE",
  );
});

test("verifyUpgradeResponse rejects a Connection without the Upgrade token (C4)", async () => {
  for (const connection of [null, "close", "upgradex", "keep-alive"]) {
    await rejectsWith(
      verifyUpgradeResponse(response({ connection }), { key: KEY }),
      "WS_HANDSHAKE_BAD_CONNECTION",
    );
  }
});

test("verifyUpgradeResponse checks extensions against the offer (C5)", async () => {
  const offer = "permessage-deflate; client_max_window_bits";
  const ok = await verifyUpgradeResponse(
    response({ "sec-websocket-extensions": "permessage-deflate; server_max_window_bits=10" }),
    { key: KEY, extensions: offer },
  );
  assert.equal(ok.extensions, "permessage-deflate; server_max_window_bits=10");
  await rejectsWith(
    verifyUpgradeResponse(response({ "sec-websocket-extensions": "x-unknown" }), {
      key: KEY,
      extensions: offer,
    }),
    "WS_HANDSHAKE_UNEXPECTED_EXTENSION",
  );
  await rejectsWith(
    verifyUpgradeResponse(response({ "sec-websocket-extensions": "permessage-deflate" }), {
      key: KEY,
    }),
    "WS_HANDSHAKE_UNEXPECTED_EXTENSION",
  );
  await rejectsWith(
    verifyUpgradeResponse(
      response({ "sec-websocket-extensions": "permessage-deflate, permessage-deflate" }),
      { key: KEY, extensions: offer },
    ),
    "WS_HANDSHAKE_UNEXPECTED_EXTENSION",
  );
  for (const bad of [",;constructor", "permessage-deflate;", 'permessage-deflate; a="']) {
    await rejectsWith(
      verifyUpgradeResponse(response({ "sec-websocket-extensions": bad }), {
        key: KEY,
        extensions: offer,
      }),
      "WS_HANDSHAKE_BAD_EXTENSIONS",
    );
  }
});

test("verifyUpgradeResponse leaves parameter values to the extension owner (C5)", async () => {
  // Parameter semantics (window bits 8–15, duplicates) are RFC 7692 rules the
  // deflate layer enforces; the handshake only guarantees the grammar and the name.
  const result = await verifyUpgradeResponse(
    response({ "sec-websocket-extensions": "permessage-deflate; server_max_window_bits=16" }),
    { key: KEY, extensions: "permessage-deflate" },
  );
  assert.equal(result.extensions, "permessage-deflate; server_max_window_bits=16");
});

test("verifyUpgradeResponse checks the subprotocol against the offer (C6)", async () => {
  const ok = await verifyUpgradeResponse(response({ "sec-websocket-protocol": "chat" }), {
    key: KEY,
    protocols: ["superchat", "chat"],
  });
  assert.equal(ok.protocol, "chat");
  const cases: [string, string[] | undefined][] = [
    ["other", ["chat"]],
    ["chat", undefined],
    ["chat", []],
    ["chat, superchat", ["chat", "superchat"]],
    ["Chat", ["chat"]],
    ["", ["chat"]],
  ];
  for (const [value, protocols] of cases) {
    await rejectsWith(
      verifyUpgradeResponse(response({ "sec-websocket-protocol": value }), { key: KEY, protocols }),
      "WS_HANDSHAKE_UNEXPECTED_PROTOCOL",
    );
  }
});

test("verifyUpgradeResponse rejects two Sec-WebSocket-Protocol headers (C6)", async () => {
  const r = response({ "sec-websocket-protocol": "chat" });
  r.headers.append("sec-websocket-protocol", "chat");
  await rejectsWith(
    verifyUpgradeResponse(r, { key: KEY, protocols: ["chat"] }),
    "WS_HANDSHAKE_UNEXPECTED_PROTOCOL",
  );
});

test("verifyUpgradeResponse fails gracefully on non-ASCII protocol and extension values (C7, A4)", async () => {
  await rejectsWith(
    verifyUpgradeResponse(response({ "sec-websocket-protocol": "\u00ff\u00fe" }), {
      key: KEY,
      protocols: ["chat"],
    }),
    "WS_HANDSHAKE_UNEXPECTED_PROTOCOL",
  );
  await rejectsWith(
    verifyUpgradeResponse(
      response({ "sec-websocket-extensions": "permessage-deflate; x=\u0080" }),
      { key: KEY, extensions: "permessage-deflate" },
    ),
    "WS_HANDSHAKE_BAD_EXTENSIONS",
  );
});

test("a 101 followed by a frame in the same chunk leaves the frame in rest (C8)", async () => {
  const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`;
  const bytes = new Uint8Array([...new TextEncoder().encode(head), 0x81, 0x02, 0x68, 0x69]);
  const result = new Http1HeadReader().push(bytes);
  assert.ok(result);
  assert.deepEqual([...result.rest], [0x81, 0x02, 0x68, 0x69]);
  const { status } = parseStatusLine(result.head.startLine);
  assert.deepEqual(
    await verifyUpgradeResponse({ status, headers: result.head.headers }, { key: KEY }),
    {
      protocol: "",
      extensions: "",
    },
  );
});

test("createUpgradeRequest and verifyUpgradeResponse agree end to end", async () => {
  const { request, key } = createUpgradeRequest("ws://a/", { protocols: ["v1"] });
  const headers = new Headers({
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-accept": await signKey(request.headers.get("sec-websocket-key")!),
    "sec-websocket-protocol": "v1",
  });
  assert.equal(
    (await verifyUpgradeResponse({ status: 101, headers }, { key, protocols: ["v1"] })).protocol,
    "v1",
  );
});

// Interop with an independent implementation: the ws npm package as server.
async function handshakeWithWsServer(
  server: WsServer,
  options: { protocols?: string[]; extensions?: string },
) {
  const { port } = server.address() as AddressInfo;
  const { request, key } = createUpgradeRequest(`ws://127.0.0.1:${port}/chat`, options);
  const socket = connect(port, "127.0.0.1");
  const reader = new Http1HeadReader();
  /** Bytes after the head, including those in later chunks. */
  const after: number[] = [];
  let head: Http1HeadResult | undefined;
  const result = await deadline(
    new Promise<Http1HeadResult>((resolve, reject) => {
      socket.on("error", reject);
      socket.on("data", (data: Uint8Array) => {
        if (head) return void after.push(...data);
        try {
          head = reader.push(new Uint8Array(data));
          if (head) {
            after.push(...head.rest);
            resolve(head);
          }
        } catch (error) {
          reject(error);
        }
      });
      socket.write(encodeRequestHead(request.url.pathname, request.headers));
    }),
    5000,
    "ws server response",
  ).catch((error) => {
    socket.destroy();
    throw error;
  });
  const { status } = parseStatusLine(result.head.startLine);
  return {
    socket,
    after,
    verify: verifyUpgradeResponse({ status, headers: result.head.headers }, { key, ...options }),
  };
}

// deno-lint-ignore no-explicit-any
type WsServer = any; // ws ships no type declarations and @types/ws is not installed

function startWsServer(options: Record<string, unknown>): Promise<WsServer> {
  return new Promise((resolve) => {
    const server: WsServer = new WebSocketServer(
      { ...options, host: "127.0.0.1", port: 0 },
      () => resolve(server),
    );
  });
}

async function stopWsServer(server: WsServer): Promise<void> {
  for (const client of server.clients) client.terminate();
  await deadline(new Promise((resolve) => server.close(resolve)), 5000, "ws server close");
}

test("createUpgradeRequest and verifyUpgradeResponse complete a handshake with a ws server", async () => {
  const server = await startWsServer({
    handleProtocols: (offered: Set<string>) => offered.has("chat") ? "chat" : false,
    perMessageDeflate: true,
  });
  server.on(
    "connection",
    (ws: { send(data: string, options: object): void }) => ws.send("hi", { compress: false }),
  );
  const { socket, after, verify } = await handshakeWithWsServer(server, {
    protocols: ["superchat", "chat"],
    extensions: "permessage-deflate; client_max_window_bits",
  });
  try {
    const agreed = await verify;
    assert.equal(agreed.protocol, "chat");
    assert.match(agreed.extensions, /^permessage-deflate/);
    // The server's first frame arrives with the head or just after it (C8).
    await waitFor(() => after.length >= 4, { timeout: 5000, what: "first frame" });
    assert.deepEqual(after.slice(0, 4), [0x81, 0x02, 0x68, 0x69]);
  } finally {
    socket.destroy();
    await stopWsServer(server);
  }
});

test("verifyUpgradeResponse reports the status of a ws server's refusal", async () => {
  const server = await startWsServer({ verifyClient: () => false });
  const { socket, verify } = await handshakeWithWsServer(server, {});
  try {
    await rejectsWith(verify, "WS_HANDSHAKE_BAD_STATUS", 401);
  } finally {
    socket.destroy();
    await stopWsServer(server);
  }
});
