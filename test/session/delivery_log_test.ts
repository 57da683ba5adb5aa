import { test } from "node:test";
import assert from "node:assert/strict";
import { bySend, duplicateFault, type LoggedServer, parseLog } from "./_delivery_log.ts";

// The check of the multi-process session test, on logs written out here:
// which second deliveries it lets through and which it reports.

const server = (log: string, killedAt?: number): LoggedServer => ({ log, killedAt });

function verdicts(logs: [LoggedServer, string][]): Map<string, string | undefined> {
  const received = logs.flatMap(([s, text]) => parseLog(text, s));
  const out = new Map<string, string | undefined>();
  for (const [key, copies] of bySend(received)) out.set(key, duplicateFault(key, copies));
  return out;
}

test("a server started later, killed after its handler: the earlier server's redelivery is the second copy", () => {
  // The order of the logs is the order the servers started: the survivor's
  // log is read first although its copy came three seconds after the kill.
  const survivor = server("6.log");
  const killed = server("7.log", 1_000);
  const result = verdicts([
    [survivor, "RECV 900 s 780 a\nRECV 4000 s 782 c\nRECV 4001 s 783 d\n"],
    [killed, "RECV 950 s 781 b\nRECV 990 s 782 c\n"],
  ]);
  assert.deepEqual([...result], [
    ["s 780", undefined],
    ["s 782", undefined],
    ["s 783", undefined],
    ["s 781", undefined],
  ]);
  const copies = bySend([
    ...parseLog("RECV 4000 s 782 c\n", survivor),
    ...parseLog("RECV 990 s 782 c\n", killed),
  ]).get("s 782")!;
  assert.deepEqual(copies.map((c) => c.server.log), ["7.log", "6.log"]);
});

test("every other second delivery is reported", () => {
  const live = server("live.log");
  const other = server("other.log");
  const killed = server("killed.log", 1_000);
  const result = verdicts([
    // Twice on servers that were never killed.
    [live, "RECV 100 a 1 x\n"],
    [other, "RECV 200 a 1 x\n"],
    // The killed server's copy is not its last line of the session.
    [killed, "RECV 300 b 1 y\nRECV 310 b 2 z\n"],
    [live, "RECV 5000 b 1 y\n"],
    // Delivered again before the first server was killed.
    [killed, "RECV 400 c 1 w\n"],
    [other, "RECV 900 c 1 w\n"],
    // Three times.
    [killed, "RECV 500 d 1 v\n"],
    [live, "RECV 5000 d 1 v\n"],
    [other, "RECV 6000 d 1 v\n"],
  ]);
  assert.equal(result.get("a 1"), "a 1 delivered twice, the first time on a live server");
  assert.equal(result.get("b 1"), "b 1: not the last accepted before the kill");
  assert.equal(result.get("b 2"), undefined);
  assert.equal(
    result.get("c 1"),
    "c 1 delivered again at 900, before its first server was killed at 1000",
  );
  assert.equal(result.get("d 1"), "d 1 delivered 3 times");
});

test("a live server that failed to record a send it delivered: a second delivery is allowed, not after a later record", () => {
  const live = server("live.log");
  const other = server("other.log");
  const result = verdicts([
    [
      live,
      [
        "RECV 100 a 1 x",
        "UNRECORDED 110 a 1",
        "UNRECORDED 160 a 1",
        "RECV 200 b 1 y",
        "UNRECORDED 210 b 1",
        "RECORDED 260 b 1",
        "RECV 300 a 2 z",
        "",
      ].join("\n"),
    ],
    [other, "RECV 5000 a 1 x\nRECV 5001 b 1 y\n"],
  ]);
  assert.equal(result.get("a 1"), undefined);
  assert.equal(result.get("b 1"), "b 1 delivered twice, the first time on a live server");
  assert.equal(result.get("a 2"), undefined);
});

test("a killed server whose record failed until the kill: judged as killed, not as unrecorded", () => {
  const killed = server("killed.log", 1_000);
  const live = server("live.log");
  const result = verdicts([
    [killed, "RECV 900 a 1 x\nUNRECORDED 910 a 1\nRECV 920 a 2 y\nUNRECORDED 930 a 2\n"],
    [live, "RECV 4000 a 1 x\nRECV 4001 a 2 y\n"],
  ]);
  assert.equal(result.get("a 1"), "a 1: not the last accepted before the kill");
  assert.equal(result.get("a 2"), undefined);
});
