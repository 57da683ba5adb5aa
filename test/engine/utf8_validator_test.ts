import assert from "node:assert/strict";
import { test } from "node:test";
import { Utf8Validator } from "../../src/engine/utf8_validator.ts";
import { hex } from "../_util/hex.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

const invalid = [
  "ff",
  "fe",
  "c0 af",
  "c1 bf",
  "e0 80 af",
  "ed a0 80",
  "ed bf bf",
  "f4 90 80 80",
  "f5 80 80 80",
  "f8 88 80 80 80",
  "80",
  "c2 41",
];

function validate(bytes: Uint8Array): boolean {
  const validator = new Utf8Validator();
  return validator.write(bytes) && validator.end();
}

function fatalDecodes(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

test("Utf8Validator accepts valid text including 4-byte sequences and boundary code points", () => {
  for (
    const text of [
      "",
      "Hello",
      "κόσμε",
      "€",
      "𝄞",
      "\u{10ffff}",
      "\ud7ff\ue000",
      "\u0080\u07ff\u0800\uffff",
    ]
  ) {
    assert.ok(validate(new TextEncoder().encode(text)), text);
  }
});

test("Utf8Validator rejects overlongs, surrogates, out-of-range and stray bytes", () => {
  for (const bad of invalid) assert.ok(!validate(hex(bad)), bad);
});

test("Utf8Validator rejects a sequence truncated at the end only at end()", () => {
  const validator = new Utf8Validator();
  assert.ok(validator.write(hex("41 e2 82")));
  assert.ok(!validator.end());
});

test("Utf8Validator fails on the first invalid byte even across writes (Autobahn 6.4.x)", () => {
  const validator = new Utf8Validator();
  assert.ok(validator.write(new TextEncoder().encode("κόσμε")));
  assert.ok(validator.write(hex("f4")));
  assert.ok(!validator.write(hex("90")), "f4 90 can never be valid");
  assert.ok(!validator.valid);
  assert.ok(!validator.write(hex("41")), "stays invalid");
});

test("Utf8Validator agrees with TextDecoder fatal on random input at random splits", () => {
  const random = new SeededRandom(77);
  const pieces = [[0x41], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9d, 0x84, 0x9e], [
    0xed,
    0x9f,
    0xbf,
  ], [0xf4, 0x8f, 0xbf, 0xbf]];
  for (let round = 0; round < 3000; round++) {
    const parts: number[] = [];
    for (let i = random.int(12); i > 0; i--) {
      parts.push(...(random.int(4) === 0 ? [random.int(256)] : random.pick(pieces)));
    }
    const bytes = new Uint8Array(parts);
    const validator = new Utf8Validator();
    let ok = true;
    for (let at = 0; at < bytes.length;) {
      const size = 1 + random.int(4);
      ok = validator.write(bytes.subarray(at, at + size)) && ok;
      at += size;
    }
    ok = validator.end() && ok;
    assert.equal(
      ok,
      fatalDecodes(bytes),
      `round ${round}: ${[...bytes].map((b) => b.toString(16))}`,
    );
  }
});

test("TextDecoder fatal streaming fails on the first invalid byte on this runtime", () => {
  // The protocol relies on this for Autobahn 6.4.x fail-fast; checked on Deno, Bun and Node.
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  assert.equal(decoder.decode(new TextEncoder().encode("κόσμε"), { stream: true }), "κόσμε");
  assert.equal(decoder.decode(hex("f4"), { stream: true }), "");
  assert.throws(() => decoder.decode(hex("90"), { stream: true }), TypeError);
  const truncated = new TextDecoder("utf-8", { fatal: true });
  truncated.decode(hex("e2 82"), { stream: true });
  assert.throws(() => truncated.decode(), TypeError);
});
