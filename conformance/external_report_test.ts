import { test } from "node:test";
import assert from "node:assert/strict";
import { fillCommand, isExternalRun, parseExternalArgs, selectCases } from "./external.ts";
import {
  caseGroup,
  type CaseRecord,
  type ExternalOutcome,
  judge,
  renderJUnit,
  renderMarkdown,
  shortDescription,
} from "./external_report.ts";

// The pure parts of `run.ts --server / --client` (external.ts); runs under deno test, bun test and
// node --test. The runs themselves are in external_test.ts.

const record = (id: string, behavior = "OK", behaviorClose = "OK"): CaseRecord => ({
  id,
  behavior,
  behaviorClose,
  duration: 3,
  remoteCloseCode: 1000,
  description: `Case ${id}<br><br>MESSAGE:<br>cafe`,
});

function outcome(results: CaseRecord[], planned = results.map((r) => r.id)): ExternalOutcome {
  return {
    role: "server",
    target: "ws://127.0.0.1:9001/",
    agent: "testee",
    planned,
    results: Object.fromEntries(results.map((r) => [r.id, r])),
    errors: [],
    started: "2025-01-01T00:00:00.000Z",
    seconds: 1.5,
    fuzzer: "autobahntestsuite 25.10.1 (venv)",
  };
}

test("selectCases: suite order, globs per part, --exclude removes", () => {
  assert.deepEqual(selectCases(["2.1", "1.1.2"], []), ["1.1.2", "2.1"]);
  assert.equal(selectCases([], []).length, 517);
  assert.equal(selectCases([], ["12.*", "13.*"]).length, 301);
  assert.deepEqual(selectCases(["1.1.*"], ["1.1.1", "1.1.3"]).slice(0, 2), ["1.1.2", "1.1.4"]);
  assert.deepEqual(selectCases(["6.4.*"], []), ["6.4.1", "6.4.2", "6.4.3", "6.4.4"]);
});

test("caseGroup and shortDescription", () => {
  assert.equal(caseGroup("6.4.1"), "6.4");
  assert.equal(caseGroup("2.10"), "2");
  assert.equal(caseGroup("12.1.10"), "12.1");
  assert.equal(shortDescription("Send text.<br><br>MESSAGE:<br>ff"), "Send text.");
});

test("fillCommand quotes {url} only where the template leaves it unquoted", () => {
  const values = { url: "ws://h:1/runCase?case=3&agent=a", case: 3, id: "1.1.3", agent: "a" };
  assert.equal(fillCommand("client {url}", values), "client 'ws://h:1/runCase?case=3&agent=a'");
  assert.equal(fillCommand('client "{url}"', values), 'client "ws://h:1/runCase?case=3&agent=a"');
  assert.equal(fillCommand("client '{url}'", values), "client 'ws://h:1/runCase?case=3&agent=a'");
  assert.equal(
    fillCommand("c --case {case} --id {id} --agent {agent}", values),
    "c --case 3 --id 1.1.3 --agent a",
  );
  assert.equal(fillCommand(`c "it's {url}"`, values), `c "it's ws://h:1/runCase?case=3&agent=a"`);
});

