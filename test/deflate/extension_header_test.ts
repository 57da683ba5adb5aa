import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatExtensionElement,
  parseExtensionHeader,
} from "../../src/deflate/extension_header.ts";

test("parseExtensionHeader reads lists, parameters, quoted values and skips empty elements", () => {
  assert.deepEqual(parseExtensionHeader('permessage-deflate ; a ; b = 10 ;c="1\\1", , x-foo'), [
    { name: "permessage-deflate", params: [["a", true], ["b", "10"], ["c", "11"]] },
    { name: "x-foo", params: [] },
  ]);
  assert.deepEqual(parseExtensionHeader(""), []);
  assert.deepEqual(parseExtensionHeader(" , "), []);
});

test("parseExtensionHeader keeps duplicate and prototype-named parameters as plain data", () => {
  const list = parseExtensionHeader("e; __proto__=1; __proto__; constructor");
  assert.deepEqual(list, [{
    name: "e",
    params: [["__proto__", "1"], ["__proto__", true], ["constructor", true]],
  }]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("parseExtensionHeader rejects malformed values", () => {
  for (
    const bad of [
      "e;",
      "e; =1",
      "e; a=",
      'e; a="',
      'e; a="x y"',
      'e; a=""',
      "e f",
      "e; a b",
      ";e",
      "e,;",
      "é",
      "e; a=1=2",
      "e\u0000",
    ]
  ) {
    assert.equal(parseExtensionHeader(bad), null, JSON.stringify(bad));
  }
});

test("parseExtensionHeader is linear on long hostile input", () => {
  const long = "e" + "; a=1".repeat(50000);
  assert.equal(parseExtensionHeader(long)?.[0].params.length, 50000);
  assert.equal(parseExtensionHeader('e; a="' + "\\".repeat(100001)), null);
});

test("formatExtensionElement writes flags and values", () => {
  assert.equal(
    formatExtensionElement({
      name: "permessage-deflate",
      params: [["client_max_window_bits", true], ["server_max_window_bits", "10"]],
    }),
    "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
  );
});
