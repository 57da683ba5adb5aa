import assert from "node:assert/strict";
import { test } from "node:test";
import { WebSocketError } from "../../src/engine/errors.ts";
import { maxCompressedSize } from "../../src/engine/message_assembler.ts";
import { MAX_PENDING_PONGS, Protocol, type ProtocolEvent } from "../../src/engine/protocol.ts";
import { concatBytes, hex, toHex } from "../_util/hex.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import {
  clientFrame,
  closeBody,
  feed,
  feedBytewise,
  outgoing,
  RFC_KEY,
  serverFrame,
  summarize,
} from "./_frames.ts";

const newServer = (options: { maxMessageSize?: number; allowRsv1?: boolean } = {}) =>
  new Protocol({ role: "server", ...options });
const fixedKey = (key: Uint8Array) => (target: Uint8Array) => target.set(key);

function expectError(events: ProtocolEvent[], closeCode: number, code?: string): void {
  const last = events[events.length - 1];
  assert.ok(
    last !== undefined && last.type === "error",
    `expected an error event, got ${JSON.stringify(summarize(events))}`,
  );
  assert.equal(last.error.closeCode, closeCode);
  if (code !== undefined) assert.equal(last.error.code, code);
}

/** The close frame a server sends with `code` (any reason). */
function sentCloseCode(bytes: Uint8Array): number | undefined {
  assert.equal(bytes[0], 0x88, `expected a close frame, got ${toHex(bytes)}`);
  return bytes[1] >= 2 ? (bytes[2] << 8) | bytes[3] : undefined;
}

test("Protocol client encodes the RFC 6455 §5.7 masked Hello and pong byte-exactly", () => {
  const client = new Protocol({ role: "client", fillMask: fixedKey(RFC_KEY) });
  client.sendText("Hello");
  assert.equal(toHex(outgoing(client)), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
  client.sendPong(new TextEncoder().encode("Hello"));
  assert.equal(toHex(outgoing(client)), "8a 85 37 fa 21 3d 7f 9f 4d 51 58");
});

test("Protocol server encodes the RFC 6455 §5.7 unmasked frames byte-exactly", () => {
  const server = newServer();
  server.sendText("Hello");
  assert.equal(toHex(outgoing(server)), "81 05 48 65 6c 6c 6f");
  server.sendPing(new TextEncoder().encode("Hello"));
  assert.equal(toHex(outgoing(server)), "89 05 48 65 6c 6c 6f");
  const small = new Uint8Array(256);
  server.sendBinary(small);
  assert.equal(toHex(outgoing(server).subarray(0, 4)), "82 7e 01 00");
  const big = new Uint8Array(65536);
  server.sendBinary(big);
  const parts = server.takeOutgoing();
  assert.equal(toHex(parts[0]), "82 7f 00 00 00 00 00 01 00 00");
  // By reference: a view of the caller's bytes, not a copy.
  assert.equal(parts[1].buffer, big.buffer, "a large unmasked payload is queued by reference");
  assert.equal(parts[1].length, big.length);
});

test("Protocol receives the RFC 6455 §5.7 examples on the client side", () => {
  const client = new Protocol({ role: "client" });
  const wire = hex("81 05 48 65 6c 6c 6f 01 03 48 65 6c 80 02 6c 6f 89 05 48 65 6c 6c 6f");
  assert.deepEqual(summarize(client.receive(wire)), [
    ["text", "Hello"],
    ["text", "Hello"],
    ["ping", "48 65 6c 6c 6f"],
  ]);
  assert.equal(toHex(outgoing(client).subarray(0, 2)), "8a 85"); // masked pong
});

test("Protocol copies payloads next to their header up to copyPayloadsUpTo, and checks the option", () => {
  const payload = new Uint8Array(100).fill(1);
  const whole = new Protocol({ role: "server" });
  whole.sendBinary(payload);
  assert.deepEqual(whole.takeOutgoing(), [concatBytes([hex("82 64"), payload])]);
  const split = new Protocol({ role: "server", copyPayloadsUpTo: 64 });
  split.sendBinary(payload);
  const parts = split.takeOutgoing();
  assert.equal(parts.length, 2);
  assert.equal(toHex(parts[0]), "82 64");
  // The caller's bytes, not a copy.
  assert.equal(parts[1].buffer, payload.buffer);
  assert.deepEqual(parts[1], payload);
  for (const bad of [-1, Number.NaN]) {
    assert.throws(() => new Protocol({ role: "server", copyPayloadsUpTo: bad }), RangeError);
  }
});

test("Protocol copies received payloads out of their chunk up to copyReceivedUpTo, and checks the option", () => {
  const key = hex("37 fa 21 3d");
  const mask = (bytes: Uint8Array) => bytes.map((byte, i) => byte ^ key[i & 3]);
  const short = new Uint8Array(8).fill(7);
  const long = new Uint8Array(9).fill(9);
  const chunk = concatBytes([hex("82 88"), key, mask(short), hex("82 89"), key, mask(long)]);
  const sent = chunk.slice();
  const protocol = new Protocol({ role: "server", copyReceivedUpTo: 8 });
  const events = protocol.receive(chunk);
  assert.deepEqual(events.map((e) => e.type), ["binary", "binary"]);
  const [first, second] = events.map((e) => (e as { data: Uint8Array }).data);
  assert.deepEqual(first, short);
  assert.deepEqual(second, long);
  // Up to the limit: a buffer of its own, the chunk's bytes left masked; past it: a view.
  assert.notEqual(first.buffer, chunk.buffer);
  assert.equal(first.buffer.byteLength, 8);
  assert.deepEqual(chunk.subarray(0, 14), sent.subarray(0, 14));
  assert.equal(second.buffer, chunk.buffer);
  // Unmasked frames (the client side) and empty payloads are copied too.
  const client = new Protocol({ role: "client", copyReceivedUpTo: 4 });
  const [text, empty] = client.receive(hex("81 02 68 69 82 00"));
  assert.equal(text.type === "text" && text.data, "hi");
  assert.ok(empty.type === "binary" && empty.data.length === 0);
  for (const bad of [-1, Number.NaN]) {
    assert.throws(() => new Protocol({ role: "server", copyReceivedUpTo: bad }), RangeError);
  }
});

test("Protocol masks client frames with fresh keys and leaves the caller's bytes untouched", () => {
  const client = new Protocol({ role: "client" });
  const data = new Uint8Array(200).fill(0x55);
  const keys = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    client.sendBinary(data);
    const frame = outgoing(client);
    keys.add(toHex(frame.subarray(4, 8)));
  }
  assert.deepEqual(data, new Uint8Array(200).fill(0x55));
  assert.ok(keys.size > 2990, `only ${keys.size} distinct keys`);
  const server = newServer();
  client.sendBinary(data);
  assert.deepEqual(summarize(server.receive(outgoing(client))), [["binary", toHex(data)]]);
});

