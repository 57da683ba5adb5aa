import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { WebSocket } from "ws";
import { signKey } from "../../src/handshake/accept_key.ts";
import type { HandshakeError } from "../../src/handshake/errors.ts";
import { encodeResponseHead, Http1HeadReader } from "../../src/handshake/http1_codec.ts";
import { parseRequestLine } from "../../src/handshake/http1_start_line.ts";
import {
  checkUpgradeRequest,
  createRejection,
  createUpgradeResponseHeaders,
  rejectionResponse,
  verifyUpgradeRequest,
  type VerifyUpgradeRequestOptions,
  type VerifyUpgradeRequestResult,
} from "../../src/handshake/server_handshake.ts";
import { deadline } from "../_util/async.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** A valid upgrade request with `changes` applied (`null` deletes a header). */
function request(
  changes: Record<string, string | null> = {},
  extra: { method?: string; httpVersion?: string } = {},
) {
  const headers = new Headers({
    host: "example.com",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": KEY,
    "sec-websocket-version": "13",
  });
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return { method: extra.method ?? "GET", headers, httpVersion: extra.httpVersion };
}

function status(result: VerifyUpgradeRequestResult): number {
  return result.ok ? 101 : result.response.status;
}

async function verify(
  changes: Record<string, string | null> = {},
  options: VerifyUpgradeRequestOptions = {},
  extra: { method?: string; httpVersion?: string } = {},
) {
  return await verifyUpgradeRequest(request(changes, extra), options);
}

test("verifyUpgradeRequest accepts a valid request", async () => {
  const result = await verify();
  assert.ok(result.ok);
  assert.equal(result.key, KEY);
  assert.equal(result.protocol, "");
  assert.equal(result.offeredExtensions, "");
  assert.equal(result.origin, null);
});

test("checkUpgradeRequest answers at once without callbacks, as verifyUpgradeRequest does", async () => {
  const cases: [Record<string, string | null>, VerifyUpgradeRequestOptions][] = [
    [{}, {}],
    [{ origin: "https://a.example" }, { origins: ["https://a.example"] }],
    [{ origin: "https://b.example" }, { origins: ["https://a.example"] }],
    [{}, { requireOrigin: true }],
    [{ "sec-websocket-protocol": "v2, v1" }, { protocols: ["v1", "v2"] }],
    [{ "sec-websocket-protocol": "v2, v2" }, { protocols: ["v2"] }],
    [{ "sec-websocket-extensions": 'permessage-deflate; a="' }, {}],
    [{ connection: "keep-alive" }, {}],
  ];
  for (const [changes, options] of cases) {
    const checked = checkUpgradeRequest(request(changes), options);
    assert.ok(!(checked instanceof Promise), JSON.stringify(changes));
    assert.deepEqual(checked, await verify(changes, options), JSON.stringify(changes));
  }
});

test("checkUpgradeRequest waits for origins and protocols callbacks, and rejects what they throw", async () => {
  const origins = (origin: string | null) => Promise.resolve(origin === "https://a.example");
  const protocols = (offered: string[]) => offered.at(-1);
  const allowed = checkUpgradeRequest(
    request({ origin: "https://a.example", "sec-websocket-protocol": "v1, v2" }),
    { origins, protocols },
  );
  assert.ok(allowed instanceof Promise);
  const result = await allowed;
  assert.ok(result.ok && result.protocol === "v2" && result.origin === "https://a.example");
  const refused = await checkUpgradeRequest(request({ origin: "https://b.example" }), { origins });
  assert.equal(status(refused), 403);
  // A refused origin never reaches the protocols callback.
  let asked = 0;
  const counted = () => {
    asked++;
    return undefined;
  };
  await checkUpgradeRequest(request({ origin: "https://b.example" }), {
    origins,
    protocols: counted,
  });
  assert.equal(asked, 0);
  const failing = () => Promise.reject(new Error("policy store down"));
  await assert.rejects(
    Promise.resolve(checkUpgradeRequest(request(), { origins: failing })),
    /policy store down/,
  );
  // A list that is not one (a programming error) throws from the check itself.
  assert.throws(
    () => checkUpgradeRequest(request({ origin: "https://a.example" }), { origins: [1 as never] }),
    TypeError,
  );
});

test("verifyUpgradeRequest accepts a fetch Request", async () => {
  const fetchRequest = new Request("http://example.com/chat", { headers: request().headers });
  assert.equal(status(await verifyUpgradeRequest(fetchRequest)), 101);
});

test("verifyUpgradeRequest answers 405 with Allow: GET to other methods (H1)", async () => {
  for (const method of ["POST", "HEAD", "get", "CONNECT"]) {
    const result = await verify({}, {}, { method });
    assert.ok(!result.ok);
    assert.equal(result.response.status, 405, method);
    assert.equal(result.response.headers.get("allow"), "GET");
  }
});

