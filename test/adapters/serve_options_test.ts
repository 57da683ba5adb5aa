import { test } from "node:test";
import assert from "node:assert/strict";
import { checkServerOptions, serverOptionValues } from "../../src/adapters/server_option_checks.ts";
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

test("serverOptionValues reads the options a class instance inherits, callbacks bound to it", () => {
  class Base {
    #hits = 0;
    port = 8080;
    get hostname(): string {
      return "127.0.0.1";
    }
    // Not an option: never read.
    get database(): never {
      throw new Error("not connected");
    }
    onChannel(): number {
      return ++this.#hits;
    }
    onError(): string {
      return "base";
    }
    helper(): void {}
  }
  class Derived extends Base {
    override onError(): string {
      return "derived";
    }
  }
  const instance = new Derived();
  const copy = { ...serverOptionValues(instance) } as Record<string, unknown>;
  assert.deepEqual(Object.keys(copy).sort(), ["hostname", "onChannel", "onError", "port"]);
  assert.equal(copy.port, 8080);
  assert.equal(copy.hostname, "127.0.0.1");
  // A private field needs the instance itself as `this`.
  assert.equal((copy.onChannel as () => number)(), 1);
  assert.equal(instance.onChannel(), 2);
  // The nearest definition wins.
  assert.equal((copy.onError as () => string)(), "derived");
  // Assigning an option afterwards does not change the copy.
  instance.port = 1;
  assert.equal(copy.port, 8080);
});

test("serverOptionValues keeps own, non-enumerable and lazily bound options", () => {
  // What an autobind decorator does: a prototype getter that defines a
  // non-enumerable own property on first read.
  class Autobound {
    port = 0;
    get onChannel(): () => void {
      const bound = () => {};
      Object.defineProperty(this, "onChannel", { value: bound, enumerable: false });
      return bound;
    }
  }
  const autobound = new Autobound();
  assert.equal(typeof autobound.onChannel, "function");
  assert.equal(typeof serverOptionValues(autobound).onChannel, "function");
  const hidden = Object.defineProperty({}, "protocols", { value: ["chat"], enumerable: false });
  assert.deepEqual(serverOptionValues(hidden as { protocols?: string[] }).protocols, ["chat"]);
  // Own enumerable keys are kept as a spread keeps them, "__proto__" and symbols included.
  const symbol = Symbol("key");
  const source = JSON.parse('{"__proto__": {"port": 1}, "hostname": "::1", "extra": 2}');
  source[symbol] = true;
  const copy = serverOptionValues(source);
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value, { port: 1 });
  assert.equal(copy.hostname, "::1");
  assert.equal(copy.extra, 2);
  assert.equal(copy[symbol], true);
  assert.equal(copy.port, undefined);
  // A handler without Function.prototype in its chain is still bound.
  const bare = Object.setPrototypeOf(function (this: unknown) {
    return this;
  }, null);
  const options = { onChannel: bare };
  assert.equal(
    Reflect.apply(Function.prototype.call, serverOptionValues(options).onChannel, []),
    options,
  );
});

test("checkServerOptions checks the values it keeps, reading each option once", () => {
  let reads = 0;
  const options = {
    get idleTimeout(): number {
      // A valid value first, then an invalid one.
      return reads++ === 0 ? 30 : -1;
    },
  };
  assert.equal(checkServerOptions(options).idleTimeout, 30);
  assert.equal(reads, 1);
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

test("checkServerOptions validates the high-water marks the engine servers pass on", () => {
  for (const name of ["readableHighWaterMark", "writableHighWaterMark"]) {
    for (const value of [NaN, -1]) {
      assert.throws(() => checkServerOptions({ [name]: value }), RangeError, `${name} ${value}`);
    }
    assert.throws(() => checkServerOptions({ [name]: "1" }), TypeError, name);
    // Read from a class instance too, and kept.
    class Options {
      get [name](): number {
        return 4096;
      }
    }
    assert.equal((checkServerOptions(new Options()) as Record<string, unknown>)[name], 4096);
  }
});
