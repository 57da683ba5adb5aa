import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { defaultJobs, type Index, type IndexEntry, mergeIndexes, planParts } from "./split.ts";
import { evaluate, expandCases } from "./summarize.ts";
import {
  fuzzerMissing,
  type Harness,
  harness,
  outsideFixtures,
  outsideServer,
} from "../test/_util/conformance_harness.ts";
import { runtimes } from "../test/_util/runtimes.ts";

// One testee's cases split over several fuzzer processes (split.ts) and merged back into one report:
// the plan, the merge, the gate's view of a merged report with a part missing (pure, every runtime),
// then real runs of the outside mode against the `ws` echo server and echo client, split over 2
// processes and in one, which must give the same outcome for every case.

const entry = (behavior = "OK"): IndexEntry => ({
  behavior,
  behaviorClose: "OK",
  duration: 1,
  remoteCloseCode: 1000,
});

test("planParts: jobs 1 is one process in suite order", () => {
  const ids = expandCases(["1.1.*", "9.1.1", "12.1.1"]);
  assert.deepEqual(planParts(ids, 1), [[ids]]);
  assert.deepEqual(planParts([], 2), []);
});

test("planParts: round-robin over the jobs, section 9 alone in a last phase, every case once", () => {
  const ids = expandCases(["1.1.1", "1.1.2", "1.1.3", "1.1.4", "9.1.1", "9.1.2", "12.1.*"]);
  const plan = planParts(ids, 2);
  assert.equal(plan.length, 2);
  assert.deepEqual(plan[0][0].slice(0, 2), ["1.1.1", "1.1.3"]);
  assert.deepEqual(plan[0][1].slice(0, 2), ["1.1.2", "1.1.4"]);
  assert.deepEqual(plan[1], [["9.1.1", "9.1.2"]]);
  // 12.1.1–12.1.18 (payloads growing case by case) are dealt alternately: 9 each.
  assert.equal(plan[0][0].filter((id) => id.startsWith("12.")).length, 9);
  assert.equal(plan[0][1].filter((id) => id.startsWith("12.")).length, 9);
  const flat = plan.flat(2);
  assert.equal(flat.length, ids.length);
  assert.deepEqual([...flat].sort(), [...ids].sort());
  // More jobs than cases: one case per process, no empty process; no section 9: one phase.
  assert.deepEqual(planParts(["1.1.1", "1.1.2"], 8), [[["1.1.1"], ["1.1.2"]]]);
  assert.deepEqual(planParts(["9.1.1"], 4), [[["9.1.1"]]]);
  assert.equal(defaultJobs(2), 2);
  assert.equal(defaultJobs(0), 1);
  assert.equal(defaultJobs(undefined), 1);
});

test("mergeIndexes: the parts' cases together; a case reported twice is an error", () => {
  const a: Index = { agent: { "1.1.1": entry(), "1.1.3": entry() } };
  const b: Index = { agent: { "1.1.2": entry("FAILED") } };
  const merged = mergeIndexes([a, b]);
  assert.deepEqual(Object.keys(merged.agent).sort(), ["1.1.1", "1.1.2", "1.1.3"]);
  assert.equal(merged.agent["1.1.2"].behavior, "FAILED");
  assert.throws(() => mergeIndexes([a, a]), /1\.1\.1 of agent agent was reported by two parts/);
});

test("the gate counts the cases of a part that reported nothing as MISSING", () => {
  const planned = ["1.1.1", "1.1.2", "1.1.3", "1.1.4"];
  const [[first]] = planParts(planned, 2);
  // The second part's fuzzer died before writing its index.json: only the first part is merged.
  const merged = mergeIndexes([{
    "engine-deno": Object.fromEntries(first.map((id) => [id, entry()])),
  }]);
  const summary = evaluate([{
    id: "server/engine-deno",
    agent: "engine-deno",
    testee: "engine",
    runtime: "deno",
    role: "server",
    peer: false,
    planned,
    results: merged["engine-deno"],
  }], {});
  assert.equal(summary.ok, false);
  assert.equal(summary.rows[0].counts.MISSING, 2);
  assert.deepEqual(summary.differences.map((d) => [d.case, d.actual]), [
    ["1.1.2", "MISSING"],
    ["1.1.4", "MISSING"],
  ]);
});

const skip = fuzzerMissing();

