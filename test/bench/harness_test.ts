/**
 * The benchmark harness (bench/_harness.ts, bench/_harness/processes.ts):
 * rotated rounds, medians, tables and labels, and the process side against
 * real child processes (a server that prints its port, load clients that
 * count a window, one that fails).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { median, rotated, Samples, sizeLabel, table } from "../../bench/_harness.ts";
import { echoLoadArgs, runLoadClient, startServer } from "../../bench/_harness/processes.ts";
import { runtimes } from "../_util/runtimes.ts";

const node = (script: string) => [runtimes.node20, "-e", script];

test("rotated: each item goes first in turn, the order kept", () => {
  assert.deepEqual(rotated(["a", "b", "c"], 0), ["a", "b", "c"]);
  assert.deepEqual(rotated(["a", "b", "c"], 1), ["b", "c", "a"]);
  assert.deepEqual(rotated(["a", "b", "c"], 5), ["c", "a", "b"]);
  assert.deepEqual(rotated([], 3), []);
});

test("median, Samples, sizeLabel and table", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const samples = new Samples<{ rate: number }>();
  for (const rate of [10, 30, 20]) samples.add("ws|20", { rate });
  assert.equal(samples.median("ws|20", (s) => s.rate), 20);
  assert.equal(samples.range("ws|20", (s) => s.rate), "10–30");
  assert.deepEqual(samples.of("missing"), []);
  assert.deepEqual([20, 1024, 65536, 16 << 20].map(sizeLabel), [
    "20 B",
    "1 KiB",
    "64 KiB",
    "16 MiB",
  ]);
  assert.equal(
    table(["server", "msg/s", "note"], [["ws", "1,000", "x"]], "lrl"),
    "| server | msg/s | note |\n|---|---:|---|\n| ws | 1,000 | x |",
  );
});

test("startServer reads the port a pinned server prints; stop() ends it", async () => {
  const server = await startServer(
    "idle server",
    node(`console.log("starting"); console.log("PORT 4321"); setInterval(() => {}, 1000);`),
  );
  try {
    assert.equal(server.port, 4321);
    assert.ok(server.pid > 0);
  } finally {
    await server.stop();
  }
  assert.notEqual(await server.exited, 0, "killed, not exited on its own");
});

test("runLoadClient samples when the window opens and closes, and parses the result", async () => {
  const args = echoLoadArgs(9, { size: 20, connections: 2, window: 4 }, 1, 0.5);
  assert.deepEqual(args.slice(0, 4), ["--url", "ws://127.0.0.1:9/", "--size", "20"]);
  let calls = 0;
  const run = await runLoadClient(
    "counting client",
    node(
      `console.log("COUNTING"); setTimeout(() => console.log(JSON.stringify({ messages: 50, seconds: 0.1, argv: process.argv.length })), 100);`,
    ),
    () => ++calls,
    10_000,
  );
  assert.deepEqual([run.before, run.after], [1, 2]);
  assert.equal(run.result.messages, 50);
  assert.ok(run.seconds > 0.05, `window of ${run.seconds} s`);
});

test("a load client that fails rejects with its stderr", async () => {
  await assert.rejects(
    runLoadClient(
      "failing client",
      node(`console.error("no server at that port"); process.exit(3);`),
      () => 0,
      10_000,
    ),
    /failing client[\s\S]*no server at that port/,
  );
});