test("verifyUpgradeRequest answers 505 to HTTP versions other than 1.1 (H2)", async () => {
  for (const httpVersion of ["HTTP/1.0", "HTTP/0.9", "HTTP/2.0"]) {
    assert.equal(status(await verify({}, {}, { httpVersion })), 505, httpVersion);
  }
  assert.equal(status(await verify({}, {}, { httpVersion: "HTTP/1.1" })), 101);
});

test("verifyUpgradeRequest answers 426 with Upgrade when Upgrade is missing (H3)", async () => {
  const result = await verify({ upgrade: null });
  assert.ok(!result.ok);
  assert.equal(result.response.status, 426);
  assert.equal(result.response.headers.get("upgrade"), "websocket");
});

test("verifyUpgradeRequest answers 400 to an Upgrade without websocket (H3)", async () => {
  for (const upgrade of ["h2c", "websocketx", "websocket2", "web socket", "\u00ff"]) {
    assert.equal(status(await verify({ upgrade })), 400, upgrade);
  }
});

test("verifyUpgradeRequest accepts Firefox and mixed-case tokens (H4)", async () => {
  assert.equal(status(await verify({ upgrade: "WebSocket" })), 101);
  assert.equal(status(await verify({ upgrade: "h2c, websocket" })), 101);
  assert.equal(status(await verify({ connection: "keep-alive, Upgrade" })), 101);
  assert.equal(status(await verify({ connection: "UPGRADE" })), 101);
});

test("verifyUpgradeRequest rejects a Connection without the Upgrade token (H5)", async () => {
  for (const connection of ["close", "upgradex", "keep-alive", "keep-alive upgrade", null]) {
    assert.equal(status(await verify({ connection })), 400, String(connection));
  }
});

test("verifyUpgradeRequest answers 400 to a missing or invalid key (H6)", async () => {
  const keys = [
    null,
    btoa("x".repeat(15)),
    btoa("x".repeat(17)),
    "dGhlIHNhbXBsZSBub25jZQ",
    "dGhlIHNhbXBsZSBub25jZ!==",
    `${KEY}, ${KEY}`,
  ];
  for (const key of keys) {
    assert.equal(status(await verify({ "sec-websocket-key": key })), 400, String(key));
  }
});

test("verifyUpgradeRequest rejects two key headers (H6)", async () => {
  const req = request();
  req.headers.append("sec-websocket-key", "x3JJHMbDL1EzLkh9GBhXDw==");
  assert.equal(status(await verifyUpgradeRequest(req)), 400);
});

test("verifyUpgradeRequest answers 426 with Sec-WebSocket-Version: 13 to other versions (H7)", async () => {
  for (const version of [null, "8", "12", "25", "13, 13", "013", "", "13.0"]) {
    const result = await verify({ "sec-websocket-version": version });
    assert.ok(!result.ok, String(version));
    assert.equal(result.response.status, 426);
    assert.equal(result.response.headers.get("sec-websocket-version"), "13");
  }
});

test("verifyUpgradeRequest answers 400 without Host (H8)", async () => {
  assert.equal(status(await verify({ host: null })), 400);
});

test("verifyUpgradeRequest answers 403 to a refused Origin (H9)", async () => {
  const origins = ["https://example.com"];
  const refused = [
    "https://evil.example",
    "null",
    "https://example.com.evil.com",
    "https://evilexample.com",
    "http://example.com",
    "https://example.com:8443",
    "https://example.com/",
    "https://example.com, https://example.com",
  ];
  for (const origin of refused) {
    const result = await verify({ origin }, { origins });
    assert.equal(status(result), 403, origin);
  }
  const ok = await verify({ origin: "https://example.com" }, { origins });
  assert.ok(ok.ok);
  assert.equal(ok.origin, "https://example.com");
});

test("verifyUpgradeRequest accepts a missing Origin with an allowlist, refuses it with requireOrigin", async () => {
  const origins = ["https://example.com"];
  // Non-browser clients send no Origin; browsers always do (RFC 6455 §4.1, §10.2).
  assert.equal(status(await verify({}, { origins })), 101);
  assert.equal(status(await verify({})), 101);
  const required = await verify({}, { origins, requireOrigin: true });
  assert.equal(status(required), 403);
  assert.equal(!required.ok && required.response.body, "Origin required");
  assert.equal(status(await verify({}, { requireOrigin: true })), 403);
  // requireOrigin only asks for the header; the allowlist still decides on its value.
  assert.equal(
    status(await verify({ origin: "https://example.com" }, { origins, requireOrigin: true })),
    101,
  );
  assert.equal(
    status(await verify({ origin: "https://evil.example" }, { origins, requireOrigin: true })),
    403,
  );
  assert.equal(
    status(await verify({ origin: "https://any.example" }, { requireOrigin: true })),
    101,
  );
});