test("parseExternalArgs: one of --server/--client, wss-only TLS options, usage errors", () => {
  const o = parseExternalArgs([
    "--server",
    "ws://127.0.0.1:9001/x",
    "--cases",
    "1.*,2.*",
    "--exclude=1.2.*",
  ]);
  assert.equal(o.server, "ws://127.0.0.1:9001/x");
  assert.deepEqual(o.cases, ["1.*", "2.*"]);
  assert.deepEqual(o.exclude, ["1.2.*"]);
  assert.equal(o.caseTimeoutMs, 120_000);
  assert.equal(
    parseExternalArgs(["--client", "x {url}", "--case-timeout", "5"]).caseTimeoutMs,
    5000,
  );
  assert.throws(() => parseExternalArgs(["--server", "http://x"]), /ws:\/\/ or wss:\/\//);
  assert.throws(() => parseExternalArgs(["--server", "ws://x:1", "--client", "c"]), /exactly one/);
  assert.throws(() => parseExternalArgs(["--server", "ws://x:1", "--ca", "ca.pem"]), /wss:\/\//);
  assert.throws(() => parseExternalArgs(["--server", "ws://x:1", "--agent", "a b"]), /--agent/);
  assert.equal(parseExternalArgs(["--server", "ws://x:1", "--jobs", "3"]).jobs, 3);
  assert.ok(parseExternalArgs(["--server", "ws://x:1"]).jobs >= 1); // one per core
  assert.throws(() => parseExternalArgs(["--server", "ws://x:1", "--jobs", "0"]), /--jobs/);
  assert.throws(() => parseExternalArgs(["--server", "ws://x:1", "--jobs", "1.5"]), /--jobs/);
  assert.equal(isExternalRun(["--quick"]), false);
  assert.equal(isExternalRun(["--server=ws://x:1"]), true);
});

test("judge without expectations: FAILED and MISSING fail, UNIMPLEMENTED skips, NON-STRICT passes", () => {
  const o = outcome(
    [
      record("1.1.1"),
      record("6.4.1", "NON-STRICT"),
      record("6.3.1", "FAILED"),
      record("12.1.1", "UNIMPLEMENTED"),
    ],
    ["1.1.1", "6.3.1", "6.4.1", "12.1.1", "13.1.1"],
  );
  const j = judge(o, undefined);
  assert.equal(j.ok, false);
  const status = Object.fromEntries(j.verdicts.map((v) => [v.id, v.status]));
  assert.deepEqual(status, {
    "1.1.1": "pass",
    "6.3.1": "fail",
    "6.4.1": "pass",
    "12.1.1": "skip",
    "13.1.1": "missing",
  });
  assert.equal(
    judge(outcome([record("1.1.1"), record("6.4.1", "NON-STRICT")]), undefined).ok,
    true,
  );
});

test("judge with expectations: accepted results pass with their reason, others fail both ways", () => {
  const expectations = {
    "*": { "6.4.*": { result: ["OK", "NON-STRICT"], reason: "validates at message end" } },
    "server/testee": { "6.3.1": { result: "FAILED", reason: "known bug #12" } },
    "client/*": { "1.1.1": { result: "FAILED", reason: "not for servers" } },
  };
  const j = judge(
    outcome([
      record("1.1.1"),
      record("6.3.1", "FAILED"),
      record("6.4.1", "NON-STRICT"),
      record("6.4.2"),
    ]),
    expectations,
    "accepted.json",
  );
  assert.equal(j.ok, true);
  assert.equal(j.verdicts.find((v) => v.id === "6.3.1")?.reason, "known bug #12");
  // A case accepted as FAILED that now passes is a difference too (remove it from the file).
  const fixed = judge(outcome([record("6.3.1")]), expectations);
  assert.equal(fixed.ok, false);
  assert.deepEqual(fixed.verdicts[0].expected, ["FAILED"]);
  // An error of the run (the server died) fails the gate even when every result is accepted.
  assert.equal(judge({ ...outcome([record("1.1.1")]), errors: ["died"] }, undefined).ok, false);
});

test("renderJUnit: one testcase per case, failure / error / skipped, properties, escaping", () => {
  const o = outcome(
    [
      record("1.1.1"),
      record("6.3.1", "FAILED"),
      record("6.4.1", "NON-STRICT"),
      record("12.1.1", "UNIMPLEMENTED"),
    ],
    ["1.1.1", "6.3.1", "6.4.1", "12.1.1", "13.1.1"],
  );
  o.results["6.3.1"].note = `a "quoted" <note> & more`;
  const junit = renderJUnit(o, judge(o, undefined));
  assert.equal(junit.match(/<testcase /g)?.length, 5);
  assert.match(junit, /<testsuites [^>]*tests="5" failures="1" errors="1" skipped="1"/);
  assert.match(
    junit,
    /<testcase classname="autobahn.server.6_3" name="6.3.1 Case 6.3.1" time="0.003">/,
  );
  assert.match(junit, /<failure message="FAILED" type="FAILED">/);
  assert.match(junit, /name="behavior" value="NON-STRICT"/);
  assert.match(junit, /<skipped message="UNIMPLEMENTED/);
  assert.match(junit, /<error message="no result/);
  assert.match(junit, /a &quot;quoted&quot; &lt;note&gt; &amp; more/);
  assert.doesNotMatch(junit, /<note>/);
});

test("renderMarkdown: totals, a row per group, the cases that are not plain OK", () => {
  const o = outcome([record("1.1.1"), record("1.1.2"), record("6.3.1", "FAILED")]);
  const md = renderMarkdown(o, judge(o, undefined));
  assert.match(md, /Gate: \*\*FAIL\*\*/);
  assert.match(md, /\| 1\.1 \| 2 \| 2 \|/);
  assert.match(md, /\| 6\.3\.1 \| FAILED \| OK \| fail \| Case 6\.3\.1 \|/);
  assert.doesNotMatch(md, /\| 1\.1\.1 \|/);
});
