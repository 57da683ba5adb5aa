import assert from "node:assert/strict";
import { test } from "node:test";
import {
  parseSubprotocols,
  selectSubprotocol,
  validateSubprotocols,
} from "../../src/handshake/subprotocol.ts";

test("parseSubprotocols reads a well-formed offer in order", () => {
  assert.deepEqual(parseSubprotocols("chat, superchat"), ["chat", "superchat"]);
  assert.deepEqual(parseSubprotocols("a,b"), ["a", "b"]);
  assert.deepEqual(parseSubprotocols(null), []);
});

// H10 list syntax: ws answers 400 to each of these.
test("parseSubprotocols rejects malformed or repeated offers", () => {
  const bad = [
    "",
    "chat, chat",
    "chat,,x",
    ",chat",
    "chat,",
    "chat;x",
    "\u00ff\u00fe",
    "a b",
    "a\r\nb",
  ];
  for (const value of bad) assert.equal(parseSubprotocols(value), undefined, JSON.stringify(value));
});

test("parseSubprotocols is linear on the CVE-2021-32640 input", () => {
  for (const n of [1024, 8192, 65536]) {
    const start = performance.now();
    assert.equal(parseSubprotocols("b" + " ".repeat(n) + "x"), undefined);
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 500, `N=${n} took ${elapsed.toFixed(1)} ms`);
  }
});

// A7: a client must never put these on the wire.
test("validateSubprotocols throws synchronously for invalid or duplicate values", () => {
  assert.deepEqual(validateSubprotocols(["chat", "superchat"]), ["chat", "superchat"]);
  assert.deepEqual(validateSubprotocols("chat"), ["chat"]);
  assert.throws(() => validateSubprotocols(["a\r\nX-Evil: 1"]), SyntaxError);
  assert.throws(() => validateSubprotocols(["chat", "chat"]), SyntaxError);
  assert.throws(() => validateSubprotocols([""]), SyntaxError);
  assert.throws(() => validateSubprotocols(["a b"]), SyntaxError);
  assert.throws(() => validateSubprotocols(["\u00e9"]), SyntaxError);
  assert.throws(() => validateSubprotocols([1 as unknown as string]), TypeError);
});

test("selectSubprotocol picks the first client-offered protocol the server supports", async () => {
  assert.equal(await selectSubprotocol(["v2", "v1"], ["v1", "v2"]), "v2");
  assert.equal(await selectSubprotocol(["x", "v1"], ["v1", "v2"]), "v1");
  assert.equal(await selectSubprotocol(["x"], ["v1"]), "");
  assert.equal(await selectSubprotocol([], ["v1"]), "");
  assert.equal(await selectSubprotocol(["v1"], undefined), "");
});

test("selectSubprotocol compares protocol names case-sensitively", async () => {
  assert.equal(await selectSubprotocol(["Chat"], ["chat"]), "");
});

test("selectSubprotocol lets a callback choose and checks the choice", async () => {
  let seen: string[] = [];
  const chosen = await selectSubprotocol(["a", "b"], (offered) => {
    seen = offered;
    return "b";
  });
  assert.equal(chosen, "b");
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal(await selectSubprotocol(["a"], () => undefined), "");
  assert.equal(await selectSubprotocol(["a"], () => Promise.resolve("a")), "a");
  await assert.rejects(selectSubprotocol(["a"], () => "z"), TypeError);
});