test("Protocol delivers every frame the same at every 2-way split", () => {
  const frames = [
    clientFrame(0x81, "Hello €"),
    clientFrame(0x82, new Uint8Array(300).map((_, i) => i)),
    clientFrame(0x89, "ping"),
    clientFrame(0x8a, ""),
    clientFrame(0x01, "Hel"),
    clientFrame(0x89, [1]),
    clientFrame(0x80, "lo"),
    clientFrame(0x82, new Uint8Array(70000).fill(3)),
    clientFrame(0x88, closeBody(1000, "bye")),
  ];
  const wire = concatBytes(frames);
  const reference = newServer();
  const expected = summarize(feed(reference, wire));
  const expectedOut = toHex(outgoing(reference));
  assert.equal(expected.length, 8);
  for (const frame of frames) {
    // Every boundary for small frames; for large ones every header/edge boundary and every 97th.
    const cuts: number[] = [];
    for (let cut = 1; cut < frame.length; cut++) {
      if (frame.length <= 400 || cut < 20 || cut > frame.length - 20 || cut % 97 === 0) {
        cuts.push(cut);
      }
    }
    const whole = summarize(feed(newServer(), frame));
    for (const cut of cuts) {
      assert.deepEqual(summarize(feed(newServer(), frame, [cut])), whole, `cut ${cut}`);
    }
  }
  const bytewise = newServer();
  assert.deepEqual(summarize(feedBytewise(bytewise, wire)), expected);
  assert.equal(toHex(outgoing(bytewise)), expectedOut);
});

test("Protocol keeps a close frame's code and reason at every 3-way split (K9)", () => {
  const wire = hex("88 85 37 fa 21 3d");
  const body = closeBody(4000, "bye").map((b, i) => b ^ RFC_KEY[i & 3]);
  const frame = concatBytes([wire, body]);
  for (let a = 1; a < frame.length; a++) {
    for (let b = a; b < frame.length; b++) {
      const server = newServer();
      assert.deepEqual(
        summarize(feed(server, frame, [a, b])),
        [["close", 4000, "bye"]],
        `${a},${b}`,
      );
      assert.equal(sentCloseCode(outgoing(server)), 4000);
    }
  }
});

test("Protocol answers a ping with a pong carrying the same data", () => {
  const server = newServer();
  assert.deepEqual(summarize(server.receive(clientFrame(0x89, "abc"))), [["ping", "61 62 63"]]);
  assert.equal(toHex(outgoing(server)), "8a 03 61 62 63");
});

test("Protocol answers a ping between fragments at once, then delivers the message (F9)", () => {
  const server = newServer();
  const first = feed(server, concatBytes([clientFrame(0x01, "Hel"), clientFrame(0x89, "x")]));
  assert.deepEqual(summarize(first), [["ping", "78"]]);
  assert.equal(toHex(outgoing(server)), "8a 01 78");
  assert.deepEqual(summarize(feed(server, clientFrame(0x80, "lo"))), [["text", "Hello"]]);
});

test("Protocol echoes the peer's close code and reports it", () => {
  for (
    const code of [
      1000,
      1001,
      1002,
      1003,
      1007,
      1008,
      1009,
      1010,
      1011,
      1012,
      1013,
      1014,
      3000,
      3999,
      4000,
      4999,
    ]
  ) {
    const server = newServer();
    assert.deepEqual(summarize(server.receive(clientFrame(0x88, closeBody(code, "r")))), [[
      "close",
      code,
      "r",
    ]]);
    assert.equal(sentCloseCode(outgoing(server)), code, `code ${code}`);
    assert.equal(server.state, "closed");
  }
});

test("Protocol reports 1005 for an empty close and replies with an empty close (K1)", () => {
  const server = newServer();
  assert.deepEqual(summarize(server.receive(clientFrame(0x88))), [["close", 1005, ""]]);
  assert.equal(toHex(outgoing(server)), "88 00");
});

test("Protocol fails a 1-byte close body with 1002 (K2)", () => {
  const server = newServer();
  expectError(server.receive(clientFrame(0x88, [0x03])), 1002, "WS_INVALID_CLOSE_PAYLOAD");
  assert.equal(sentCloseCode(outgoing(server)), 1002);
});

