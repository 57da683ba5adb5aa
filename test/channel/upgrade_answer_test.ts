import { test } from "node:test";
import assert from "node:assert/strict";
import {
  answerUpgrade,
  decideUpgrade,
  type UpgradeAnswer,
  type UpgradeRequestHead,
} from "../../src/channel/upgrade_answer.ts";
import { requestUrl } from "../../src/channel/request_url.ts";
import { HandshakeError } from "../../src/handshake/errors.ts";
import { FieldHeaders } from "../../src/handshake/field_headers.ts";
import { lateUpgradeCheck } from "../../src/handshake/upgrade_hook.ts";
import { deadline } from "../_util/async.ts";

/** A valid upgrade request with the key of RFC 6455 §1.3, plus `extra` headers. */
function head(extra: Record<string, string> = {}, target = "/chat?room=1"): UpgradeRequestHead {
  const headers = new Headers({
    host: "example.com:8080",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
    ...extra,
  });
  return { method: "GET", target, httpVersion: "HTTP/1.1", headers };
}

/** The answer's bytes as text: status line, fields (names lower-cased) and body. */
function text(answer: UpgradeAnswer): { status: number; fields: string[]; body: string } {
  const all = new TextDecoder().decode(answer.answer);
  const end = all.indexOf("\r\n\r\n");
  assert.ok(end > 0, all);
  const [statusLine, ...lines] = all.slice(0, end).split("\r\n");
  const fields = lines.map((line) => {
    const colon = line.indexOf(":");
    return `${line.slice(0, colon).toLowerCase()}:${line.slice(colon + 1).trim()}`;
  });
  return { status: Number(statusLine.slice(9, 12)), fields, body: all.slice(end + 4) };
}

function refusal(answer: UpgradeAnswer) {
  assert.ok(!answer.accepted, "refused");
  return answer;
}

test("answerUpgrade accepts a valid request: the 101 head, the request and what was agreed", async () => {
  const answer = await answerUpgrade(head({ "sec-websocket-protocol": "v1, v2" }), {
    protocols: ["v2"],
    secure: true,
  });
  assert.ok(answer.accepted);
  assert.deepEqual(text(answer), {
    status: 101,
    fields: [
      "connection:Upgrade",
      "sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "sec-websocket-protocol:v2",
      "upgrade:websocket",
    ],
    body: "",
  });
  assert.equal(answer.protocol, "v2");
  assert.equal(answer.extensions, "");
  assert.equal(answer.deflate, undefined);
  assert.equal(answer.data, undefined);
  assert.equal(answer.request.url, "https://example.com:8080/chat?room=1");
  assert.equal(answer.request.method, "GET");
});

test("answerUpgrade refuses a request that fails the checks, with its status and a HandshakeError", async () => {
  const cases: Array<[UpgradeRequestHead, number]> = [
    [{ ...head(), method: "POST" }, 405],
    [{ ...head(), httpVersion: "HTTP/1.0" }, 505],
    [head({ "sec-websocket-version": "8" }), 426],
    [head({ "sec-websocket-key": "short" }), 400],
    [head({ origin: "https://evil.example" }), 403],
  ];
  for (const [request, status] of cases) {
    let calls = 0;
    const answer = refusal(
      await answerUpgrade(request, {
        origins: ["https://good.example"],
        onUpgrade: () => void calls++,
      }),
    );
    assert.equal(text(answer).status, status);
    assert.ok(text(answer).fields.includes("connection:close"));
    assert.ok(answer.error instanceof HandshakeError);
    assert.equal(answer.error.code, "WS_HANDSHAKE_BAD_STATUS");
    assert.equal(answer.error.status, status);
    assert.equal(answer.request, undefined);
    assert.equal(calls, 0, "onUpgrade is not asked about an invalid request");
  }
});

test("answerUpgrade refuses a Host that makes no URL with 400 (RFC 7230 §5.4)", async () => {
  for (const host of ["a b", "example.com:99999", "user@example.com", "example.com/path"]) {
    const answer = refusal(await answerUpgrade(head({ host })));
    assert.equal(text(answer).status, 400, host);
    assert.equal(text(answer).body, "Invalid Host header");
    assert.equal((answer.error as HandshakeError).status, 400);
  }
});

test("requestUrl puts an origin-form target after the Host, so // stays in the path", () => {
  assert.equal(requestUrl("//evil.example/x", "example.com"), "http://example.com//evil.example/x");
  assert.equal(requestUrl("/a?b=1", "Example.COM:443", true), "https://example.com/a?b=1");
  assert.equal(requestUrl("http://other.example/x", "example.com"), "http://other.example/x");
  assert.equal(requestUrl("/", "[::1]:8080"), "http://[::1]:8080/");
  assert.equal(requestUrl("/", null), "http://localhost/");
  assert.equal(requestUrl("/", "a b"), undefined);
});

