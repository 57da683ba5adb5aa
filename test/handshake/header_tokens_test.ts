import assert from "node:assert/strict";
import { test } from "node:test";
import {
  formatExtensions,
  hasToken,
  isToken,
  parseExtensions,
  parseTokenList,
} from "../../src/handshake/header_tokens.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

/**
 * Hang guard for the ReDoS PoCs (A1): a linear parser needs about a
 * millisecond for 64 KiB, a backtracking one needs seconds or never ends, so
 * the budget is generous on purpose and only catches super-linear parsers.
 */
function assertLinear(label: string, run: (n: number) => void): void {
  for (const n of [1024, 4096, 16384, 65536]) {
    const start = performance.now();
    run(n);
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 500, `${label} with N=${n} took ${elapsed.toFixed(1)} ms`);
  }
}

test("isToken accepts RFC 7230 tchar and nothing else", () => {
  assert.ok(isToken("permessage-deflate"));
  assert.ok(isToken("!#$%&'*+-.^_`|~09AZaz"));
  for (
    const bad of ["", "a b", "a,b", "a;b", "a=b", 'a"', "a/b", "a\u00ff", "a\u0100", "\t", "a\r\n"]
  ) {
    assert.equal(isToken(bad), false, JSON.stringify(bad));
  }
});

test("parseTokenList splits on commas with optional whitespace", () => {
  assert.deepEqual(parseTokenList("keep-alive, Upgrade"), ["keep-alive", "Upgrade"]);
  assert.deepEqual(parseTokenList(" a ,\tb,c "), ["a", "b", "c"]);
  assert.deepEqual(parseTokenList("a,,b"), ["a", "b"]);
  assert.deepEqual(parseTokenList(", a"), ["a"]);
  assert.equal(parseTokenList("a,,b", { allowEmpty: false }), undefined);
  assert.equal(parseTokenList(",a", { allowEmpty: false }), undefined);
  assert.equal(parseTokenList("", { allowEmpty: false }), undefined);
  assert.equal(parseTokenList("a b"), undefined);
  assert.equal(parseTokenList("a;b"), undefined);
  assert.equal(parseTokenList("\u00ff\u00fe"), undefined);
  assert.equal(parseTokenList("h2c/1"), undefined);
  assert.deepEqual(parseTokenList("websocket, h2c/1", { allowSlash: true }), [
    "websocket",
    "h2c/1",
  ]);
  assert.equal(parseTokenList("h2c/", { allowSlash: true }), undefined);
  assert.equal(parseTokenList("/1", { allowSlash: true }), undefined);
  assert.equal(parseTokenList("a/b/c", { allowSlash: true }), undefined);
});

// A8: element-wise, case-insensitive, never substring matching.
test("hasToken follows the Connection/Upgrade token table", () => {
  const accept: [string, string][] = [
    ["keep-alive, Upgrade", "upgrade"],
    ["UPGRADE", "upgrade"],
    ["Upgrade", "upgrade"],
    ["upgrade,keep-alive", "upgrade"],
    ["WebSocket", "websocket"],
    ["websocket", "websocket"],
  ];
  const reject: [string | null, string][] = [
    ["close", "upgrade"],
    ["upgradex", "upgrade"],
    ["keep-alive", "upgrade"],
    ["keep-alive upgrade", "upgrade"],
    ["xupgrade", "upgrade"],
    [null, "upgrade"],
    ["", "upgrade"],
    ["h2c", "websocket"],
    ["websocket2", "websocket"],
    ["websocketx", "websocket"],
    ["web socket", "websocket"],
    // Found, but the rest of the list is malformed: the whole header is invalid.
    ["upgrade, a b", "upgrade"],
    ["Upgrade,\u00e9", "upgrade"],
  ];
  for (const [value, token] of accept) assert.ok(hasToken(value, token), `${value} ∋ ${token}`);
  for (const [value, token] of reject) {
    assert.equal(hasToken(value, token), false, `${value} ∌ ${token}`);
  }
});

test("parseExtensions reads names, parameters and quoted values", () => {
  const list = parseExtensions(
    'permessage-deflate; client_max_window_bits; server_max_window_bits="10" , x-foo ;a = b',
  );
  assert.ok(list);
  assert.equal(list.length, 2);
  assert.equal(list[0].name, "permessage-deflate");
  assert.deepEqual([...list[0].params], [["client_max_window_bits", null], [
    "server_max_window_bits",
    "10",
  ]]);
  assert.equal(list[0].hasDuplicateParams, false);
  assert.equal(list[1].name, "x-foo");
  assert.equal(list[1].params.get("a"), "b");
});

test("parseExtensions unescapes quoted-pairs and requires a token inside quotes", () => {
  assert.equal(parseExtensions('a; b="\\1\\0"')?.[0].params.get("b"), "10");
  assert.equal(parseExtensions('a; b="x y"'), undefined);
  assert.equal(parseExtensions('a; b=""'), undefined);
});

