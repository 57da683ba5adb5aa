import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CaseResult,
  deflateStatus,
  evaluate,
  expandCases,
  expectationFor,
  type Expectations,
  matches,
  renderDeflate,
  resultOf,
  summarize,
  type TesteeReport,
} from "./summarize.ts";

// Runs under deno test, bun test and node --test; the fixture report is generated here.

const ok = (duration = 1): CaseResult => ({
  behavior: "OK",
  behaviorClose: "OK",
  duration,
  remoteCloseCode: 1000,
});
const as = (behavior: string, behaviorClose = "OK"): CaseResult => ({
  behavior,
  behaviorClose,
  duration: 1,
  remoteCloseCode: 1000,
});

function report(
  results: Record<string, CaseResult>,
  fields: Partial<TesteeReport> = {},
): TesteeReport {
  return {
    id: "server/engine-deno",
    agent: "engine-deno",
    testee: "engine",
    runtime: "deno",
    role: "server",
    peer: false,
    planned: Object.keys(results),
    results,
    ...fields,
  };
}

test("matches uses wstest's case glob rules: '*' is any run, '.' is literal", () => {
  assert.equal(matches("6.4.*", "6.4.1"), true);
  assert.equal(matches("6.4.*", "6.40.1"), false);
  assert.equal(matches("1.1.1", "1x1x1"), false);
  assert.equal(matches("*/engine-*", "server/engine-deno"), true);
});

test("expandCases keeps suite order and covers all 517 cases for '*'", () => {
  assert.equal(expandCases(["*"]).length, 517);
  assert.deepEqual(expandCases(["2.1", "1.1.2"], ["1.1.1", "1.1.2", "2.1"]), ["1.1.2", "2.1"]);
});

test("resultOf adds the close grade only when the behaviour passed", () => {
  assert.equal(resultOf(ok()), "OK");
  assert.equal(resultOf(as("OK", "UNCLEAN")), "OK (close UNCLEAN)");
  assert.equal(resultOf(as("FAILED", "WRONG CODE")), "FAILED");
  assert.equal(resultOf(as("INFORMATIONAL", "INFORMATIONAL")), "INFORMATIONAL");
  assert.equal(resultOf(undefined), "MISSING");
});

test("expectationFor prefers an exact testee and an exact case over globs", () => {
  const expectations: Expectations = {
    "*": { "7.*": { result: "INFORMATIONAL", reason: "glob" } },
    "server/engine-deno": {
      "7.1.6": { result: "NON-STRICT", reason: "exact" },
      "_note": "ignored",
    },
  };
  assert.equal(expectationFor(expectations, "server/engine-deno", "7.1.6")?.reason, "exact");
  assert.equal(expectationFor(expectations, "server/engine-deno", "7.1.5")?.reason, "glob");
  assert.equal(expectationFor(expectations, "client/ws-node20", "1.1.1"), undefined);
});

test("evaluate counts behaviours and passes when every result matches expectations", () => {
  const summary = evaluate([
    report({
      "1.1.1": ok(),
      "7.1.6": as("INFORMATIONAL", "INFORMATIONAL"),
      "12.1.1": as("UNIMPLEMENTED"),
    }),
  ], {
    "*": {
      "7.1.6": { result: "INFORMATIONAL", reason: "open in the RFC" },
      "12.*": { result: "UNIMPLEMENTED", reason: "no deflate" },
    },
  });
  assert.equal(summary.ok, true);
  assert.deepEqual(summary.differences, []);
  const { counts } = summary.rows[0];
  assert.equal(counts.OK, 1);
  assert.equal(counts.INFORMATIONAL, 1);
  assert.equal(counts.UNIMPLEMENTED, 1);
});

test("evaluate fails on an unexpected non-OK result and on a stale expectation", () => {
  const summary = evaluate([report({ "3.2": as("NON-STRICT"), "12.1.1": ok() })], {
    "*": { "12.*": { result: "UNIMPLEMENTED", reason: "no deflate" } },
  });
  assert.equal(summary.ok, false);
  assert.deepEqual(summary.differences.map((d) => `${d.case}:${d.expected}->${d.actual}`), [
    "3.2:OK->NON-STRICT",
    "12.1.1:UNIMPLEMENTED->OK",
  ]);
});

test("evaluate accepts any result of a list of alternatives", () => {
  const expectations: Expectations = {
    "*": { "3.2": { result: ["OK", "NON-STRICT"], reason: "timing" } },
  };
  assert.equal(evaluate([report({ "3.2": as("NON-STRICT") })], expectations).ok, true);
  assert.equal(evaluate([report({ "3.2": ok() })], expectations).ok, true);
  const failed = evaluate([report({ "3.2": as("FAILED") }, { testee: "native" })], expectations);
  assert.equal(failed.differences[0].expected, "OK | NON-STRICT");
});

test("evaluate reports planned cases without results as MISSING", () => {
  const summary = evaluate([report({ "1.1.1": ok() }, { planned: ["1.1.1", "1.1.2"] })], {});
  assert.equal(summary.rows[0].counts.MISSING, 1);
  assert.equal(summary.differences[0].actual, "MISSING");
});

test("evaluate never accepts FAILED for our engine, but accepts a listed FAILED of a runtime's native path", () => {
  const expectations: Expectations = {
    "*": { "9.1.6": { result: "FAILED", reason: "runtime limit" } },
  };
  const engine = evaluate([report({ "9.1.6": as("FAILED") })], expectations);
  const native = evaluate([
    report({ "9.1.6": as("FAILED") }, { id: "client/native-bun", testee: "native" }),
  ], expectations);
  assert.equal(engine.ok, false);
  assert.equal(native.ok, true);
});