test("verifyUpgradeRequest selects the first offered protocol the server supports", async () => {
  const result = await verify({ "sec-websocket-protocol": "v3, v2, v1" }, {
    protocols: ["v1", "v2"],
  });
  assert.ok(result.ok);
  assert.equal(result.protocol, "v2");
  const none = await verify({ "sec-websocket-protocol": "x" }, { protocols: ["v1"] });
  assert.ok(none.ok);
  assert.equal(none.protocol, "");
});

test("verifyUpgradeRequest passes the offer to a protocol callback", async () => {
  const result = await verify({ "sec-websocket-protocol": "a, b" }, {
    protocols: (offered) => offered.includes("b") ? "b" : undefined,
  });
  assert.ok(result.ok);
  assert.equal(result.protocol, "b");
  await assert.rejects(
    verify({ "sec-websocket-protocol": "a" }, { protocols: () => "zzz" }),
    TypeError,
  );
});

test("verifyUpgradeRequest answers 400 to a malformed protocol list (H10)", async () => {
  const values = [
    "chat, chat",
    "chat,,x",
    ",chat",
    "chat;x",
    "\u00ff\u00fe",
    "b" + " ".repeat(32000) + "x",
  ];
  for (const value of values) {
    const start = performance.now();
    const result = await verify({ "sec-websocket-protocol": value }, { protocols: ["chat"] });
    assert.equal(status(result), 400, JSON.stringify(value.slice(0, 20)));
    assert.ok(performance.now() - start < 500);
  }
});

test("verifyUpgradeRequest handles hostile extension offers (H11, A2)", async () => {
  for (const value of ["constructor", "__proto__", "toString", "permessage-deflate; __proto__=1"]) {
    const result = await verify({ "sec-websocket-extensions": value });
    assert.ok(result.ok, value);
    assert.equal(result.offeredExtensions, value);
  }
  for (
    const value of [",;constructor", 'a; b="' + "\\c".repeat(32768), "permessage-deflate; x=\u0080"]
  ) {
    const start = performance.now();
    const result = await verify({ "sec-websocket-extensions": value });
    assert.equal(status(result), 400, JSON.stringify(value.slice(0, 20)));
    assert.ok(performance.now() - start < 500);
  }
  assert.equal(Object.getOwnPropertyNames(Object.prototype).includes("1"), false);
});

test("verifyUpgradeRequest passes syntactically valid deflate offers through for the deflate layer (H12)", async () => {
  const offers = [
    "permessage-deflate; server_max_window_bits=8",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=08",
    "permessage-deflate; client_max_window_bits=7",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; foo=1",
  ];
  for (const offer of offers) {
    const result = await verify({ "sec-websocket-extensions": offer });
    assert.ok(result.ok, offer);
    assert.equal(result.offeredExtensions, offer);
  }
});