test("Protocol accepts a 123-byte close reason and fails a 124-byte one (K3, K4)", () => {
  const ok = newServer();
  assert.deepEqual(summarize(ok.receive(clientFrame(0x88, closeBody(1000, "a".repeat(123))))), [
    ["close", 1000, "a".repeat(123)],
  ]);
  const tooLong = newServer();
  expectError(tooLong.receive(clientFrame(0x88, closeBody(1000, "a".repeat(124)))), 1002);
});

test("Protocol fails a close reason that is not UTF-8 with 1007 (K5)", () => {
  const server = newServer();
  expectError(
    server.receive(clientFrame(0x88, closeBody(1000, new Uint8Array([0xff, 0xff])))),
    1007,
  );
  assert.equal(sentCloseCode(outgoing(server)), 1007);
});

test("Protocol fails close codes peers may not send with 1002 (K6, K7)", () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    const server = newServer();
    expectError(server.receive(clientFrame(0x88, closeBody(code))), 1002, "WS_INVALID_CLOSE_CODE");
    assert.equal(sentCloseCode(outgoing(server)), 1002);
  }
});

test("Protocol ignores data, pings and a second close after the peer's close (K10-K12)", () => {
  const server = newServer();
  const wire = concatBytes([
    clientFrame(0x88, closeBody(1000)),
    clientFrame(0x81, "late"),
    clientFrame(0x89, "p"),
    clientFrame(0x88, closeBody(1001)),
  ]);
  assert.deepEqual(summarize(server.receive(wire)), [["close", 1000, ""]]);
  assert.deepEqual(summarize(server.receive(clientFrame(0x89, "again"))), []);
  assert.equal(toHex(outgoing(server)), "88 02 03 e8");
});

test("Protocol completes the close handshake when a close arrives mid-message (K13)", () => {
  const server = newServer();
  const events = server.receive(
    concatBytes([clientFrame(0x01, "par"), clientFrame(0x88, closeBody(1000))]),
  );
  assert.deepEqual(summarize(events), [["close", 1000, ""]]);
  assert.equal(sentCloseCode(outgoing(server)), 1000);
});

test("Protocol discards data frames after sending close until the peer's close", () => {
  const server = newServer();
  server.sendClose(1000, "done");
  assert.equal(server.state, "closing");
  assert.equal(sentCloseCode(outgoing(server)), 1000);
  const events = server.receive(concatBytes([
    clientFrame(0x81, "ignored"),
    clientFrame(0x01, "frag"),
    clientFrame(0x89, "ping"),
    clientFrame(0x80, "ment"),
    clientFrame(0x88, closeBody(1000, "ok")),
  ]));
  assert.deepEqual(summarize(events), [["close", 1000, "ok"]]);
  assert.equal(server.takeOutgoing().length, 0, "no pong and no second close");
  assert.equal(server.state, "closed");
});

test("Protocol still fails framing errors while closing, without a second close frame", () => {
  const server = newServer();
  server.sendClose();
  server.takeOutgoing();
  expectError(server.receive(clientFrame(0x83)), 1002);
  assert.equal(server.takeOutgoing().length, 0);
  assert.equal(server.state, "closed");
});

test("Protocol throws WS_INVALID_STATE when sending after close", () => {
  const server = newServer();
  server.sendClose(1000);
  for (
    const send of [
      () => server.sendText("x"),
      () => server.sendBinary(new Uint8Array(1)),
      () => server.sendPing(),
      () => server.sendPong(),
      () => server.sendClose(1000),
    ]
  ) {
    assert.throws(
      send,
      (e: unknown) => e instanceof WebSocketError && e.code === "WS_INVALID_STATE",
    );
  }
});

test("Protocol validates close arguments before changing state (K14)", () => {
  const server = newServer();
  for (const code of [1005, 1006, 1015, 999, 5000, 1004, 2000, 1000.5]) {
    assert.throws(() => server.sendClose(code), RangeError, `code ${code}`);
  }
  assert.throws(() => server.sendClose(1000, "é".repeat(62)), RangeError);
  assert.throws(() => server.sendClose(1000, new Float32Array(4) as unknown as string), TypeError);
  assert.throws(() => server.sendClose(undefined, "reason"), TypeError);
  assert.equal(server.state, "open");
  assert.equal(server.outgoingBytes, 0);
  server.sendClose(1000, "é".repeat(61));
  assert.equal(server.outgoingBytes, 2 + 2 + 122);
});

test("Protocol rejects control payloads over 125 bytes on send", () => {
  const server = newServer();
  assert.throws(() => server.sendPing(new Uint8Array(126)), RangeError);
  assert.throws(() => server.sendPong(new Uint8Array(126)), RangeError);
  server.sendPing(new Uint8Array(125));
  assert.equal(server.outgoingBytes, 127);
});

test("Protocol fails a continuation without a message with 1002 (F7)", () => {
  for (const b0 of [0x80, 0x00]) {
    expectError(newServer().receive(clientFrame(b0, "Hello")), 1002, "WS_UNEXPECTED_CONTINUATION");
  }
});

test("Protocol fails a new data frame inside a fragmented message with 1002 (F8)", () => {
  const server = newServer();
  expectError(
    server.receive(concatBytes([clientFrame(0x01, "abc"), clientFrame(0x01, "def")])),
    1002,
    "WS_EXPECTED_CONTINUATION",
  );
  expectError(
    newServer().receive(concatBytes([clientFrame(0x01, "abc"), clientFrame(0x82, "def")])),
    1002,
  );
});