test("requestUrl: the same Host again, by turns valid and not, and under the other scheme", () => {
  for (let i = 0; i < 2; i++) {
    assert.equal(requestUrl("/a b", "example.com:80"), "http://example.com/a%20b");
    assert.equal(requestUrl("/a b", "example.com:80", true), "https://example.com:80/a%20b");
    assert.equal(requestUrl("/", "user@example.com"), undefined);
    assert.equal(requestUrl("/", "user@example.com"), undefined);
    assert.equal(requestUrl("/x", "example.com:80"), "http://example.com/x");
    assert.equal(requestUrl("/", null, true), "https://localhost/");
    assert.equal(requestUrl("/", null), "http://localhost/");
  }
});

test("answerUpgrade over fields as received gives the Request every field, repeats kept", async () => {
  const raw = [
    "Host",
    "example.com",
    "Upgrade",
    "websocket",
    "Connection",
    "keep-alive",
    "connection",
    "Upgrade",
    "Sec-WebSocket-Key",
    "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version",
    "13",
    "X-Tag",
    "a",
    "x-tag",
    "b",
  ];
  const answer = await answerUpgrade({
    method: "GET",
    target: "/chat?room=1",
    httpVersion: "HTTP/1.1",
    headers: new FieldHeaders(raw),
  });
  assert.ok(answer.accepted);
  assert.equal(answer.request.url, "http://example.com/chat?room=1");
  assert.equal(answer.request.headers.get("x-tag"), "a, b");
  assert.equal(answer.request.headers.get("connection"), "keep-alive, Upgrade");
  assert.ok(text(answer).fields.includes("sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  // A check reads the same fields: a repeated key is two keys joined, which is invalid.
  const twice = await answerUpgrade({
    method: "GET",
    target: "/",
    httpVersion: "HTTP/1.1",
    headers: new FieldHeaders([...raw, "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="]),
  });
  assert.equal(text(refusal(twice)).status, 400);
});

test("answerUpgrade: onUpgrade's headers join the 101 and its data is kept", async () => {
  const answer = await answerUpgrade(head({ cookie: "sid=1" }), {
    onUpgrade: (request) => ({
      headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]],
      data: { sid: request.headers.get("cookie") },
    }),
  });
  assert.ok(answer.accepted);
  const { fields } = text(answer);
  assert.ok(fields.includes("set-cookie:a=1") && fields.includes("set-cookie:b=2"), fields.join());
  assert.deepEqual(answer.data, { sid: "sid=1" });
});

test("answerUpgrade: onUpgrade's Response is the answer, as it is, with its length", async () => {
  const answer = refusal(
    await answerUpgrade(head(), {
      onUpgrade: () =>
        new Response("token required", {
          status: 401,
          headers: { "www-authenticate": "Bearer" },
        }),
    }),
  );
  const { status, fields, body } = text(answer);
  assert.equal(status, 401);
  assert.ok(fields.includes("www-authenticate:Bearer"));
  assert.ok(fields.includes("content-length:14"));
  assert.ok(fields.includes("connection:close"));
  assert.equal(body, "token required");
  assert.equal((answer.error as HandshakeError).status, 401);
  assert.equal((answer.error as HandshakeError).code, "WS_HANDSHAKE_BAD_STATUS");
  assert.equal(answer.request?.url, "http://example.com:8080/chat?room=1");
});

test("answerUpgrade: a throwing onUpgrade, or a reserved 101 header, is answered 500 without its message", async () => {
  const bug = new Error("session store unreachable");
  for (
    const onUpgrade of [
      () => {
        throw bug;
      },
      () => Promise.reject(bug),
      () => ({ headers: { "sec-websocket-accept": "forged" }, data: 1 }),
    ]
  ) {
    const answer = refusal(await answerUpgrade(head(), { onUpgrade }));
    assert.equal(text(answer).status, 500);
    assert.doesNotMatch(text(answer).body, /session|forged/);
    const error = answer.error as HandshakeError;
    assert.equal(error.code, "WS_HANDSHAKE_HOOK_FAILED");
    assert.equal(error.status, 500);
    assert.ok(error.cause === bug || error.cause instanceof TypeError);
  }
});

