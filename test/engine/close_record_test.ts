import { test } from "node:test";
import assert from "node:assert/strict";
import { CloseRecord } from "../../src/engine/close_record.ts";
import { Protocol } from "../../src/engine/protocol.ts";

test("CloseRecord: the first close of either side gives the code", () => {
  const ours = new CloseRecord();
  ours.sent({ code: 4000, reason: "bye" });
  ours.received({ code: 1000, reason: "" });
  assert.deepEqual([ours.code, ours.reason, ours.complete], [4000, "bye", true]);

  const theirs = new CloseRecord();
  assert.equal(theirs.code, undefined);
  theirs.received({ code: 4001, reason: "go" });
  theirs.sent({ code: 4001, reason: "" });
  assert.deepEqual([theirs.code, theirs.reason], [4001, "go"]);
});

test("CloseRecord: a lost transport before the handshake completes is 1006", () => {
  const record = new CloseRecord();
  record.lost();
  assert.deepEqual([record.code, record.reason], [1006, ""]);
  const half = new CloseRecord();
  half.sent({ code: 1000, reason: "" });
  half.lost();
  assert.equal(half.code, 1006);
  const done = new CloseRecord();
  done.sent({ code: 1000, reason: "" });
  done.received({ code: 1000, reason: "" });
  done.lost();
  assert.equal(done.code, 1000);
});

test("CloseRecord: a failure's code wins once its close went out; unsent and lost is 1006", () => {
  const sent = new CloseRecord();
  sent.failed({ code: 1002, reason: "bad" });
  sent.sent({ code: 1002, reason: "bad" });
  sent.lost();
  assert.deepEqual([sent.code, sent.reason], [1002, "bad"]);

  const held = new CloseRecord();
  held.failed({ code: 1007, reason: "" });
  assert.equal(held.code, 1007);
  held.lost();
  assert.equal(held.code, 1006);
});

test("Protocol.closeCode follows both sides' close frames and a lost connection", () => {
  const server = new Protocol({ role: "server" });
  assert.equal(server.closeCode, undefined);
  // A masked close 4000 "hi" from the client (mask key 0).
  const events = server.receive(new Uint8Array([0x88, 0x84, 0, 0, 0, 0, 0x0f, 0xa0, 0x68, 0x69]));
  assert.equal(events[0].type, "close");
  assert.deepEqual([server.closeCode, server.closeReason, server.state], [4000, "hi", "closed"]);
  server.connectionLost();
  assert.equal(server.closeCode, 4000); // the handshake had completed

  const client = new Protocol({ role: "client" });
  client.sendClose(1000, "done");
  assert.deepEqual([client.closeCode, client.closeReason], [1000, "done"]);
  client.connectionLost();
  assert.deepEqual([client.closeCode, client.closeReason], [1006, ""]);
});

test("Protocol.closeCode reports a violation's code at once, also while deferred", () => {
  const server = new Protocol({ role: "server", deferFailure: true });
  const [event] = server.receive(new Uint8Array([0x83, 0x80, 0, 0, 0, 0])); // reserved opcode
  assert.equal(event.type, "error");
  assert.equal(server.closeCode, 1002);
  server.failNow();
  assert.equal(server.closeCode, 1002);
  server.connectionLost();
  assert.equal(server.closeCode, 1002); // its close frame went out
});

test("CloseRecord: a failure after our own close went out, then a lost transport, is 1006", () => {
  const record = new CloseRecord();
  record.sent({ code: 4000, reason: "mine" });
  record.failed({ code: 1002, reason: "bad" });
  assert.deepEqual([record.code, record.reason], [1002, "bad"]);
  record.lost();
  assert.deepEqual([record.code, record.reason], [1006, ""]);
});