test("Protocol fails fragmented and oversized control frames with 1002 (F5, F6)", () => {
  expectError(newServer().receive(clientFrame(0x09)), 1002);
  expectError(newServer().receive(concatBytes([clientFrame(0x09), clientFrame(0x80)])), 1002);
  expectError(newServer().receive(clientFrame(0x0a)), 1002);
  expectError(
    newServer().receive(clientFrame(0x89, new Uint8Array(126))),
    1002,
    "WS_CONTROL_FRAME_TOO_LONG",
  );
});

test("Protocol fails a message over maxMessageSize with 1009, in one frame or across fragments (F15)", () => {
  const one = newServer({ maxMessageSize: 1000 });
  expectError(one.receive(clientFrame(0x82, new Uint8Array(1001))), 1009, "WS_MESSAGE_TOO_BIG");
  assert.equal(sentCloseCode(outgoing(one)), 1009);
  const exact = newServer({ maxMessageSize: 1000 });
  assert.equal(exact.receive(clientFrame(0x82, new Uint8Array(1000)))[0].type, "binary");
  const fragments = newServer({ maxMessageSize: 1000 });
  const events = fragments.receive(concatBytes([
    clientFrame(0x02, new Uint8Array(600)),
    clientFrame(0x80, new Uint8Array(401)),
  ]));
  expectError(events, 1009);
  // Only the header of the offending fragment is needed.
  const early = newServer({ maxMessageSize: 1000 });
  early.receive(clientFrame(0x02, new Uint8Array(600)));
  expectError(early.receive(hex("80 fe 01 91 00 00 00 00")), 1009);
});

test("Protocol with permessage-deflate accepts RSV1 messages up to maxCompressedSize, uncompressed ones up to maxMessageSize (Z2)", () => {
  const limit = 1000;
  const wire = maxCompressedSize(limit);
  const server = newServer({ maxMessageSize: limit, allowRsv1: true });
  const one = server.receive(clientFrame(0xc2, new Uint8Array(wire)));
  assert.deepEqual(summarize(one).map((event) => (event as unknown[])[0]), ["compressed"]);
  const fragmented = server.receive(concatBytes([
    clientFrame(0x42, new Uint8Array(wire - 100)),
    clientFrame(0x80, new Uint8Array(100)),
  ]));
  assert.equal((fragmented[0] as { data: Uint8Array }).data.length, wire);
  assert.equal(server.receive(clientFrame(0x82, new Uint8Array(limit)))[0].type, "binary");
  // Past the allowance, and an uncompressed message of one byte more: 1009 from the header.
  const big = newServer({ maxMessageSize: limit, allowRsv1: true });
  expectError(big.receive(clientFrame(0xc2, new Uint8Array(wire + 1))), 1009, "WS_MESSAGE_TOO_BIG");
  const plain = newServer({ maxMessageSize: limit, allowRsv1: true });
  expectError(plain.receive(hex("82 fe 03 e9 00 00 00 00")), 1009, "WS_MESSAGE_TOO_BIG");
  assert.equal(sentCloseCode(outgoing(plain)), 1009);
  // Without permessage-deflate the frame limit stays exact.
  const exact = newServer({ maxMessageSize: limit });
  expectError(exact.receive(hex("82 fe 03 e9 00 00 00 00")), 1009, "WS_MESSAGE_TOO_BIG");
});

/** `count` empty masked continuation frames, back to back. */
function emptyContinuations(count: number): Uint8Array {
  const empty = clientFrame(0x00);
  const wire = new Uint8Array(empty.length * count);
  for (let i = 0; i < count; i++) wire.set(empty, i * empty.length);
  return wire;
}

test("Protocol accepts a message of 131,072 frames, most of them empty (F16)", () => {
  const server = newServer();
  const wire = emptyContinuations(131_070);
  const events = feed(server, concatBytes([clientFrame(0x01, "a"), wire, clientFrame(0x80, "b")]));
  assert.deepEqual(summarize(events), [["text", "ab"]]);
});

test("Protocol fails the 131,073rd frame of a message with 1008 WS_TOO_MANY_FRAGMENTS, before any FIN (F16)", () => {
  for (const opcode of [0x01, 0x02]) {
    const server = newServer();
    const events = feed(server, concatBytes([clientFrame(opcode), emptyContinuations(131_072)]));
    expectError(events, 1008, "WS_TOO_MANY_FRAGMENTS");
    assert.equal(sentCloseCode(outgoing(server)), 1008);
    assert.equal(server.state, "closed");
  }
});

test("Protocol maxFragments bounds frames per message, counts again for each message, rejects values below 1", () => {
  const server = new Protocol({ role: "server", maxFragments: 3 });
  const three = concatBytes([clientFrame(0x01, "a"), clientFrame(0x00), clientFrame(0x80, "b")]);
  assert.deepEqual(summarize(feed(server, concatBytes([three, three]))), [
    ["text", "ab"],
    ["text", "ab"],
  ]);
  // Control frames between fragments do not count.
  const ping = clientFrame(0x89, "p");
  const withPings = feed(
    server,
    concatBytes([clientFrame(0x02, [1]), ping, ping, clientFrame(0x80, [2])]),
  );
  assert.deepEqual(summarize(withPings).at(-1), ["binary", "01 02"]);
  expectError(
    feed(server, concatBytes([clientFrame(0x02), emptyContinuations(2), clientFrame(0x80)])),
    1008,
    "WS_TOO_MANY_FRAGMENTS",
  );
  for (const bad of [0, -1, NaN]) {
    assert.throws(() => new Protocol({ role: "server", maxFragments: bad }), RangeError);
  }
  const unlimited = new Protocol({ role: "server", maxFragments: Infinity });
  const many = feed(
    unlimited,
    concatBytes([clientFrame(0x01), emptyContinuations(140_000), clientFrame(0x80)]),
  );
  assert.deepEqual(summarize(many), [["text", ""]]);
});

