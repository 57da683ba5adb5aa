import assert from "node:assert/strict";
import { test } from "node:test";
import { HandshakeError } from "../../src/handshake/errors.ts";
import {
  checkHeadLimits,
  encodeRequestHead,
  encodeResponseHead,
  HTTP1_HEAD_LIMITS,
  Http1HeadReader,
  type Http1HeadResult,
} from "../../src/handshake/http1_codec.ts";
import { parseRequestLine, parseStatusLine } from "../../src/handshake/http1_start_line.ts";
import { verifyUpgradeRequest } from "../../src/handshake/server_handshake.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

const encoder = new TextEncoder();
const REQUEST = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function feed(
  reader: Http1HeadReader,
  bytes: Uint8Array,
  size: number,
): Http1HeadResult | undefined {
  for (let i = 0; i < bytes.length; i += size) {
    const result = reader.push(bytes.subarray(i, i + size));
    if (result) return result;
  }
  return undefined;
}

function assertStatus(run: () => unknown, status: number, code?: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.status, status);
    if (code) assert.equal(error.code, code);
    return true;
  });
}

test("Http1HeadReader parses a request head in one chunk", async () => {
  const result = new Http1HeadReader().push(encoder.encode(REQUEST));
  assert.ok(result);
  assert.equal(result.head.startLine, "GET /chat HTTP/1.1");
  assert.equal(result.head.fields.length, 5);
  assert.equal(result.head.headers.get("sec-websocket-version"), "13");
  assert.equal(result.rest.length, 0);
  const { method, version } = parseRequestLine(result.head.startLine);
  const verdict = await verifyUpgradeRequest({
    method,
    headers: result.head.headers,
    httpVersion: version,
  });
  assert.ok(verdict.ok);
});

test("Http1HeadReader gives the same head for every chunk size, down to 1 byte", () => {
  const bytes = new Uint8Array([...encoder.encode(REQUEST), 1, 2, 3]);
  for (const size of [1, 2, 3, 7, 16, 64, bytes.length]) {
    const result = feed(new Http1HeadReader(), bytes, size);
    assert.ok(result, `size ${size}`);
    assert.equal(result.head.fields.length, 5);
    assert.equal(result.head.headers.get("host"), "example.com");
    // The rest is whatever followed the blank line within the final chunk.
    const consumed = bytes.length - 3;
    const chunkEnd = Math.min(bytes.length, Math.ceil(consumed / size) * size);
    assert.equal(result.rest.length, chunkEnd - consumed, `size ${size}`);
  }
});

test("Http1HeadReader splits many heads in one chunk through rest", () => {
  let bytes: Uint8Array = encoder.encode(REQUEST.repeat(5) + "tail");
  for (let i = 0; i < 5; i++) {
    const result = new Http1HeadReader().push(bytes);
    assert.ok(result);
    assert.equal(result.head.startLine, "GET /chat HTTP/1.1");
    bytes = result.rest;
  }
  assert.equal(new TextDecoder().decode(bytes), "tail");
});

test("Http1HeadReader keeps frame bytes after the head (H15)", () => {
  const frame = [0x81, 0x85, 0, 0, 0, 0, 0x68, 0x65, 0x6c, 0x6c, 0x6f];
  const result = new Http1HeadReader().push(new Uint8Array([...encoder.encode(REQUEST), ...frame]));
  assert.ok(result);
  assert.deepEqual([...result.rest], frame);
});

test("Http1HeadReader joins repeated fields with a comma and keeps them in fields", () => {
  const text =
    "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nConnection: keep-alive\r\nConnection: Upgrade\r\n\r\n";
  const result = new Http1HeadReader().push(encoder.encode(text));
  assert.ok(result);
  assert.equal(result.head.headers.get("x-a"), "1, 2");
  assert.equal(result.head.headers.get("connection"), "keep-alive, Upgrade");
  assert.deepEqual(result.head.fields.filter(([n]) => n.toLowerCase() === "x-a"), [["X-A", "1"], [
    "x-a",
    "2",
  ]]);
});

