import assert from "node:assert/strict";
import { test } from "node:test";
import { ProtocolError } from "../../src/engine/errors.ts";
import type { Frame } from "../../src/engine/frame.ts";
import {
  DEFAULT_MAX_FRAGMENTS,
  maxCompressedSize,
  MessageAssembler,
} from "../../src/engine/message_assembler.ts";
import { hex } from "../_util/hex.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

const frame = (
  fin: boolean,
  opcode: number,
  payload: Uint8Array | string,
  rsv1 = false,
): Frame => ({
  fin,
  rsv1,
  opcode: opcode as 1,
  payload: typeof payload === "string" ? new TextEncoder().encode(payload) : payload,
});

function throwsCode(fn: () => unknown, closeCode: number, code: string): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof ProtocolError && e.closeCode === closeCode && e.code === code,
  );
}

test("MessageAssembler returns a single-frame message as a view without copying", () => {
  const assembler = new MessageAssembler();
  const payload = new Uint8Array([1, 2, 3]);
  const message = assembler.push(frame(true, 2, payload));
  assert.deepEqual(message, { type: "binary", data: payload });
  assert.equal((message as { data: Uint8Array }).data, payload);
  assert.deepEqual(assembler.push(frame(true, 1, "Hello")), { type: "text", data: "Hello" });
});

test("MessageAssembler joins fragments, skipping empty ones", () => {
  const assembler = new MessageAssembler();
  assert.equal(assembler.push(frame(false, 2, new Uint8Array([1]))), null);
  assert.ok(assembler.inMessage);
  assert.equal(assembler.push(frame(false, 0, new Uint8Array(0))), null);
  assert.equal(assembler.push(frame(false, 0, new Uint8Array([2, 3]))), null);
  const message = assembler.push(frame(true, 0, new Uint8Array([4])));
  assert.deepEqual(message, { type: "binary", data: new Uint8Array([1, 2, 3, 4]) });
  assert.ok(!assembler.inMessage);
});

test("MessageAssembler fails the frame past maxFragments with 1008, empty frames included", () => {
  for (const opcode of [1, 2]) {
    const assembler = new MessageAssembler({ maxFragments: 4 });
    assembler.push(frame(false, opcode, new Uint8Array(0)));
    assembler.push(frame(false, 0, new Uint8Array(0)));
    assembler.push(frame(false, 0, new Uint8Array(0)));
    assert.equal(assembler.push(frame(false, 0, new Uint8Array(0))), null);
    throwsCode(
      () => assembler.push(frame(true, 0, new Uint8Array(0))),
      1008,
      "WS_TOO_MANY_FRAGMENTS",
    );
  }
  // The count starts again with each message: four frames, then four more.
  const assembler = new MessageAssembler({ maxFragments: 4 });
  for (let message = 0; message < 2; message++) {
    assembler.push(frame(false, 2, new Uint8Array([1])));
    assembler.push(frame(false, 0, new Uint8Array(0)));
    assembler.push(frame(false, 0, new Uint8Array([2])));
    const done = assembler.push(frame(true, 0, new Uint8Array([3])));
    assert.deepEqual(done, { type: "binary", data: new Uint8Array([1, 2, 3]) });
  }
  assert.equal(DEFAULT_MAX_FRAGMENTS, 131_072);
});

test("MessageAssembler joins text from many tiny fragments and parts in order, small and large", () => {
  const assembler = new MessageAssembler({ maxFragments: Infinity });
  const expected: string[] = [];
  const random = new SeededRandom(7);
  // Single characters, multi-byte code points split across fragments, pieces around the
  // batching thresholds, and empty fragments, with addPart pieces inside some frames.
  assembler.push(frame(false, 1, ""));
  for (let i = 0; i < 3000; i++) {
    const kind = random.int(6);
    if (kind === 0) {
      assembler.push(frame(false, 0, "x"));
      expected.push("x");
    } else if (kind === 1) {
      assembler.push(frame(false, 0, hex("e2 82")));
      assembler.push(frame(false, 0, hex("ac")));
      expected.push("€");
    } else if (kind === 2) {
      const text = "λ".repeat(random.int(1200));
      assembler.push(frame(false, 0, text));
      expected.push(text);
    } else if (kind === 3) {
      assembler.push(frame(false, 0, ""));
    } else {
      // One frame whose payload arrives in pieces, split inside a code point.
      const bytes = new TextEncoder().encode(`ü${i}${"y".repeat(random.int(2100))}`);
      const header = { fin: false, rsv1: false, opcode: 0 as const, length: bytes.length };
      assembler.beginFrame({ ...header, masked: false });
      const cut = random.int(bytes.length);
      assembler.addPart(bytes.subarray(0, 1));
      if (cut > 1) assembler.addPart(bytes.subarray(1, cut));
      assert.equal(assembler.endFrame({ ...header, payload: bytes }), null);
      expected.push(new TextDecoder().decode(bytes));
    }
  }
  const message = assembler.push(frame(true, 0, "!"));
  assert.ok(message?.type === "text");
  assert.equal(message.data, expected.join("") + "!");
  // Nothing carries over into the next message, nor after a reset mid-message.
  assembler.push(frame(false, 1, "a"));
  assembler.reset();
  assembler.push(frame(false, 1, "b"));
  assert.deepEqual(assembler.push(frame(true, 0, "c")), { type: "text", data: "bc" });
});

