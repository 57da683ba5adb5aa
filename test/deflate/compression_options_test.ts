import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkCompression,
  type CompressionOptions,
  resolveCompression,
  withCodec,
} from "../../src/deflate/compression_options.ts";
import type { DeflateCodec } from "../../src/deflate/deflate_codec.ts";

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

test("resolveCompression and withCodec keep what a settings instance inherits, read once", () => {
  let reads = 0;
  class Base {
    get serverMaxWindowBits(): number {
      reads++;
      return 10;
    }
  }
  class Settings extends Base {
    clientNoContextTakeover = true;
  }
  const resolved = resolveCompression(new Settings())!;
  assert.equal(resolved.serverMaxWindowBits, 10);
  assert.equal(resolved.clientNoContextTakeover, true);
  assert.equal(resolved.threshold, 1024);
  // Validated and copied from one read.
  assert.equal(reads, 1);
  assert.throws(() =>
    resolveCompression(
      new (class extends Base {
        override get serverMaxWindowBits(): number {
          return 8;
        }
      })(),
    ), RangeError);

  const codec = { deflater: () => ({}), inflater: () => ({}) } as unknown as DeflateCodec;
  const withIt = withCodec(new Settings(), codec) as CompressionOptions;
  assert.equal(withIt.codec, codec);
  assert.equal(withIt.serverMaxWindowBits, 10);
  assert.equal(withIt.clientNoContextTakeover, true);
  const own = withCodec(
    Object.assign(new Settings(), { codec: null }),
    codec,
  ) as CompressionOptions;
  assert.equal(own.codec, null);
  assert.equal(own.serverMaxWindowBits, 10);
});

test("checkCompression throws what resolveCompression throws, and accepts what it accepts", () => {
  const bad: unknown[] = [
    "yes",
    null,
    { threshold: -1 },
    { maxConcurrency: 0 },
    { serverMaxWindowBits: 8 },
    { clientMaxWindowBits: 16 },
    { codec: {} },
  ];
  for (const value of bad) {
    const expected = (() => {
      try {
        resolveCompression(value as CompressionOptions);
      } catch (error) {
        return (error as Error).constructor;
      }
      return undefined;
    })();
    assert.ok(expected, String(value));
    assert.throws(() => checkCompression(value as CompressionOptions), expected as never);
  }
  for (const value of [undefined, false, true, { threshold: 0, clientMaxWindowBits: true }]) {
    checkCompression(value);
  }
});