test("Http1HeadReader trims optional whitespace and allows empty values", () => {
  const result = new Http1HeadReader().push(
    encoder.encode("GET / HTTP/1.1\r\nA: \t v \t\r\nB:\r\n\r\n"),
  );
  assert.ok(result);
  assert.deepEqual(result.head.fields, [["A", "v"], ["B", ""]]);
});

test("Http1HeadReader ignores empty lines before the start line", () => {
  const result = new Http1HeadReader().push(
    encoder.encode("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
  );
  assert.equal(result?.head.startLine, "GET / HTTP/1.1");
});

test("Http1HeadReader keeps non-ASCII bytes as Latin-1 so token checks reject them (A4)", async () => {
  const text = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Protocol: \xff\xfe\r\n\r\n";
  const result = new Http1HeadReader().push(latin1Bytes(text));
  assert.ok(result);
  assert.equal(result.head.headers.get("sec-websocket-protocol"), "\u00ff\u00fe");
  const verdict = await verifyUpgradeRequest({ method: "GET", headers: result.head.headers });
  assert.ok(!verdict.ok);
  assert.equal(verdict.response.status, 400);
  const ext = new Http1HeadReader().push(
    latin1Bytes(
      text.replace(
        "Sec-WebSocket-Protocol: \xff\xfe",
        "Sec-WebSocket-Extensions: permessage-deflate; x=\x80",
      ),
    ),
  );
  const extVerdict = await verifyUpgradeRequest({ method: "GET", headers: ext!.head.headers });
  assert.ok(!extVerdict.ok);
  assert.equal(extVerdict.response.status, 400);
});

test("Http1HeadReader answers 431 to 2000+ headers before the upgrade headers (H13, A3)", () => {
  let text = "GET / HTTP/1.1\r\n";
  for (let i = 0; i < 2001; i++) text += `x-h${i}: ${i}\r\n`;
  text += REQUEST.slice(REQUEST.indexOf("\r\n") + 2);
  assertStatus(() => new Http1HeadReader().push(encoder.encode(text)), 431);
  assertStatus(
    () => new Http1HeadReader({ maxHeadSize: 1 << 20 }).push(encoder.encode(text)),
    431,
    "WS_HANDSHAKE_TOO_MANY_HEADERS",
  );
});

test("Http1HeadReader accepts 128 headers and refuses 129 (H14)", () => {
  const head = (n: number) => {
    let text = "GET / HTTP/1.1\r\n";
    for (let i = 0; i < n; i++) text += `h${i}: v\r\n`;
    return encoder.encode(text + "\r\n");
  };
  assert.equal(new Http1HeadReader().push(head(128))?.head.fields.length, 128);
  assertStatus(() => new Http1HeadReader().push(head(129)), 431, "WS_HANDSHAKE_TOO_MANY_HEADERS");
  assert.equal(
    new Http1HeadReader({ maxHeaderCount: 200 }).push(head(129))?.head.fields.length,
    129,
  );
});

test("Http1HeadReader answers 431 to a 64 KiB header line (H14)", () => {
  const text = "GET / HTTP/1.1\r\nX-Big: " + "a".repeat(65536) + "\r\n\r\n";
  assertStatus(
    () => new Http1HeadReader().push(encoder.encode(text)),
    431,
    "WS_HANDSHAKE_HEAD_TOO_LARGE",
  );
  assertStatus(
    () => new Http1HeadReader({ maxHeadSize: 1 << 20 }).push(encoder.encode(text)),
    431,
    "WS_HANDSHAKE_HEAD_TOO_LARGE",
  );
});

test("Http1HeadReader honours the head size limit exactly", () => {
  const base = "GET / HTTP/1.1\r\nX: \r\n\r\n";
  const exact = "GET / HTTP/1.1\r\nX: " + "a".repeat(100 - base.length) + "\r\n\r\n";
  assert.equal(exact.length, 100);
  assert.ok(new Http1HeadReader({ maxHeadSize: 100 }).push(encoder.encode(exact)));
  assertStatus(() => new Http1HeadReader({ maxHeadSize: 99 }).push(encoder.encode(exact)), 431);
});

// H17 / A5 (tungstenite CVE-2023-43669): scanning resumes where it stopped.
test("Http1HeadReader rejects a 1 MiB header fed in small chunks at the cap", () => {
  const bytes = encoder.encode("GET / HTTP/1.1\r\nX-Big: " + "a".repeat(1 << 20) + "\r\n\r\n");
  for (const size of [1, 7, 512]) {
    const reader = new Http1HeadReader();
    const start = performance.now();
    let fed = 0;
    assertStatus(() => {
      for (; fed < bytes.length; fed += size) reader.push(bytes.subarray(fed, fed + size));
    }, 431);
    const elapsed = performance.now() - start;
    // Rejected as soon as the cap is crossed, not after reading everything.
    assert.ok(fed <= 16384 + size, `stopped after ${fed} bytes`);
    assert.ok(reader.bytesRead <= 16384 + size);
    assert.ok(elapsed < 1000, `chunk ${size}: ${elapsed.toFixed(1)} ms`);
  }
});

test("Http1HeadReader reads a head of many short headers fed byte by byte in linear time", () => {
  let text = "GET / HTTP/1.1\r\n";
  for (let i = 0; i < 120; i++) text += `h${i}: ${"v".repeat(100)}\r\n`;
  const bytes = encoder.encode(text + "\r\n");
  const start = performance.now();
  const result = feed(new Http1HeadReader(), bytes, 1);
  assert.equal(result?.head.fields.length, 120);
  assert.ok(performance.now() - start < 1000);
});

test("Http1HeadReader answers 400 to malformed heads", () => {
  const bad = [
    "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", // obs-fold
    "GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n",
    "GET / HTTP/1.1\nHost: a\r\n\r\n", // bare LF
    "GET / HTTP/1.1\r\nHost: a\n\n",
    "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", // bare CR
    "GET / HTTP/1.1\r\nHost : a\r\n\r\n", // space before colon
    "GET / HTTP/1.1\r\n: a\r\n\r\n",
    "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
    "GET / HTTP/1.1\r\nX\u00e9: a\r\n\r\n",
    "GET / HTTP/1.1\r\nX: a\u0000b\r\n\r\n",
    "GET / HTTP/1.1\r\nX: a\u007fb\r\n\r\n",
    "GET / HTTP/1.1\r\nX: a\u0001\r\n\r\n",
  ];
  for (const text of bad) {
    assertStatus(
      () => new Http1HeadReader().push(latin1Bytes(text)),
      400,
      "WS_HANDSHAKE_MALFORMED_HEAD",
    );
  }
});

test("Http1HeadReader repeats its error and refuses input after completion", () => {
  const failing = new Http1HeadReader({ maxHeadSize: 10 });
  assertStatus(() => failing.push(encoder.encode("GET / HTTP/1.1\r\n")), 431);
  assertStatus(() => failing.push(encoder.encode("\r\n")), 431);
  const done = new Http1HeadReader();
  assert.ok(done.push(encoder.encode(REQUEST)));
  assert.throws(() => done.push(new Uint8Array(1)), TypeError);
});

test("parseRequestLine reads method, target and version", () => {
  assert.deepEqual(parseRequestLine("GET /a?b=c HTTP/1.1"), {
    method: "GET",
    target: "/a?b=c",
    version: "HTTP/1.1",
  });
  assert.deepEqual(parseRequestLine("POST * HTTP/1.0"), {
    method: "POST",
    target: "*",
    version: "HTTP/1.0",
  });
  const bad = [
    "GET /",
    "GET  / HTTP/1.1",
    "GET / HTTP/1.1 ",
    "GET / HTTP/11",
    "GET / http/1.1",
    "G@T / HTTP/1.1",
    "GET /\u00ff HTTP/1.1",
    "",
  ];
  for (const line of bad) {
    assertStatus(() => parseRequestLine(line), 400, "WS_HANDSHAKE_MALFORMED_HEAD");
  }
});

test("parseStatusLine reads version, status and reason", () => {
  assert.deepEqual(parseStatusLine("HTTP/1.1 101 Switching Protocols"), {
    version: "HTTP/1.1",
    status: 101,
    statusText: "Switching Protocols",
  });
  assert.equal(parseStatusLine("HTTP/1.1 401").statusText, "");
  assert.equal(parseStatusLine("HTTP/1.1 200 ").statusText, "");
  assert.equal(parseStatusLine("HTTP/1.1 200 Caf\u00e9").statusText, "Caf\u00e9");
  for (
    const line of [
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1  101",
      "HTTPS/1.1 101 x",
      "HTTP/1.1 1x1 x",
      "HTTP/1.1 101 a\u0000",
    ]
  ) {
    assertStatus(() => parseStatusLine(line), 400, "WS_HANDSHAKE_MALFORMED_HEAD");
  }
});

test("encodeRequestHead writes a head the reader parses back", () => {
  const bytes = encodeRequestHead("/chat", [["Host", "example.com"], ["Upgrade", "websocket"]]);
  assert.equal(
    new TextDecoder().decode(bytes),
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n",
  );
  const result = new Http1HeadReader().push(bytes);
  assert.deepEqual(result?.head.fields, [["Host", "example.com"], ["Upgrade", "websocket"]]);
  const latin = encodeRequestHead("/", { "x-name": "Caf\u00e9" }, { method: "OPTIONS" });
  assert.equal(latin[latin.length - 5], 0xe9);
  assert.equal(new Http1HeadReader().push(latin)?.head.headers.get("x-name"), "Caf\u00e9");
});

test("encodeResponseHead writes standard reasons and custom ones", () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(
    text(encodeResponseHead(101, new Headers({ upgrade: "websocket" }))),
    "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
  );
  assert.equal(
    text(encodeResponseHead(431, {})),
    "HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n",
  );
  assert.equal(text(encodeResponseHead(299, {})), "HTTP/1.1 299 \r\n\r\n");
  assert.equal(
    text(encodeResponseHead(200, {}, { statusText: "Fine" })),
    "HTTP/1.1 200 Fine\r\n\r\n",
  );
});

