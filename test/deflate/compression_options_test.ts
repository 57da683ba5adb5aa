import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveCompression } from "../../src/deflate/compression_options.ts";

test("resolveCompression maps false/undefined to off and true to defaults", () => {
  assert.equal(resolveCompression(undefined), null);
  assert.equal(resolveCompression(false), null);
  assert.deepEqual(resolveCompression(true), { threshold: 1024, maxConcurrency: 10 });
  assert.deepEqual(resolveCompression({ threshold: 0, clientMaxWindowBits: true }), {
    threshold: 0,
    maxConcurrency: 10,
    clientMaxWindowBits: true,
  });
});

test("resolveCompression rejects invalid settings at configuration time", () => {
  for (
    const bad of [
      { threshold: -1 },
      { threshold: NaN },
      { maxConcurrency: 0 },
      { maxConcurrency: 2.5 },
      { serverMaxWindowBits: 8 },
      { serverMaxWindowBits: 16 },
      { clientMaxWindowBits: 8 },
      { serverMaxWindowBits: true as unknown as number },
    ]
  ) {
    assert.throws(() => resolveCompression(bad), RangeError, JSON.stringify(bad));
  }
  assert.throws(() => resolveCompression("yes" as unknown as boolean), TypeError);
});