test("Protocol fails invalid UTF-8 text with 1007 (F18)", () => {
  for (
    const bad of ["ff", "c0 af", "e0 80 af", "ed a0 80", "f4 90 80 80", "f8 88 80 80 80", "fe"]
  ) {
    const server = newServer();
    expectError(server.receive(clientFrame(0x81, hex(bad))), 1007, "WS_INVALID_UTF8");
    assert.equal(sentCloseCode(outgoing(server)), 1007);
  }
});

test("Protocol delivers a code point split across fragments (F19)", () => {
  const server = newServer();
  const events = feed(
    server,
    concatBytes([clientFrame(0x01, [0xe2]), clientFrame(0x80, [0x82, 0xac])]),
  );
  assert.deepEqual(summarize(events), [["text", "€"]]);
});

test("Protocol fails invalid UTF-8 in a fragment before the FIN arrives (F20, Autobahn 6.4.1/6.4.2)", () => {
  const server = newServer();
  assert.deepEqual(summarize(server.receive(clientFrame(0x01, "κόσμε"))), []);
  expectError(server.receive(clientFrame(0x00, [0xf4, 0x90, 0x80, 0x80])), 1007);
  assert.deepEqual(server.receive(clientFrame(0x80, "edited")), []);
  const split = newServer();
  split.receive(clientFrame(0x01, "κόσμε"));
  expectError(
    split.receive(clientFrame(0x00, [0xf4])).concat(split.receive(clientFrame(0x00, [0x90]))),
    1007,
  );
});

test("Protocol fails invalid UTF-8 inside one frame as soon as the bad chop arrives (Autobahn 6.4.3/6.4.4)", () => {
  const payload = concatBytes([
    new TextEncoder().encode("κόσμε"),
    hex("f4 90 80 80"),
    new TextEncoder().encode("edited"),
  ]);
  const frame = clientFrame(0x81, payload);
  const header = 6;
  const server = newServer();
  assert.deepEqual(server.receive(frame.slice(0, header + 11)), []);
  expectError(server.receive(frame.slice(header + 11, header + 15)), 1007);
  const byteByByte = newServer();
  let events: ProtocolEvent[] = [];
  for (let i = 0; i < header + 12; i++) {
    events = events.concat(byteByByte.receive(frame.slice(i, i + 1)));
  }
  expectError(events, 1007);
});

test("Protocol fails a text message ending mid code point with 1007 (F21)", () => {
  expectError(newServer().receive(clientFrame(0x81, [0xe2, 0x82])), 1007);
  expectError(
    newServer().receive(concatBytes([clientFrame(0x01, "a"), clientFrame(0x80, [0xe2])])),
    1007,
  );
});

test("Protocol delivers empty messages, fragmented or not (F22)", () => {
  const server = newServer();
  const events = server.receive(concatBytes([
    clientFrame(0x81),
    clientFrame(0x01),
    clientFrame(0x00),
    clientFrame(0x80),
    clientFrame(0x82),
    clientFrame(0x02),
    clientFrame(0x80),
  ]));
  assert.deepEqual(summarize(events), [["text", ""], ["text", ""], ["binary", ""], ["binary", ""]]);
});

test("Protocol delivers binary with any bytes unchanged, and keeps a leading BOM in text (F23)", () => {
  const server = newServer();
  const events = server.receive(
    concatBytes([
      clientFrame(0x82, [0xff, 0xfe, 0xc0]),
      clientFrame(0x81, [0xef, 0xbb, 0xbf, 0x41]),
    ]),
  );
  assert.deepEqual(summarize(events), [["binary", "ff fe c0"], ["text", "\ufeffA"]]);
});

test("Protocol reassembles fragmented binary messages in any chunking", () => {
  const random = new SeededRandom(5);
  const payload = random.bytes(100_000);
  const frames = [
    clientFrame(0x02, payload.subarray(0, 10)),
    clientFrame(0x00, payload.subarray(10, 70_000)),
    clientFrame(0x80, payload.subarray(70_000)),
  ];
  const wire = concatBytes(frames);
  for (
    const cuts of [
      [],
      [5, 17, 20, 30000, 70010, 70020],
      Array.from({ length: 100 }, (_, i) => i * 1000 + 3),
    ]
  ) {
    const events = feed(newServer(), wire, cuts);
    assert.equal(events.length, 1);
    assert.equal(events[0].type, "binary");
    assert.deepEqual((events[0] as { data: Uint8Array }).data, payload);
  }
});

test("Protocol reports RSV1 messages as compressed when negotiated", () => {
  const server = newServer({ allowRsv1: true });
  const events = server.receive(concatBytes([
    clientFrame(0xc1, [1, 2]),
    clientFrame(0x42, [3]),
    clientFrame(0x89, "p"),
    clientFrame(0x80, [4]),
    clientFrame(0x81, "plain"),
  ]));
  assert.deepEqual(summarize(events), [
    ["compressed", false, "01 02"],
    ["ping", "70"],
    ["compressed", true, "03 04"],
    ["text", "plain"],
  ]);
  expectError(
    newServer({ allowRsv1: true }).receive(
      concatBytes([clientFrame(0x01, "a"), clientFrame(0xc0, "b")]),
    ),
    1002,
  );
  expectError(newServer().receive(clientFrame(0xc1, [1])), 1002, "WS_INVALID_RSV");
});