// A7: nothing that could split the head is ever encoded.
test("encodeRequestHead and encodeResponseHead refuse injection", () => {
  assert.throws(() => encodeRequestHead("/", { "x-a": "1\r\nX-Evil: 1" }), TypeError);
  assert.throws(() => encodeRequestHead("/", [["x-a", "1\n"]]), TypeError);
  assert.throws(() => encodeRequestHead("/", [["x-a", "\u0000"]]), TypeError);
  assert.throws(() => encodeRequestHead("/", [["x-a", "\u0100"]]), TypeError);
  assert.throws(() => encodeRequestHead("/", [["x a", "1"]]), TypeError);
  assert.throws(() => encodeRequestHead("/ HTTP/1.1\r\nX-Evil: 1\r\n", {}), TypeError);
  assert.throws(() => encodeRequestHead("", {}), TypeError);
  assert.throws(() => encodeRequestHead("/", {}, { method: "GET /" }), TypeError);
  assert.throws(() => encodeResponseHead(101, {}, { statusText: "OK\r\nX: 1" }), TypeError);
  assert.throws(() => encodeResponseHead(99, {}), TypeError);
  assert.throws(() => encodeResponseHead(1000, {}), TypeError);
  assert.throws(() => encodeResponseHead(101.5, {}), TypeError);
});