test("verifyUpgradeRequest survives non-ASCII in every header (A4)", async () => {
  for (
    const name of ["upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "origin"]
  ) {
    const result = await verify({ [name]: "\u00ff\u00fe" }, { origins: ["https://example.com"] });
    assert.ok(!result.ok, name);
    assert.ok(result.response.status >= 400 && result.response.status < 500, name);
  }
});

test("rejections carry a plain-text body and Connection: close", async () => {
  const result = await verify({ "sec-websocket-key": null });
  assert.ok(!result.ok);
  assert.equal(result.response.headers.get("connection"), "close");
  assert.equal(result.response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(result.response.headers.get("content-length"), String(result.response.body.length));
  assert.ok(result.response.body.length > 0);
});

test("createRejection and rejectionResponse build a fetch Response", async () => {
  const rejection = createRejection(403, "Origin not allowed", {
    headers: { "x-reason": "origin" },
  });
  const response = rejectionResponse(rejection);
  assert.equal(response.status, 403);
  assert.equal(response.headers.get("x-reason"), "origin");
  assert.equal(await response.text(), "Origin not allowed");
});

test("createUpgradeResponseHeaders builds the 101 headers", async () => {
  const headers = await createUpgradeResponseHeaders(KEY, {
    protocol: "chat",
    extensions: "permessage-deflate; server_no_context_takeover",
  });
  assert.equal(headers.get("upgrade"), "websocket");
  assert.equal(headers.get("connection"), "Upgrade");
  assert.equal(headers.get("sec-websocket-accept"), await signKey(KEY));
  assert.equal(headers.get("sec-websocket-protocol"), "chat");
  assert.equal(
    headers.get("sec-websocket-extensions"),
    "permessage-deflate; server_no_context_takeover",
  );
  const bare = await createUpgradeResponseHeaders(KEY);
  assert.equal(bare.has("sec-websocket-protocol"), false);
  assert.equal(bare.has("sec-websocket-extensions"), false);
});

test("createUpgradeResponseHeaders refuses values that would break the response", async () => {
  await assert.rejects(createUpgradeResponseHeaders(KEY, { protocol: "a\r\nX: 1" }), TypeError);
  await assert.rejects(createUpgradeResponseHeaders(KEY, { extensions: ",;x" }), TypeError);
});

// Exception contract: hostile header values give a verdict, never an exception.
test("verifyUpgradeRequest never throws on seeded random header values", async () => {
  const random = new SeededRandom(2024);
  const names = [
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "origin",
  ];
  const alphabet = [
    "a",
    "1",
    " ",
    ",",
    ";",
    "=",
    '"',
    "\\",
    "/",
    ":",
    "\u00ff",
    "\u0080",
    "\t",
    "websocket",
    "Upgrade",
    "13",
    KEY,
  ];
  const seen = new Set<number>();
  for (let i = 0; i < 3000; i++) {
    const changes: Record<string, string | null> = {};
    for (let j = random.int(3); j >= 0; j--) {
      let value = "";
      for (let k = random.int(6); k > 0; k--) value += random.pick(alphabet);
      changes[random.pick(names)] = random.int(8) === 0 ? null : value;
    }
    const result = await verify(changes, {
      protocols: ["a", "chat"],
      origins: random.int(2) ? ["https://example.com", /https:\/\/a+\.example/] : undefined,
    });
    seen.add(status(result));
  }
  assert.ok(seen.has(400) && seen.has(426) && seen.has(101), [...seen].join(","));
});

// Interop with an independent implementation: the ws npm package as client,
// our handshake behind a raw node:net server.
async function startRawServer(options: VerifyUpgradeRequestOptions): Promise<Server> {
  const server = createServer((socket) => {
    const reader = new Http1HeadReader();
    socket.on("error", () => socket.destroy());
    socket.on("data", async (data: Uint8Array) => {
      let head;
      try {
        head = reader.push(new Uint8Array(data));
      } catch (error) {
        socket.end(
          encodeResponseHead((error as HandshakeError).status ?? 400, { connection: "close" }),
        );
        return;
      }
      if (!head) return;
      const { method, version } = parseRequestLine(head.head.startLine);
      const verdict = await verifyUpgradeRequest(
        { method, headers: head.head.headers, httpVersion: version },
        options,
      );
      if (!verdict.ok) {
        const { status, headers, body } = verdict.response;
        socket.write(encodeResponseHead(status, headers));
        socket.end(body);
        return;
      }
      const headers = await createUpgradeResponseHeaders(verdict.key, {
        protocol: verdict.protocol,
      });
      socket.write(encodeResponseHead(101, headers));
      // An unmasked text frame "ok" from the server proves the upgrade took.
      socket.write(new Uint8Array([0x81, 0x02, 0x6f, 0x6b]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

type WsOutcome = { open: true; protocol: string; message: string } | {
  open: false;
  status: number;
};

function runWsClient(port: number, protocols: string[], origin: string): Promise<WsOutcome> {
  return deadline(
    new Promise<WsOutcome>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, protocols, { origin });
      ws.on("message", (data: Uint8Array) => {
        resolve({ open: true, protocol: ws.protocol, message: new TextDecoder().decode(data) });
        ws.terminate();
      });
      ws.on("unexpected-response", (_req: unknown, res: { statusCode: number }) => {
        resolve({ open: false, status: res.statusCode });
        ws.terminate();
      });
      ws.on("error", (error: Error) => reject(error));
    }),
    5000,
    "ws client",
  );
}

test("a ws client completes a handshake with verifyUpgradeRequest and createUpgradeResponseHeaders", async () => {
  const server = await startRawServer({ protocols: ["chat"], origins: ["http://allowed.example"] });
  try {
    const { port } = server.address() as AddressInfo;
    const outcome = await runWsClient(port, ["superchat", "chat"], "http://allowed.example");
    assert.deepEqual(outcome, { open: true, protocol: "chat", message: "ok" });
  } finally {
    await deadline(new Promise((resolve) => server.close(resolve)), 5000, "server close");
  }
});

test("a ws client with a refused Origin gets 403 from verifyUpgradeRequest", async () => {
  const server = await startRawServer({ origins: ["http://allowed.example"] });
  try {
    const { port } = server.address() as AddressInfo;
    assert.deepEqual(await runWsClient(port, [], "http://evil.example"), {
      open: false,
      status: 403,
    });
  } finally {
    await deadline(new Promise((resolve) => server.close(resolve)), 5000, "server close");
  }
});