test("Protocol sets RSV1 on compressed sends only when negotiated", () => {
  const server = newServer({ allowRsv1: true });
  server.sendText(new Uint8Array([1]), { compressed: true });
  server.sendBinary(new Uint8Array([2]), { compressed: true });
  assert.equal(toHex(outgoing(server)), "c1 01 01 c2 01 02");
  assert.throws(() => newServer().sendText("x", { compressed: true }), TypeError);
});

test("Protocol client fails masked server frames and server fails unmasked client frames (1002)", () => {
  const client = new Protocol({ role: "client" });
  expectError(client.receive(clientFrame(0x88, closeBody(1000))), 1002, "WS_UNEXPECTED_MASK");
  const closeOut = outgoing(client);
  assert.equal(closeOut[0], 0x88);
  assert.equal(closeOut[1] & 0x80, 0x80, "the client's close is masked");
  expectError(newServer().receive(serverFrame(0x81, "Hello")), 1002, "WS_MASK_REQUIRED");
});

test("Protocol ignores all input and emits nothing after failing", () => {
  const server = newServer();
  const events = server.receive(
    concatBytes([clientFrame(0x81, "ok"), clientFrame(0x83), clientFrame(0x81, "after")]),
  );
  assert.deepEqual(summarize(events), [["text", "ok"], ["error", 1002, "WS_INVALID_OPCODE"]]);
  assert.deepEqual(server.receive(clientFrame(0x81, "more")), []);
  assert.equal(server.state, "closed");
  assert.equal(sentCloseCode(outgoing(server)), 1002);
});

test("Protocol fail() queues the close code once and stops processing input", () => {
  const server = newServer();
  server.fail(1007, "bad inflate");
  assert.equal(server.state, "closed");
  const out = outgoing(server);
  assert.equal(sentCloseCode(out), 1007);
  assert.equal(new TextDecoder().decode(out.subarray(4)), "bad inflate");
  server.fail(1009);
  assert.equal(server.outgoingBytes, 0);
  assert.deepEqual(server.receive(clientFrame(0x81, "x")), []);
  assert.throws(() => newServer().fail(1005), RangeError);
});

test("Protocol receive never throws on random input and ends in valid events or one error (fuzz)", () => {
  const random = new SeededRandom(12345);
  const samples = [
    clientFrame(0x81, "hi"),
    clientFrame(0x82, [1, 2, 3]),
    clientFrame(0x01, "fr"),
    clientFrame(0x80, "ag"),
    clientFrame(0x89, "p"),
    clientFrame(0x8a),
    clientFrame(0x88, closeBody(1000)),
  ];
  let errors = 0;
  for (let round = 0; round < 2000; round++) {
    const server = newServer({ maxMessageSize: 4096, allowRsv1: random.int(2) === 1 });
    const parts: Uint8Array[] = [];
    for (let i = random.int(6); i > 0; i--) parts.push(random.pick(samples));
    parts.push(random.bytes(random.int(64)));
    if (random.int(2)) parts.push(random.pick(samples));
    const wire = concatBytes(parts);
    const events: ProtocolEvent[] = [];
    for (let at = 0; at < wire.length;) {
      const size = 1 + random.int(16);
      events.push(...server.receive(wire.slice(at, at + size)));
      at += size;
    }
    const errorAt = events.findIndex((e) => e.type === "error");
    if (errorAt >= 0) {
      errors++;
      assert.equal(errorAt, events.length - 1, "nothing follows an error");
      const error = (events[errorAt] as { error: { closeCode: number } }).error;
      assert.ok([1002, 1007, 1009].includes(error.closeCode), `round ${round}: ${error.closeCode}`);
      assert.equal(server.state, "closed");
      const out = outgoing(server);
      if (out.length > 0) {
        assert.equal(sentCloseCode(out.subarray(out.lastIndexOf(0x88))), error.closeCode);
      }
    }
    for (const event of events) {
      if (event.type === "text") assert.equal(typeof event.data, "string");
      if (event.type === "close") {
        assert.ok(event.code === 1005 || (event.code >= 1000 && event.code < 5000));
      }
    }
  }
  assert.ok(errors > 100, `the fuzz should reach failures (${errors})`);
});

test("Protocol receive does not throw even when an injected fillMask throws", () => {
  let calls = 0;
  const client = new Protocol({
    role: "client",
    fillMask: (key) => {
      if (++calls > 1) throw new Error("no entropy");
      key.set([1, 2, 3, 4]);
    },
  });
  client.sendText("first");
  client.takeOutgoing();
  const events = client.receive(serverFrame(0x89, "p"));
  expectError(events, 1011, "WS_INTERNAL_ERROR");
  assert.equal(client.state, "closed");
});

// ── deferFailure: our close waits for failNow() ─────────────────────────────

/** Opcodes of the unmasked frames in `bytes` (a server's output, payloads under 126 bytes). */
function serverOpcodes(bytes: Uint8Array): number[] {
  const opcodes: number[] = [];
  for (let i = 0; i < bytes.length; i += 2 + (bytes[i + 1] & 0x7f)) {
    assert.ok((bytes[i + 1] & 0x7f) < 126, "test helper handles short frames only");
    opcodes.push(bytes[i] & 0x0f);
  }
  return opcodes;
}