test("Http1HeadReader gives the same head for seeded random chunkings", () => {
  const random = new SeededRandom(7);
  const bytes = encoder.encode(REQUEST + "rest");
  const expected = new Http1HeadReader().push(bytes)!;
  for (let round = 0; round < 200; round++) {
    const reader = new Http1HeadReader();
    let result: Http1HeadResult | undefined;
    let pos = 0;
    const tail: number[] = [];
    while (pos < bytes.length) {
      const size = 1 + random.int(40);
      const chunk = bytes.subarray(pos, pos + size);
      pos += chunk.length;
      if (result) tail.push(...chunk);
      else result = reader.push(chunk);
    }
    assert.ok(result);
    assert.deepEqual(result.head.fields, expected.head.fields);
    assert.equal(new TextDecoder().decode(new Uint8Array([...result.rest, ...tail])), "rest");
  }
});

// Exception contract: peer bytes end in a head, "need more", or a HandshakeError.
test("Http1HeadReader only ever throws HandshakeError on seeded random input", async () => {
  const random = new SeededRandom(11);
  const pieces = [
    "GET / HTTP/1.1",
    "\r\n",
    "\n",
    "\r",
    ": ",
    "Host",
    "Upgrade",
    "websocket",
    " ",
    "\t",
    "\u00ff",
    "\u0000",
    "x",
  ];
  for (let i = 0; i < 3000; i++) {
    let text = "";
    const parts = random.int(30);
    for (let j = 0; j < parts; j++) text += random.pick(pieces);
    if (random.int(2)) text += "\r\n\r\n";
    const reader = new Http1HeadReader({
      maxHeadSize: 64 + random.int(200),
      maxHeaderCount: 1 + random.int(8),
    });
    try {
      const result = feed(reader, latin1Bytes(text), 1 + random.int(8));
      if (result) {
        const verdict = await verifyUpgradeRequest({ method: "GET", headers: result.head.headers });
        assert.equal(typeof verdict.ok, "boolean");
      }
    } catch (error) {
      assert.ok(error instanceof HandshakeError, `${String(error)} for ${JSON.stringify(text)}`);
      assert.ok(error.status === 400 || error.status === 431);
    }
  }
});