test("evaluate collects section 9 durations per testee", () => {
  const summary = evaluate([
    report({ "9.1.1": ok(30), "1.1.1": ok(5) }),
    report({ "9.1.1": ok(10) }, {
      id: "server/ws-node20",
      agent: "ws-node20",
      testee: "ws",
      peer: true,
    }),
  ], {});
  assert.deepEqual(summary.section9["9.1.1"], { "server/engine-deno": 30, "server/ws-node20": 10 });
  assert.equal(summary.rows[0].section9Ms, 30);
});

test("summarize reads index.json files and run.json, and writes summary.json and summary.md", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wsc-summary-"));
  try {
    await mkdir(join(dir, "servers", "engine-deno"), { recursive: true });
    await mkdir(join(dir, "clients", "ws-node20"), { recursive: true });
    const index = (agent: string, results: Record<string, CaseResult>) =>
      JSON.stringify({ [agent]: results });
    await writeFile(
      join(dir, "servers", "engine-deno", "index.json"),
      index("engine-deno", { "1.1.1": ok(), "9.7.1": ok(400) }),
    );
    await writeFile(
      join(dir, "clients", "ws-node20", "index.json"),
      index("ws-node20", { "1.1.1": ok(), "9.7.1": ok(300) }),
    );
    await writeFile(
      join(dir, "run.json"),
      JSON.stringify({
        mode: "quick",
        seconds: 12,
        testees: [
          {
            id: "client/ws-node20",
            agent: "ws-node20",
            testee: "ws",
            runtime: "node20",
            role: "client",
            peer: true,
            cases: ["1.1.1", "9.7.1"],
            reportDir: "clients/ws-node20",
            seconds: 5,
          },
          {
            id: "server/engine-deno",
            agent: "engine-deno",
            testee: "engine",
            runtime: "deno",
            role: "server",
            peer: false,
            cases: ["1.1.1", "9.7.1"],
            reportDir: "servers/engine-deno",
            seconds: 6,
          },
          {
            id: "client/engine-bun",
            agent: "engine-bun",
            testee: "engine",
            runtime: "bun",
            role: "client",
            peer: false,
            cases: ["1.1.1"],
            reportDir: "clients/engine-bun",
            seconds: 1,
            error: "exited before listening",
          },
        ],
      }),
    );
    const expectations = join(dir, "expectations.json");
    await writeFile(expectations, "{}");
    const summary = await summarize({ reportDir: dir, expectations, quiet: true });
    assert.deepEqual(summary.rows.map((r) => r.id), [
      "client/ws-node20",
      "server/engine-deno",
      "client/engine-bun",
    ]);
    assert.equal(summary.rows[1].runtime, "deno");
    assert.equal(summary.rows[2].counts.MISSING, 1);
    assert.equal(summary.ok, false, "a testee that did not run fails the gate");
    const md = await readFile(join(dir, "summary.md"), "utf8");
    assert.match(md, /\| engine \| deno \| server \| 2 \|/);
    assert.match(md, /\| 9\.7\.1 \|/);
    const json = JSON.parse(await readFile(join(dir, "summary.json"), "utf8"));
    assert.equal(json.run.mode, "quick");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("deflateStatus / renderDeflate: negotiated, not offered (with the reason), declined, not run", () => {
  const ids = ["1.1.1", "12.1.1", "13.3.1", "13.5.1"];
  assert.equal(
    deflateStatus(ids, { "12.1.1": ok(), "13.3.1": ok(), "13.5.1": ok() }),
    "negotiated (3 cases)",
  );
  const none = {
    "12.1.1": as("UNIMPLEMENTED"),
    "13.3.1": as("UNIMPLEMENTED"),
    "13.5.1": as("UNIMPLEMENTED"),
  };
  assert.equal(deflateStatus(ids, none), "not offered (3 cases)");
  const some = { "12.1.1": ok(), "13.3.1": as("UNIMPLEMENTED"), "13.5.1": as("UNIMPLEMENTED") };
  assert.equal(deflateStatus(ids, some), "negotiated; declined in 13.3, 13.5 (2 of 3 cases)");
  assert.equal(deflateStatus(["1.1.1"], { "1.1.1": ok() }), "not run");
  // A case without a result counts neither way.
  assert.equal(deflateStatus(ids, { "12.1.1": as("UNIMPLEMENTED") }), "not offered (1 case)");
  const expectations: Expectations = {
    "server/deno-upgrade": { "12.*": { result: "UNIMPLEMENTED", reason: "no deflate in Deno" } },
    "server/bun-handlers": { "13.3.*": { result: "UNIMPLEMENTED", reason: "window bits 9" } },
  };
  const summary = evaluate([
    report(none, {
      id: "server/deno-upgrade",
      agent: "deno-upgrade",
      testee: "deno-upgrade",
      planned: ids,
    }),
    report(some, {
      id: "server/bun-handlers",
      agent: "bun-handlers",
      testee: "bun-handlers",
      planned: ids,
    }),
    report({ "1.1.1": ok() }, { planned: ["1.1.1"] }),
  ], expectations);
  assert.deepEqual(summary.rows.map((r) => r.deflate), [
    "not offered (3 cases)",
    "negotiated; declined in 13.3, 13.5 (2 of 3 cases)",
    "not run",
  ]);
  const lines = renderDeflate(summary, expectations).split("\n");
  assert.match(
    lines[0],
    /`server\/deno-upgrade` .*\*\*not offered \(3 cases\)\*\* — no deflate in Deno$/,
  );
  assert.match(
    lines[1],
    /\*\*negotiated; declined in 13\.3, 13\.5 \(2 of 3 cases\)\*\* — window bits 9$/,
  );
  assert.match(lines[2], /\*\*not run\*\*$/);
});