test("Protocol deferFailure reports the error without a close, allows sends until failNow()", () => {
  const server = new Protocol({ role: "server", deferFailure: true });
  const events = server.receive(
    concatBytes([clientFrame(0x81, "ok"), clientFrame(0x83), clientFrame(0x81, "after")]),
  );
  assert.deepEqual(summarize(events), [["text", "ok"], ["error", 1002, "WS_INVALID_OPCODE"]]);
  assert.equal(server.outgoingBytes, 0, "no close queued yet");
  assert.equal(server.state, "open");
  // RFC 6455 §7.1.7: input is not processed any more, even before failNow().
  assert.deepEqual(server.receive(clientFrame(0x81, "more")), []);
  assert.deepEqual(server.receive(clientFrame(0x89, "ping")), []);
  assert.equal(server.outgoingBytes, 0, "no pong for a ping after the violation");
  server.sendText("ok");
  server.sendPing();
  server.failNow();
  assert.equal(server.state, "closed");
  const out = outgoing(server);
  assert.deepEqual(serverOpcodes(out), [0x1, 0x9, 0x8], "the reply, then the close");
  const error = (events[1] as { type: "error"; error: Error }).error;
  // text "ok" (4 bytes) + ping (2), then the close: header, code 1002, the error's message.
  assert.deepEqual([...out.subarray(6, 10)], [0x88, 2 + error.message.length, 0x03, 0xea]);
  assert.equal(
    new TextDecoder().decode(out.subarray(10)),
    error.message,
    "reason as without deferral",
  );
  server.failNow();
  assert.equal(server.outgoingBytes, 0, "the close is queued exactly once");
  assert.throws(() => server.sendText("late"), { code: "WS_INVALID_STATE" });
  assert.deepEqual(server.receive(clientFrame(0x81, "x")), []);
});

test("Protocol deferFailure holds back the close of every kind of peer failure", () => {
  const cases: [string, Uint8Array, number, number?][] = [
    ["reserved opcode", clientFrame(0x83), 1002],
    ["RSV bits", clientFrame(0xc1, "x"), 1002],
    ["unmasked frame", serverFrame(0x81, "x"), 1002],
    ["continuation without message", clientFrame(0x80, "x"), 1002],
    ["fragmented ping", clientFrame(0x09, "x"), 1002],
    ["long ping", clientFrame(0x89, new Uint8Array(126)), 1002],
    ["invalid UTF-8", clientFrame(0x81, [0xff]), 1007],
    ["UTF-8 in a fragment", clientFrame(0x01, [0xed, 0xa0, 0x80]), 1007],
    ["1-byte close body", clientFrame(0x88, [0x03]), 1002],
    ["invalid close code", clientFrame(0x88, closeBody(1005)), 1002],
    ["close reason not UTF-8", clientFrame(0x88, closeBody(1000, new Uint8Array([0xff]))), 1007],
    ["message too big", clientFrame(0x82, new Uint8Array(20)), 1009, 10],
  ];
  for (const [name, frame, closeCode, maxMessageSize] of cases) {
    const server = new Protocol({ role: "server", deferFailure: true, maxMessageSize });
    const events = server.receive(concatBytes([clientFrame(0x89, "p"), frame]));
    assert.equal(events[0].type, "ping", name);
    expectError(events, closeCode);
    assert.deepEqual(serverOpcodes(outgoing(server)), [0xa], `${name}: only the pong owed before`);
    server.failNow();
    assert.equal(sentCloseCode(outgoing(server)), closeCode, name);
    assert.equal(server.state, "closed", name);
  }
});

test("Protocol deferFailure: sendClose() or fail() meanwhile still gives exactly one close", () => {
  const closing = new Protocol({ role: "server", deferFailure: true });
  expectError(closing.receive(clientFrame(0x83)), 1002);
  closing.sendClose(1000);
  closing.failNow();
  assert.deepEqual(serverOpcodes(outgoing(closing)), [0x8]);
  assert.equal(closing.state, "closed");

  const failing = new Protocol({ role: "server", deferFailure: true });
  expectError(failing.receive(clientFrame(0x83)), 1002);
  failing.fail(1011, "inflate");
  assert.equal(sentCloseCode(outgoing(failing)), 1011);
  failing.failNow();
  assert.equal(failing.outgoingBytes, 0);
  assert.equal(failing.state, "closed");
});

test("Protocol deferFailure fails at once when our close was already sent, and failNow() is a no-op without failure", () => {
  const server = new Protocol({ role: "server", deferFailure: true });
  server.failNow();
  assert.equal(server.state, "open");
  assert.equal(server.outgoingBytes, 0);
  server.sendClose(1000);
  outgoing(server);
  expectError(server.receive(clientFrame(0x83)), 1002);
  assert.equal(server.state, "closed");
  assert.equal(server.outgoingBytes, 0, "no second close");
});

// ── deferCloseReply: our reply to the peer's close waits for replyClose() ───

test("Protocol deferCloseReply reports the peer's close without a reply, allows sends until replyClose()", () => {
  const server = new Protocol({ role: "server", deferCloseReply: true });
  const events = server.receive(
    concatBytes([
      clientFrame(0x81, "hi"),
      clientFrame(0x88, closeBody(1001, "bye")),
      clientFrame(0x81, "after"),
    ]),
  );
  assert.deepEqual(summarize(events), [["text", "hi"], ["close", 1001, "bye"]]);
  assert.equal(server.outgoingBytes, 0, "no reply queued yet");
  assert.equal(server.state, "closing");
  // RFC 6455 §5.5.1: nothing after the close is processed, even before the reply.
  assert.deepEqual(server.receive(clientFrame(0x89, "p")), []);
  assert.equal(server.outgoingBytes, 0, "no pong after the peer's close");
  server.sendText("hi");
  server.replyClose();
  assert.equal(server.state, "closed");
  const out = outgoing(server);
  assert.deepEqual(serverOpcodes(out), [0x1, 0x8], "the answer, then the reply");
  assert.equal(sentCloseCode(out.subarray(4)), 1001, "the reply echoes the peer's code");
  assert.equal(out.length, 4 + 4, "the reply carries no reason");
  server.replyClose();
  assert.equal(server.outgoingBytes, 0, "the reply is queued exactly once");
  assert.throws(() => server.sendText("late"), { code: "WS_INVALID_STATE" });
});

