import { test } from "node:test";
import assert from "node:assert/strict";
import { checkServerOptions } from "../../src/adapters/serve_options.ts";
import { optionValues } from "../../src/_util/option_values.ts";
import { zlibCodec } from "../../src/adapters/zlib_codec.ts";

test("checkServerOptions throws TypeError / RangeError for invalid compression settings", () => {
  assert.throws(() => checkServerOptions({ compression: { threshold: -1 } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: { threshold: NaN } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: { maxConcurrency: 0 } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: { serverMaxWindowBits: 8 } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: { clientMaxWindowBits: 16 } }), RangeError);
  assert.throws(() => checkServerOptions({ compression: "on" as never }), TypeError);
  assert.throws(() => checkServerOptions({ compression: null as never }), TypeError);
});

test("checkServerOptions keeps other options and snapshots valid compression settings", () => {
  const calls: unknown[] = [];
  const options: { compression?: boolean; onChannel(channel: string): void } = {
    onChannel(channel) {
      calls.push(this, channel);
    },
  };
  assert.equal(checkServerOptions(options).compression, false);
  assert.equal(checkServerOptions({ compression: false }).compression, false);
  // The same function, called as a method of the caller's object whichever copy calls it.
  const { onChannel } = checkServerOptions(options);
  onChannel("channel");
  assert.deepEqual(calls, [options, "channel"]);
  assert.equal(onChannel.length, 1);
  const settings = { threshold: 100, clientNoContextTakeover: false };
  const checked = checkServerOptions({ compression: settings });
  // The engine paths compress with node:zlib unless a codec (or null) was chosen.
  assert.deepEqual(checked.compression, { ...settings, maxConcurrency: 10, codec: zlibCodec });
  // Changing the caller's object afterwards cannot break later handshakes.
  settings.threshold = -1;
  assert.equal((checked.compression as { threshold: number }).threshold, 100);
  assert.deepEqual(checkServerOptions({ compression: true }).compression, {
    threshold: 1024,
    maxConcurrency: 10,
    codec: zlibCodec,
  });
  const platform = checkServerOptions({ compression: { codec: null } }).compression;
  assert.equal((platform as { codec: unknown }).codec, null);
});

test("optionValues copies what a class instance has and inherits, bound to the instance", () => {
  class Base {
    #hits = 0;
    port = 8080;
    get hostname(): string {
      return "127.0.0.1";
    }
    onChannel(): number {
      return ++this.#hits;
    }
    onError(): string {
      return "base";
    }
  }
  class Derived extends Base {
    override onError(): string {
      return "derived";
    }
  }
  const instance = new Derived();
  Object.defineProperty(instance, "hidden", { value: 1, enumerable: false });
  const copy = { ...optionValues(instance) } as Record<string, unknown>;
  assert.deepEqual(Object.keys(copy).sort(), ["hostname", "onChannel", "onError", "port"]);
  assert.equal(copy.port, 8080);
  assert.equal(copy.hostname, "127.0.0.1");
  // A private field needs the instance itself as `this`.
  assert.equal((copy.onChannel as () => number)(), 1);
  assert.equal(instance.onChannel(), 2);
  // The nearest definition wins.
  assert.equal((copy.onError as () => string)(), "derived");
  // Changing the instance afterwards does not change the copy.
  instance.port = 1;
  assert.equal(copy.port, 8080);
});

test("optionValues keeps a plain object's own properties as a spread does", () => {
  const symbol = Symbol("key");
  const source = JSON.parse('{"__proto__": {"port": 1}, "hostname": "::1"}');
  source[symbol] = true;
  const copy = optionValues(source);
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value, { port: 1 });
  assert.equal(copy.hostname, "::1");
  assert.equal(copy[symbol], true);
  assert.equal(copy.port, undefined);
  const nullPrototype = Object.assign(Object.create(null), { port: 2 });
  assert.deepEqual({ ...optionValues(nullPrototype) }, { port: 2 });
});

test("checkServerOptions validates handshakeTimeout, maxPendingHandshakes and requireOrigin", () => {
  for (const handshakeTimeout of [0, -1, NaN, Infinity, 2 ** 31]) {
    assert.throws(
      () => checkServerOptions({ handshakeTimeout }),
      RangeError,
      String(handshakeTimeout),
    );
  }
  assert.throws(() => checkServerOptions({ handshakeTimeout: "10" as never }), TypeError);
  for (const maxPendingHandshakes of [0, -1, 1.5, NaN]) {
    assert.throws(
      () => checkServerOptions({ maxPendingHandshakes }),
      RangeError,
      String(maxPendingHandshakes),
    );
  }
  assert.throws(() => checkServerOptions({ maxPendingHandshakes: "8" as never }), TypeError);
  assert.throws(() => checkServerOptions({ requireOrigin: "yes" as never }), TypeError);
  const ok = checkServerOptions({
    handshakeTimeout: 1.5,
    maxPendingHandshakes: Infinity,
    requireOrigin: true,
  });
  assert.equal(ok.handshakeTimeout, 1.5);
  assert.equal(ok.maxPendingHandshakes, Infinity);
  assert.equal(ok.requireOrigin, true);
  assert.equal(checkServerOptions({ maxPendingHandshakes: 1 }).maxPendingHandshakes, 1);
});

test("serve() throws invalid options at the call, before listening", async () => {
  const module = "Deno" in globalThis
    ? await import("../../src/adapters/deno.ts")
    : "Bun" in globalThis
    ? await import("../../src/adapters/bun.ts")
    : await import("../../src/adapters/node.ts");
  const onChannel = () => {};
  const cases: Array<[Record<string, unknown>, ErrorConstructor]> = [
    [{ handshakeTimeout: 0 }, RangeError],
    [{ maxPendingHandshakes: 0 }, RangeError],
    [{ maxMessageSize: -1 }, RangeError],
    [{ maxFragments: 0.5 }, RangeError],
    [{ idleTimeout: "30" }, TypeError],
    [{ closeTimeout: 0 }, RangeError],
    [{ port: 70000 }, RangeError],
    [{ hostname: 127 }, TypeError],
    [{ onChannel: "echo" }, TypeError],
    [{ answerPingMessages: "ping" }, TypeError],
    [{ answerPingMessages: { ping: 1 } }, TypeError],
  ];
  for (const [bad, type] of cases) {
    assert.throws(
      () => module.serve({ hostname: "127.0.0.1", onChannel, ...bad } as never),
      type,
      JSON.stringify(bad),
    );
  }
  // A port in use is not a programming error: it rejects.
  const first = await module.serve({ hostname: "127.0.0.1", port: 0, onChannel });
  try {
    await assert.rejects(module.serve({ hostname: "127.0.0.1", port: first.port, onChannel }));
  } finally {
    await first.close();
  }
});
