import assert from "node:assert/strict";
import { test } from "node:test";
import {
  generateKey,
  isValidKey,
  sha1,
  signKey,
  signKeySync,
} from "../../src/handshake/accept_key.ts";

// RFC 6455 §1.3 prints this accept value; it equals base64(SHA-1(key + GUID))
// as computed by any SHA-1 implementation.
test("signKey matches the RFC 6455 §1.3 example", async () => {
  assert.equal(await signKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("signKey matches a second independently computed vector", async () => {
  // python3: base64(sha1(b"x3JJHMbDL1EzLkh9GBhXDw==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
  assert.equal(await signKey("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
});

test("generateKey returns base64 of 16 fresh random bytes", () => {
  const keys = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const key = generateKey();
    assert.equal(key.length, 24);
    assert.ok(isValidKey(key), key);
    assert.equal(atob(key).length, 16);
    keys.add(key);
  }
  assert.equal(keys.size, 100);
});

test("isValidKey accepts only base64 that decodes to exactly 16 bytes", () => {
  assert.ok(isValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
  assert.ok(isValidKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  assert.ok(isValidKey("+/+/+/+/+/+/+/+/+/+/+w=="));
  const bad = [
    "",
    "dGhlIHNhbXBsZSBub25jZQ", // padding missing
    "dGhlIHNhbXBsZSBub25jZQ=", // one pad
    btoa("x".repeat(15)), // 15 bytes
    btoa("x".repeat(17)), // 17 bytes
    "dGhlIHNhbXBsZSBub25jZ!==", // bad character
    "dGhlIHNhbXBsZSBub25j ZQ==",
    "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==", // two key headers joined
    "dGhlIHNhbXBsZSBub25jZQ==\r\n",
    "dGhlIHNhbXBsZSBub25jZ\u00ff==",
  ];
  for (const key of bad) assert.equal(isValidKey(key), false, JSON.stringify(key));
});

test("signKey equals base64(SHA-1(key + GUID)) through crypto.subtle and btoa, for many keys", async () => {
  const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  for (let i = 0; i < 200; i++) {
    const key = generateKey();
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + guid)),
    );
    const expected = btoa(String.fromCharCode(...digest));
    assert.equal(await signKey(key), expected, key);
    // The key itself: 16 bytes, one padding pair.
    assert.equal(atob(key).length, 16);
    assert.ok(key.endsWith("=="));
  }
});

test("sha1 equals crypto.subtle's SHA-1 at every padding boundary and beyond one block", async () => {
  // Lengths around the 55/56-byte edge (where the length field moves to a block of its own),
  // whole blocks, and lengths whose bit count needs more than 32 bits' worth of the message.
  const lengths = [0, 1, 3, 55, 56, 57, 60, 63, 64, 65, 119, 120, 127, 128, 1000, 70_000];
  for (const length of lengths) {
    const message = new Uint8Array(length);
    for (let i = 0; i < length; i++) message[i] = (i * 131 + length) & 0xff;
    const expected = new Uint8Array(await crypto.subtle.digest("SHA-1", message));
    assert.deepEqual(sha1(message), expected, `length ${length}`);
  }
});

test("signKeySync (our SHA-1) equals signKey (crypto.subtle), and signKey rejects rather than throws", async () => {
  for (let i = 0; i < 20; i++) {
    const key = generateKey();
    assert.equal(signKeySync(key), await signKey(key));
  }
  // Any string is hashed as its UTF-8 bytes (a caller's key is taken exactly as given).
  const odd = "clé ünïcode";
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(odd + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    ),
  );
  assert.equal(await signKey(odd), btoa(String.fromCharCode(...digest)));
  // Keys of a valid key's length with a character past ASCII (hashed as UTF-8), before and
  // after valid keys: each call hashes its own key only.
  for (const key of ["dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZ\u00e9==", generateKey()]) {
    assert.equal(signKeySync(key), await signKey(key), key);
  }
  // deno-lint-ignore no-explicit-any
  const call = signKey(Symbol("not a string") as any);
  await assert.rejects(call, TypeError);
});