test("Protocol deferCloseReply: an empty close gets an empty reply; sendClose() meanwhile is the only close", () => {
  const empty = new Protocol({ role: "server", deferCloseReply: true });
  assert.deepEqual(summarize(empty.receive(clientFrame(0x88))), [["close", 1005, ""]]);
  empty.replyClose();
  assert.equal(toHex(outgoing(empty)), "88 00");

  const closing = new Protocol({ role: "server", deferCloseReply: true });
  closing.receive(clientFrame(0x88, closeBody(1000)));
  closing.sendClose(4000, "own");
  closing.replyClose();
  assert.deepEqual(serverOpcodes(outgoing(closing)), [0x8]);
  assert.equal(closing.state, "closed");

  const unused = new Protocol({ role: "server", deferCloseReply: true });
  unused.replyClose();
  assert.equal(unused.state, "open", "replyClose() without a peer's close does nothing");
  assert.equal(unused.outgoingBytes, 0);
});

test("Protocol deferCloseReply on a client: the reply is masked and comes after the answers", () => {
  const client = new Protocol({
    role: "client",
    deferCloseReply: true,
    fillMask: fixedKey(new Uint8Array(4)),
  });
  const events = client.receive(
    concatBytes([serverFrame(0x82, [1, 2]), serverFrame(0x88, closeBody(1000))]),
  );
  assert.deepEqual(summarize(events), [["binary", "01 02"], ["close", 1000, ""]]);
  assert.equal(client.outgoingBytes, 0);
  client.sendBinary(new Uint8Array([1, 2]));
  client.replyClose();
  // Zero mask key: the payload reads as is.
  assert.equal(toHex(outgoing(client)), "82 82 00 00 00 00 01 02 88 82 00 00 00 00 03 e8");
  assert.equal(client.state, "closed");
});

// ── pongs for a ping flood: RFC 6455 §5.5.3 ─────────────────────────────────

test("Protocol answers pings that arrive together, as Autobahn 2.10 sends them", () => {
  const server = newServer();
  const pings = Array.from({ length: 10 }, (_, i) => clientFrame(0x89, `payload-${i}`));
  assert.equal(server.receive(concatBytes(pings)).length, 10);
  const out = outgoing(server);
  for (let i = 0; i < 10; i++) {
    const pong = out.subarray(i * 11, (i + 1) * 11);
    assert.equal(toHex(pong.subarray(0, 2)), "8a 09");
    assert.equal(new TextDecoder().decode(pong.subarray(2)), `payload-${i}`);
  }
});

test("Protocol keeps at most MAX_PENDING_PONGS pongs not taken, the last answering the latest ping", () => {
  const server = newServer();
  server.sendText("before");
  const pings = Array.from({ length: 1000 }, (_, i) => clientFrame(0x89, [i >> 8, i & 0xff]));
  const events = server.receive(concatBytes(pings));
  assert.equal(events.length, 1000, "every ping is still reported");
  server.sendText("after");
  const owed = server.outgoingBytes;
  const out = concatBytes(server.takeOutgoing());
  assert.equal(owed, out.length, "outgoingBytes counts the replaced pongs right");
  assert.equal(out.length, 8 + MAX_PENDING_PONGS * 4 + 7, "text, pongs, text");
  assert.equal(new TextDecoder().decode(out.subarray(2, 8)), "before");
  const pongs = [];
  for (let i = 0; i < MAX_PENDING_PONGS; i++) {
    const pong = out.subarray(8 + i * 4, 12 + i * 4);
    assert.equal(toHex(pong.subarray(0, 2)), "8a 02");
    pongs.push((pong[2] << 8) | pong[3]);
  }
  const answered = Array.from({ length: MAX_PENDING_PONGS - 1 }, (_, i) => i);
  assert.deepEqual(pongs, [...answered, 999], "the first ones, then the most recent");
  assert.equal(new TextDecoder().decode(out.subarray(out.length - 5)), "after");

  // Taken pongs are gone; the next pings are answered again one by one.
  server.receive(concatBytes([clientFrame(0x89, "x"), clientFrame(0x89, "y")]));
  assert.equal(toHex(outgoing(server)), "8a 01 78 8a 01 79");
});

test("Protocol bounds the pongs of a client under a ping flood too (masked, one buffer each)", () => {
  const client = new Protocol({ role: "client", fillMask: fixedKey(new Uint8Array(4)) });
  for (let i = 0; i < 100; i++) client.receive(serverFrame(0x89, new Uint8Array(125).fill(i)));
  const chunks = client.takeOutgoing();
  assert.equal(chunks.length, MAX_PENDING_PONGS);
  const last = chunks[MAX_PENDING_PONGS - 1];
  assert.equal(toHex(last.subarray(0, 2)), "8a fd");
  assert.equal(last[6], 99, "the latest ping's data (zero mask)");
});