test("MessageAssembler decodes text split inside a code point", () => {
  const assembler = new MessageAssembler();
  assembler.push(frame(false, 1, hex("e2")));
  assembler.push(frame(false, 0, hex("82")));
  assert.deepEqual(assembler.push(frame(true, 0, hex("ac 21"))), { type: "text", data: "€!" });
});

test("MessageAssembler enforces fragment order with 1002", () => {
  throwsCode(
    () => new MessageAssembler().push(frame(true, 0, "x")),
    1002,
    "WS_UNEXPECTED_CONTINUATION",
  );
  const assembler = new MessageAssembler();
  assembler.push(frame(false, 1, "a"));
  throwsCode(() => assembler.push(frame(true, 2, "b")), 1002, "WS_EXPECTED_CONTINUATION");
});

test("MessageAssembler enforces maxMessageSize across fragments with 1009", () => {
  const assembler = new MessageAssembler({ maxMessageSize: 10 });
  assembler.push(frame(false, 2, new Uint8Array(6)));
  throwsCode(() => assembler.push(frame(true, 0, new Uint8Array(5))), 1009, "WS_MESSAGE_TOO_BIG");
  const exact = new MessageAssembler({ maxMessageSize: 10 });
  exact.push(frame(false, 2, new Uint8Array(6)));
  assert.equal(
    (exact.push(frame(true, 0, new Uint8Array(4))) as { data: Uint8Array }).data.length,
    10,
  );
});

test("MessageAssembler lets an RSV1 message take the deflate overhead, and keeps the exact limit otherwise", () => {
  const limit = 1000;
  const wire = maxCompressedSize(limit);
  assert.equal(wire, 1000 + 125 + 16 + 64);
  const fits = new MessageAssembler({ maxMessageSize: limit });
  fits.push(frame(false, 2, new Uint8Array(600), true));
  const message = fits.push(frame(true, 0, new Uint8Array(wire - 600)));
  assert.ok(message?.type === "compressed" && message.data.length === wire);
  const over = new MessageAssembler({ maxMessageSize: limit });
  over.push(frame(false, 2, new Uint8Array(600), true));
  throwsCode(
    () => over.push(frame(true, 0, new Uint8Array(wire - 599))),
    1009,
    "WS_MESSAGE_TOO_BIG",
  );
  // The next uncompressed message is held to maxMessageSize again.
  const plain = new MessageAssembler({ maxMessageSize: limit });
  plain.push(frame(true, 2, new Uint8Array(wire), true));
  throwsCode(
    () => plain.push(frame(true, 2, new Uint8Array(limit + 1))),
    1009,
    "WS_MESSAGE_TOO_BIG",
  );
});

test("MessageAssembler fails invalid text in a fragment before FIN, and in parts before the frame ends", () => {
  const assembler = new MessageAssembler();
  assembler.push(frame(false, 1, "κόσμε"));
  throwsCode(() => assembler.push(frame(false, 0, hex("f4 90 80 80"))), 1007, "WS_INVALID_UTF8");
  const parts = new MessageAssembler();
  parts.beginFrame({ fin: true, rsv1: false, opcode: 1, length: 20, masked: true });
  parts.addPart(new TextEncoder().encode("κόσμε"));
  throwsCode(() => parts.addPart(hex("f4 90")), 1007, "WS_INVALID_UTF8");
});

test("MessageAssembler decodes parts already given to addPart only once", () => {
  const assembler = new MessageAssembler();
  const bytes = new TextEncoder().encode("Hello, world");
  assembler.beginFrame({ fin: true, rsv1: false, opcode: 1, length: bytes.length, masked: true });
  assembler.addPart(bytes.subarray(0, 5));
  assembler.addPart(bytes.subarray(5));
  assert.deepEqual(assembler.endFrame(frame(true, 1, bytes)), {
    type: "text",
    data: "Hello, world",
  });
});

test("MessageAssembler fails text that ends inside a code point with 1007", () => {
  throwsCode(
    () => new MessageAssembler().push(frame(true, 1, hex("e2 82"))),
    1007,
    "WS_INVALID_UTF8",
  );
});

test("MessageAssembler reports RSV1 messages as compressed raw bytes without UTF-8 checks", () => {
  const assembler = new MessageAssembler();
  assembler.push(frame(false, 1, hex("ff"), true));
  assert.deepEqual(assembler.push(frame(true, 0, hex("fe"))), {
    type: "compressed",
    binary: false,
    data: hex("ff fe"),
  });
  assert.deepEqual(assembler.push(frame(true, 2, hex("01"), true)), {
    type: "compressed",
    binary: true,
    data: hex("01"),
  });
});

test("MessageAssembler reset drops a message in progress, even mid code point", () => {
  const assembler = new MessageAssembler();
  assembler.push(frame(false, 1, hex("e2")));
  assembler.reset();
  assert.ok(!assembler.inMessage);
  assert.deepEqual(assembler.push(frame(true, 1, "ok")), { type: "text", data: "ok" });
});
