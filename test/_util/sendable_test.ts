import { test } from "node:test";
import assert from "node:assert/strict";
import { checkSendable, describeValue } from "../../src/_util/sendable.ts";

const ALL = "a string, ArrayBuffer, ArrayBufferView or Blob";

test("checkSendable accepts strings, buffers, every view and Blobs", () => {
  const values: unknown[] = [
    "",
    "text",
    new ArrayBuffer(3),
    new Uint8Array(2),
    new Int16Array(2),
    new Float64Array(1),
    new DataView(new ArrayBuffer(4)),
    new Blob(["x"]),
  ];
  for (const value of values) checkSendable(value, "sink.add");
});

test("checkSendable throws a TypeError naming the API and the value", () => {
  const cases: Array<[unknown, string]> = [
    [42, "number 42"],
    [Number.NaN, "number NaN"],
    [true, "boolean true"],
    [null, "null"],
    [undefined, "undefined"],
    [10n, "bigint 10n"],
    [Symbol("s"), "symbol s"],
    [{ a: 1 }, 'Object {"a":1}'],
    [[1, 2], "Array [1,2]"],
    [Object.create(null), "Object {}"],
    [new Map(), "Map"],
    [() => {}, "function (anonymous)"],
    [{ long: "x".repeat(100) }, `Object {"long":"${"x".repeat(28)}...`],
  ];
  for (const [value, described] of cases) {
    assert.throws(
      () => checkSendable(value, "sink.add"),
      new TypeError(`sink.add expects ${ALL}; got ${described}`),
    );
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => checkSendable(cyclic, "x"), new TypeError(`x expects ${ALL}; got Object`));
});

test("checkSendable refuses a Blob when the caller cannot send one", () => {
  assert.throws(
    () => checkSendable(new Blob(["x"]), "client.send", { blob: false }),
    new TypeError("client.send expects a string, ArrayBuffer or ArrayBufferView; got Blob"),
  );
  checkSendable(new Uint8Array(1), "client.send", { blob: false });
});

test("checkSendable refuses SharedArrayBuffer and views over one", {
  skip: typeof SharedArrayBuffer === "undefined" ? "no SharedArrayBuffer" : false,
}, () => {
  const shared = new SharedArrayBuffer(8);
  assert.throws(
    () => checkSendable(new Uint8Array(shared), "sink.add"),
    new TypeError(
      `sink.add expects ${ALL}; got Uint8Array over a SharedArrayBuffer (copy it into an ArrayBuffer first)`,
    ),
  );
  assert.throws(() => checkSendable(new DataView(shared), "sink.add"), TypeError);
  assert.throws(
    () => checkSendable(shared, "sink.add"),
    new TypeError(`sink.add expects ${ALL}; got SharedArrayBuffer`),
  );
  // A copy is fine.
  checkSendable(new Uint8Array(shared).slice(), "sink.add");
});

test("describeValue looks at no more of a value than it shows", () => {
  const huge = Array.from({ length: 1_000_000 }, (_, i) => ({ i }));
  assert.equal(describeValue(huge), 'Array [{"i":0},{"i":1},{"i":2},{"i":3},{"i"...');
  let reads = 0;
  const counted = new Proxy({ a: 1, b: 2 }, {
    get(target, key) {
      reads++;
      return Reflect.get(target, key);
    },
  });
  const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, counted]));
  describeValue(wide);
  assert.ok(reads < 20, `${reads} field reads`);
});

test("describeValue survives a value that throws when looked at", () => {
  const hostile = new Proxy({}, {
    get() {
      throw new Error("no");
    },
  });
  assert.equal(describeValue(hostile), "a value that cannot be inspected");
});

test("describeValue keeps strings short", () => {
  assert.equal(describeValue("abc"), 'string "abc"');
  assert.equal(describeValue("y".repeat(50)), `string "${"y".repeat(36)}...`);
});
