import { test } from "node:test";
import assert from "node:assert/strict";
import { HandshakeError } from "../../src/handshake/errors.ts";
import {
  encodeRefusal,
  hookFailure,
  lateUpgradeCheck,
  runUpgradeHook,
  type UpgradeHook,
} from "../../src/handshake/upgrade_hook.ts";

const request = () => new Request("http://example.test/chat", { headers: { cookie: "sid=1" } });

test("runUpgradeHook: no hook, or a hook returning nothing, accepts without headers or data", async () => {
  for (const hook of [undefined, () => undefined, async () => {}]) {
    const outcome = await runUpgradeHook(hook as UpgradeHook<undefined> | undefined, request());
    assert.ok(outcome.accepted);
    assert.equal(outcome.data, undefined);
    assert.deepEqual([...outcome.headers], []);
  }
});

test("runUpgradeHook: a Response refuses, as it is", async () => {
  const response = new Response("no", { status: 401 });
  const outcome = await runUpgradeHook(() => response, request());
  assert.ok(!outcome.accepted);
  assert.equal(outcome.response, response);
});

test("runUpgradeHook: { headers, data } accepts with both; Set-Cookie stays separate", async () => {
  const outcome = await runUpgradeHook(
    () =>
      Promise.resolve({
        headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-user", "ada"]],
        data: { id: 7 },
      }),
    request(),
  );
  assert.ok(outcome.accepted);
  assert.deepEqual(outcome.data, { id: 7 });
  assert.deepEqual(outcome.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(outcome.headers.get("x-user"), "ada");
});

test("runUpgradeHook: a throw, a rejection, a wrong shape or a reserved header is WS_HANDSHAKE_HOOK_FAILED (500)", async () => {
  const bug = new Error("bug");
  const cases: Array<[string, () => unknown, (cause: unknown) => boolean]> = [
    ["throw", () => {
      throw bug;
    }, (cause) => cause === bug],
    ["rejection", () => Promise.reject(bug), (cause) => cause === bug],
    ["a string", () => "yes", (cause) => cause instanceof TypeError],
    ["null", () => null, (cause) => cause instanceof TypeError],
    [
      "a 101 header",
      () => ({ headers: { upgrade: "h2c" }, data: 1 }),
      (cause) => cause instanceof TypeError && /upgrade/.test(cause.message),
    ],
    [
      "Content-Length",
      () => ({ headers: { "content-length": "5" }, data: 1 }),
      (cause) => cause instanceof TypeError,
    ],
    ["Sec-WebSocket-Protocol", () => ({ headers: { "Sec-WebSocket-Protocol": "x" }, data: 1 }), (
      cause,
    ) => cause instanceof TypeError],
  ];
  for (const [name, hook, isCause] of cases) {
    await assert.rejects(
      runUpgradeHook(hook as UpgradeHook<unknown>, request()),
      (error: unknown) => {
        assert.ok(error instanceof HandshakeError, name);
        assert.equal(error.code, "WS_HANDSHAKE_HOOK_FAILED", name);
        assert.equal(error.status, 500, name);
        assert.ok(isCause(error.cause), name);
        assert.equal(hookFailure(error)?.error, error.cause, name);
        return true;
      },
    );
  }
});

test("encodeRefusal: status, reason, headers and body as given, framed with Content-Length and Connection: close", async () => {
  const response = new Response(new Uint8Array([0xff, 0x00, 0x41]), {
    status: 401,
    statusText: "Token Expired",
    headers: [
      ["www-authenticate", 'Bearer error="invalid_token"'],
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["content-length", "999"],
    ],
  });
  const bytes = await encodeRefusal(response);
  const text = new TextDecoder("latin1").decode(bytes);
  const [head, body] = [
    text.slice(0, text.indexOf("\r\n\r\n")),
    bytes.slice(text.indexOf("\r\n\r\n") + 4),
  ];
  const lines = head.split("\r\n");
  assert.equal(lines[0], "HTTP/1.1 401 Token Expired");
  assert.deepEqual(lines.slice(1).sort(), [
    "connection: close",
    "content-length: 3",
    "set-cookie: a=1",
    "set-cookie: b=2",
    'www-authenticate: Bearer error="invalid_token"',
  ]);
  assert.deepEqual([...body], [0xff, 0x00, 0x41]);
  const plain = new TextDecoder().decode(await encodeRefusal(new Response(null, { status: 403 })));
  assert.ok(plain.startsWith("HTTP/1.1 403 Forbidden\r\n"), plain);
  assert.match(plain, /content-length: 0\r\n/);
});

test("hookFailure: only the application's failures are reported", () => {
  const { error, rejection } = lateUpgradeCheck(250);
  assert.equal(error.code, "WS_HANDSHAKE_TIMEOUT");
  assert.equal(error.status, 503);
  assert.equal(rejection.status, 503);
  assert.equal(rejection.headers.get("retry-after"), "1");
  assert.equal(hookFailure(error)?.error, error);
  const slowClient = new HandshakeError("WS_HANDSHAKE_TIMEOUT", "slow head", { status: 408 });
  assert.equal(hookFailure(slowClient), undefined);
  assert.equal(
    hookFailure(new HandshakeError("WS_HANDSHAKE_BAD_STATUS", "x", { status: 403 })),
    undefined,
  );
  assert.equal(hookFailure(new Error("network")), undefined);
});