/** Per case: what the gate compares, and what the fuzzer saw of the close. */
const outcomes = (h: Harness) =>
  h.summary.cases.map((c) => ({
    id: c.id,
    actual: c.actual,
    status: c.status,
    behaviorClose: c.behaviorClose,
    remoteCloseCode: c.remoteCloseCode,
  }));

const resultLines = async (file: string) =>
  [...(await readFile(file, "utf8")).matchAll(/^@@result .*"id": "([\d.]+)"/gm)].map((m) => m[1]);

test("--server --jobs 2: 1.1.1–1.1.4 over two fuzzers, merged report equals one fuzzer's", {
  skip,
}, async () => {
  const server = await outsideServer("no-utf8-check");
  const cases = ["--cases", "1.1.1,1.1.2,1.1.3,1.1.4,6.3.1"];
  try {
    const split = await harness(["--server", server.url, ...cases, "--jobs", "2"]);
    const single = await harness(["--server", server.url, ...cases, "--jobs", "1"]);
    assert.equal(split.code, 1, split.stdout); // 6.3.1 FAILS: the fault skips UTF-8 validation
    assert.equal(single.code, 1, single.stdout);
    assert.deepEqual(outcomes(split), outcomes(single));
    assert.deepEqual(split.summary.cases.map((c) => c.id), [
      "1.1.1",
      "1.1.2",
      "1.1.3",
      "1.1.4",
      "6.3.1",
    ]);
    assert.deepEqual(split.summary.counts, single.summary.counts);
    assert.equal(split.summary.counts.OK, 4);
    assert.equal(split.summary.counts.FAILED, 1);
    assert.equal(split.summary.counts.MISSING, 0);
    // Two fuzzer processes really ran, each with its share.
    const logs = join(split.report, "logs");
    assert.deepEqual((await readdir(logs)).sort(), ["wstest-part-1-1.log", "wstest-part-1-2.log"]);
    assert.deepEqual(await resultLines(join(logs, "wstest-part-1-1.log")), [
      "1.1.1",
      "1.1.3",
      "6.3.1",
    ]);
    assert.deepEqual(await resultLines(join(logs, "wstest-part-1-2.log")), ["1.1.2", "1.1.4"]);
    assert.deepEqual(await readdir(join(single.report, "logs")), ["wstest.log"]);
    // One wstest report over both parts: every case in index.json and in its page.
    const index = JSON.parse(await readFile(join(split.report, "autobahn", "index.json"), "utf8"));
    assert.deepEqual(Object.keys(index.testee).sort(), [
      "1.1.1",
      "1.1.2",
      "1.1.3",
      "1.1.4",
      "6.3.1",
    ]);
    const page = await readFile(join(split.report, "autobahn", "index.html"), "utf8");
    for (const id of ["1_1_1", "1_1_2", "1_1_3", "1_1_4"]) {
      assert.match(page, new RegExp(`<td class="case_ok"><a href="testee_case_${id}\\.html">Pass`));
    }
    assert.match(page, /<td class="case_failed"><a href="testee_case_6_3_1\.html">Fail/);
    await rm(split.report, { recursive: true });
    await rm(single.report, { recursive: true });
  } finally {
    await server.stop();
  }
});

test("--client --jobs 2: two fuzzing servers, the command run for each of their cases", {
  skip,
}, async () => {
  const client = `${runtimes.node20} ${join(outsideFixtures, "ws_echo_client.mjs")} {url}`;
  const h = await harness(["--client", client, "--cases", "1.1.1,1.1.2,2.1,6.3.1", "--jobs", "2"]);
  assert.equal(h.code, 0, h.stdout);
  assert.equal(h.summary.counts.OK, 4);
  assert.deepEqual(h.summary.cases.map((c) => c.id), ["1.1.1", "1.1.2", "2.1", "6.3.1"]);
  const logs = (await readdir(join(h.report, "logs"))).sort();
  assert.deepEqual(logs, [
    "client-part-1-1.log",
    "client-part-1-2.log",
    "wstest-part-1-1.log",
    "wstest-part-1-2.log",
  ]);
  const index = JSON.parse(await readFile(join(h.report, "autobahn", "index.json"), "utf8"));
  assert.deepEqual(Object.keys(index.testee).sort(), ["1.1.1", "1.1.2", "2.1", "6.3.1"]);
  await rm(h.report, { recursive: true });
});
