import assert from "node:assert/strict";
import { test } from "node:test";
import { isOriginAllowed } from "../../src/handshake/origin_policy.ts";

// A9 / H9: full-origin comparison, no substring, suffix or partial regex match.
test("isOriginAllowed compares scheme, host and port exactly", async () => {
  const policy = ["https://example.com", "http://localhost:8080"];
  const allowed = [
    "https://example.com",
    "http://localhost:8080",
    "https://EXAMPLE.com",
    "HTTPS://example.com",
  ];
  const refused = [
    "https://evil.example",
    "null",
    "https://example.com.evil.com",
    "https://evilexample.com",
    "https://sub.example.com",
    "http://example.com",
    "https://example.com:444",
    "https://example.com:443",
    "http://localhost",
    "http://localhost:8081",
    "https://example.com/",
    "https://example.com/path",
    "https://user@example.com",
    "example.com",
    "",
    "https://example.com, https://evil.example",
    "\u00ff\u00fe",
  ];
  for (const origin of allowed) assert.ok(await isOriginAllowed(origin, policy), origin);
  for (const origin of refused) assert.equal(await isOriginAllowed(origin, policy), false, origin);
});

test("isOriginAllowed anchors regular expressions", async () => {
  const policy = [/https:\/\/example\.com/, /https:\/\/[a-z]+\.example\.org/g];
  assert.ok(await isOriginAllowed("https://example.com", policy));
  assert.ok(await isOriginAllowed("https://app.example.org", policy));
  assert.ok(await isOriginAllowed("https://app.example.org", policy)); // g flag keeps no state
  assert.equal(await isOriginAllowed("https://example.com.evil.com", policy), false);
  assert.equal(await isOriginAllowed("https://evil.com/?https://example.com", policy), false);
  assert.equal(await isOriginAllowed("http://example.com", policy), false);
  assert.equal(await isOriginAllowed("https://app.example.org.evil", policy), false);
  // Alternation must be anchored as a whole, not only its first branch.
  assert.equal(await isOriginAllowed("https://x.evil", [/https:\/\/a|https:\/\/x\.evil.*/]), true);
  assert.equal(await isOriginAllowed("https://ab", [/https:\/\/a|https:\/\/x/]), false);
});

test("isOriginAllowed accepts a missing Origin with a list and lets callbacks decide", async () => {
  assert.ok(await isOriginAllowed(null, ["https://example.com"]));
  assert.equal(await isOriginAllowed(null, (origin) => origin !== null), false);
  assert.ok(await isOriginAllowed("https://a.example", (origin) => origin === "https://a.example"));
  assert.ok(await isOriginAllowed("https://a.example", () => Promise.resolve(true)));
  assert.equal(
    await isOriginAllowed("https://a.example", () => "yes" as unknown as boolean),
    false,
  );
});

test("isOriginAllowed matches the literal null origin only when listed", async () => {
  assert.equal(await isOriginAllowed("null", ["https://example.com"]), false);
  assert.ok(await isOriginAllowed("null", ["null"]));
});

test("isOriginAllowed accepts everything without a policy", async () => {
  assert.ok(await isOriginAllowed("https://evil.example", undefined));
  assert.ok(await isOriginAllowed(null, undefined));
});

test("isOriginAllowed rejects a malformed allowlist", async () => {
  await assert.rejects(isOriginAllowed("https://a.example", ["not a url"]), TypeError);
  await assert.rejects(isOriginAllowed("https://a.example", [42 as unknown as string]), TypeError);
});