test("checkHeadLimits applies the head reader's limits to a head parsed elsewhere", () => {
  const line = "GET /chat HTTP/1.1";
  const fields = (n: number) => Array.from({ length: n }, (_, i) => [`X-H${i}`, "v"]).flat();
  assert.equal(checkHeadLimits(line, fields(128)), undefined);
  const tooMany = checkHeadLimits(line, fields(129));
  assert.ok(tooMany instanceof HandshakeError);
  assert.equal(tooMany.status, 431);
  assert.equal(tooMany.code, "WS_HANDSHAKE_TOO_MANY_HEADERS");
  assert.equal(checkHeadLimits(line, fields(1000))?.status, 431);
  const longLine = checkHeadLimits(line, ["X-Long", "a".repeat(8192)]);
  assert.equal(longLine?.code, "WS_HANDSHAKE_HEAD_TOO_LARGE");
  assert.equal(checkHeadLimits(line, ["X-Long", "a".repeat(8000)]), undefined);
  const big = Array.from({ length: 3 }, (_, i) => [`X-Big${i}`, "a".repeat(6000)]).flat();
  assert.equal(checkHeadLimits(line, big)?.code, "WS_HANDSHAKE_HEAD_TOO_LARGE");
  assert.equal(checkHeadLimits(line, fields(200), { maxHeaderCount: 500 }), undefined);
});

test("checkHeadLimits and Http1HeadReader agree on the size of a head at the limit", () => {
  const line = "GET / HTTP/1.1";
  // Head bytes: line + CRLF, "X-Pad: <value>" + CRLF, final CRLF.
  const fixed = line.length + 2 + "X-Pad: ".length + 2 + 2;
  for (const extra of [0, 1]) {
    const value = "a".repeat(HTTP1_HEAD_LIMITS.maxHeadSize - fixed + extra);
    const text = `${line}\r\nX-Pad: ${value}\r\n\r\n`;
    const options = { maxLineLength: 1 << 20 };
    let readerStatus = 101;
    try {
      new Http1HeadReader(options).push(encoder.encode(text));
    } catch (error) {
      readerStatus = (error as HandshakeError).status ?? 0;
    }
    const checked = checkHeadLimits(line, ["X-Pad", value], options);
    assert.equal(checked?.status ?? 101, readerStatus, `${extra} byte(s) over`);
    assert.equal(readerStatus, extra === 0 ? 101 : 431);
  }
});