test("answerUpgrade: onUpgrade still running when the signal aborts is refused with the reason", async () => {
  for (
    const [reason, status] of [[lateUpgradeCheck(50).error, 503], [new Error("gone"), 500]] as const
  ) {
    const expiry = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = answerUpgrade(head(), {
      signal: expiry.signal,
      onUpgrade: (request) => {
        seen = request.signal;
        return new Promise(() => {}); // never decides
      },
    });
    await Promise.resolve();
    expiry.abort(reason);
    const answer = refusal(await deadline(pending, 5000, "the refusal"));
    assert.equal(text(answer).status, status);
    assert.equal(answer.error, reason);
    assert.equal(seen?.aborted, true);
    if (status === 503) assert.ok(text(answer).fields.includes("retry-after:1"));
  }
});

test("answerUpgrade: a refusal Response whose body never ends is cut short by the signal", async () => {
  const expiry = new AbortController();
  const pending = answerUpgrade(head(), {
    signal: expiry.signal,
    onUpgrade: () => new Response(new ReadableStream({ pull: () => new Promise(() => {}) })),
  });
  setTimeout(() => expiry.abort(lateUpgradeCheck(10).error), 10);
  const answer = refusal(await deadline(pending, 5000, "the refusal"));
  assert.equal(text(answer).status, 503);
});

test("answerUpgrade negotiates permessage-deflate when compression is on", async () => {
  const offer = { "sec-websocket-extensions": "permessage-deflate; client_max_window_bits" };
  const on = await answerUpgrade(head(offer), { compression: true });
  assert.ok(on.accepted);
  assert.match(on.extensions, /^permessage-deflate/);
  assert.ok(on.deflate);
  assert.ok(text(on).fields.includes(`sec-websocket-extensions:${on.extensions}`));
  const off = await answerUpgrade(head(offer));
  assert.ok(off.accepted);
  assert.equal(off.extensions, "");
  assert.equal(off.deflate, undefined);
});

test("answerUpgrade rejects for the server's own faults: bad compression settings, a throwing callback", async () => {
  const offer = head({ "sec-websocket-extensions": "permessage-deflate" });
  await assert.rejects(answerUpgrade(offer, { compression: { threshold: -1 } }), RangeError);
  const bug = new Error("bug");
  await assert.rejects(
    answerUpgrade(head({ "sec-websocket-protocol": "a" }), {
      protocols: () => {
        throw bug;
      },
    }),
    (error) => error === bug,
  );
  await assert.rejects(
    answerUpgrade(head({ origin: "https://a.example" }), {
      origins: () => {
        throw bug;
      },
    }),
    (error) => error === bug,
  );
});

test("answerUpgrade fills the request from the fields as received, repeated names joined, and follows the signal", async () => {
  const fields: [string, string][] = [
    ["Host", "example.com:8080"],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
    ["Sec-WebSocket-Version", "13"],
    ["X-Tag", "a"],
    ["Cookie", "sid=1"],
    ["x-tag", " b "],
  ];
  const headers = new Headers();
  for (const [name, value] of fields) headers.append(name, value);
  const expiry = new AbortController();
  let seen: Request | undefined;
  const answer = await answerUpgrade(
    { method: "GET", target: "/chat", httpVersion: "HTTP/1.1", headers, fields },
    { signal: expiry.signal, onUpgrade: (request) => void (seen = request) },
  );
  assert.ok(answer.accepted);
  assert.equal(answer.request, seen);
  assert.deepEqual([...answer.request.headers], [...headers]);
  assert.equal(answer.request.headers.get("x-tag"), "a, b");
  assert.equal(answer.request.url, "http://example.com:8080/chat");
  assert.equal(answer.request.signal.aborted, false);
  expiry.abort();
  assert.equal(answer.request.signal.aborted, true);
});

test("decideUpgrade answers in the call without onUpgrade or callbacks, and waits for them", async () => {
  const now = decideUpgrade(head(), { protocols: ["chat"], origins: ["https://a.example"] });
  assert.ok(!(now instanceof Promise));
  assert.deepEqual(text(now), text(await answerUpgrade(head())));
  const refusedNow = decideUpgrade({ ...head(), method: "POST" }, {});
  assert.ok(!(refusedNow instanceof Promise));
  assert.equal(text(refusal(refusedNow)).status, 405);
  const hooked = decideUpgrade(head(), { onUpgrade: () => ({ data: 7 }) });
  assert.ok(hooked instanceof Promise);
  const answer = await hooked;
  assert.ok(answer.accepted && answer.data === 7);
  const chosen = decideUpgrade(head({ "sec-websocket-protocol": "a, b" }), {
    protocols: (offered) => offered[1],
  });
  assert.ok(chosen instanceof Promise);
  assert.ok(text(await chosen).fields.includes("sec-websocket-protocol:b"));
  // Our own settings at fault: thrown here, where answerUpgrade rejects.
  const offer = head({ "sec-websocket-extensions": "permessage-deflate" });
  assert.throws(() => decideUpgrade(offer, { compression: { threshold: -1 } }), RangeError);
});