test("parseExtensions flags repeated parameters for the caller to decline", () => {
  const [entry] = parseExtensions(
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
  )!;
  assert.equal(entry.hasDuplicateParams, true);
});

test("parseExtensions rejects malformed lists", () => {
  const bad = [
    "",
    ",",
    ",;constructor",
    "a,",
    ",a",
    "a,,b",
    "a;",
    "a; =1",
    "a; b=",
    "a; b=c d",
    'a; b="c',
    'a; b="\\',
    "a b",
    ";a",
    "a; b=\u0080",
    "permessage-deflate; x=\u0080",
    "\u00ff\u00fe",
    "a; b=1\r\nX-Evil: 1",
  ];
  for (const value of bad) assert.equal(parseExtensions(value), undefined, JSON.stringify(value));
});

// A2: prototype keys are plain data, never lookups.
test("parseExtensions treats prototype keys as ordinary names", () => {
  for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    const list = parseExtensions(`${name}; ${name}=1; x, ${name}`);
    assert.ok(list, name);
    assert.equal(list.length, 2);
    assert.equal(list[0].name, name);
    assert.equal(list[0].params.get(name), "1");
    assert.equal(list[0].params.get("x"), null);
    assert.equal(list[1].params.size, 0);
  }
  const [deflate] = parseExtensions("permessage-deflate; __proto__=1")!;
  assert.equal(deflate.params.get("__proto__"), "1");
  assert.equal(({} as Record<string, unknown>)["1"], undefined);
  assert.equal(Object.prototype.toString.call({}), "[object Object]");
});

// A1: CVE-2021-32640 ('b' + spaces + 'x' against / *, */) and CVE-2020-7662
// (an unterminated quoted string of backslash pairs).
test("token and extension parsers stay linear on the A1 ReDoS inputs", () => {
  assertLinear("token list b+spaces+x", (n) => {
    assert.equal(parseTokenList("b" + " ".repeat(n) + "x"), undefined);
  });
  assertLinear("token list of commas and spaces", (n) => {
    assert.deepEqual(parseTokenList(", ".repeat(n / 2)), []);
  });
  assertLinear("extensions unterminated backslash pairs", (n) => {
    assert.equal(parseExtensions('a; b="' + "\\c".repeat(n / 2)), undefined);
  });
  assertLinear("extensions many parameters", (n) => {
    assert.equal(parseExtensions("a" + "; b".repeat(n / 3))?.[0].hasDuplicateParams, true);
  });
  assertLinear("extensions spaces then garbage", (n) => {
    assert.equal(parseExtensions("a;" + " ".repeat(n) + "="), undefined);
  });
});

test("formatExtensions writes names, flags and values", () => {
  assert.equal(
    formatExtensions([
      { name: "permessage-deflate", params: new Map([["client_max_window_bits", true]]) },
      { name: "x", params: [["a", "1"], ["b", null]] },
      { name: "y" },
    ]),
    "permessage-deflate; client_max_window_bits, x; a=1; b, y",
  );
  assert.equal(formatExtensions([]), "");
});

test("formatExtensions round-trips through parseExtensions", () => {
  const value = "permessage-deflate; client_max_window_bits=10; server_no_context_takeover";
  const parsed = parseExtensions(value)!;
  assert.equal(formatExtensions(parsed), value);
});

test("formatExtensions rejects values that cannot be written", () => {
  assert.throws(() => formatExtensions([{ name: "a b" }]), TypeError);
  assert.throws(() => formatExtensions([{ name: "a", params: [["b\r\n", "1"]] }]), TypeError);
  assert.throws(() => formatExtensions([{ name: "a", params: [["b", "1\r\nX: y"]] }]), TypeError);
});

/** Header-ish text: grammar characters, whitespace, and a few hostile bytes. */
function randomHeader(random: SeededRandom, length: number): string {
  const alphabet = [
    "a",
    "b",
    "Z",
    "9",
    "-",
    ",",
    ";",
    "=",
    '"',
    "\\",
    " ",
    "\t",
    "/",
    "\u00ff",
    "\u0080",
    "\r",
    "\n",
    "\u0000",
    "{",
  ];
  let out = "";
  for (let i = 0; i < length; i++) out += random.pick(alphabet);
  return out;
}

test("header parsers never throw on seeded random input and round-trip what they accept", () => {
  const random = new SeededRandom(0x5eed);
  let accepted = 0;
  for (let i = 0; i < 5000; i++) {
    const value = randomHeader(random, random.int(40));
    const tokens = parseTokenList(value, { allowSlash: random.int(2) === 0 });
    if (tokens) { for (const token of tokens) assert.ok(token.length > 0); }
    hasToken(value, "a");
    const list = parseExtensions(value);
    if (list === undefined) continue;
    accepted++;
    const again = parseExtensions(formatExtensions(list));
    assert.ok(again, value);
    assert.deepEqual(
      again.map((e) => [e.name, [...e.params]]),
      list.map((e) => [e.name, [...e.params]]),
      value,
    );
  }
  assert.ok(accepted > 0);
});
