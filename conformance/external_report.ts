/**
 * Verdicts and reports of a run against an outside implementation (`run.ts --server URL` /
 * `--client CMD`, see external.ts): the gate, a JSON summary, a markdown table and JUnit XML with
 * one testcase per Autobahn case. Pure functions plus one writer; runs on Deno, Bun and Node.
 *
 * The gate: without an expectations file, a run passes when no case is FAILED and none is MISSING
 * (NON-STRICT, INFORMATIONAL and UNIMPLEMENTED pass). With one (the format of
 * conformance/expectations.json), every result must be one its entry accepts (OK when the case is
 * not listed), in both directions, exactly like the repository's own gate.
 *
 * @example
 * ```ts
 * const verdicts = judge(outcome, undefined);
 * console.log(renderMarkdown(outcome, verdicts));
 * ```
 * @module
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expectationFor, type Expectations, resultOf } from "./summarize.ts";

/** One finished case as wstest_driver.py prints it (`@@result {json}`). */
export interface CaseRecord {
  id: string;
  behavior: string;
  behaviorClose: string;
  duration: number;
  remoteCloseCode: number | null;
  description?: string;
  expectation?: string;
  remoteCloseReason?: string | null;
  wasNotCleanReason?: string | null;
  result?: string;
  resultClose?: string;
  openHandshakeTimeout?: boolean;
  /** What the harness adds: "did not answer the opening handshake", "client killed after 60 s", … */
  note?: string;
}

/** Everything a run produced. */
export interface ExternalOutcome {
  role: "server" | "client";
  /** The server URL or the client command. */
  target: string;
  agent: string;
  /** Case ids in run order. */
  planned: string[];
  results: Record<string, CaseRecord>;
  /** Why cases are missing / what went wrong with the run itself (the server died, …). */
  errors: string[];
  started: string;
  seconds: number;
  fuzzer: string;
  /** Fuzzer processes at once (split.ts); 1 when absent. */
  jobs?: number;
}

/** The verdict on one case. */
export interface Verdict {
  id: string;
  /** `resultOf` of the record (`OK`, `NON-STRICT`, `OK (close UNCLEAN)`, …) or `MISSING`. */
  actual: string;
  /** Accepted results (`["OK"]` by default). */
  expected: string[];
  status: "pass" | "fail" | "skip" | "missing";
  reason?: string;
}

/** What {@link judge} returns. */
export interface Judgement {
  ok: boolean;
  verdicts: Verdict[];
  /** The expectations file, when the gate used one. */
  expect?: string;
}

/** The first line of a case description (wstest's hold HTML and the payload in hex after it). */
export function shortDescription(description: string | undefined): string {
  const first = (description ?? "").split(/<br>|\n/)[0].trim();
  return first.length > 120 ? `${first.slice(0, 117)}...` : first;
}

/** The group a case belongs to (its id without the last part): 6.4.1 → 6.4, 2.3 → 2. */
export function caseGroup(id: string): string {
  const parts = id.split(".");
  return parts.length > 1 ? parts.slice(0, -1).join(".") : id;
}

/**
 * Judges every planned case. The testee id expectations are matched against is `role/agent`
 * (`server/testee`), so entries keyed `*` apply to any run.
 */
export function judge(
  outcome: ExternalOutcome,
  expectations: Expectations | undefined,
  expectFile?: string,
): Judgement {
  const id = `${outcome.role}/${outcome.agent}`;
  const ids = [...new Set([...outcome.planned, ...Object.keys(outcome.results)])];
  const verdicts = ids.map((caseId): Verdict => {
    const record = outcome.results[caseId];
    const actual = resultOf(record);
    if (!record) {
      return { id: caseId, actual, expected: ["OK"], status: "missing", reason: "no result" };
    }
    if (!expectations) {
      const status = record.behavior === "FAILED"
        ? "fail"
        : record.behavior === "UNIMPLEMENTED"
        ? "skip"
        : "pass";
      return { id: caseId, actual, expected: ["OK"], status, reason: record.note };
    }
    const expectation = expectationFor(expectations, id, caseId);
    const expected = [expectation?.result ?? "OK"].flat();
    const accepted = expected.includes(actual);
    return {
      id: caseId,
      actual,
      expected,
      status: !accepted ? "fail" : record.behavior === "UNIMPLEMENTED" ? "skip" : "pass",
      reason: [expectation?.reason, record.note].filter(Boolean).join("; ") || undefined,
    };
  });
  const ok = outcome.errors.length === 0 &&
    verdicts.every((v) => v.status === "pass" || v.status === "skip");
  return { ok, verdicts, expect: expectFile };
}

/** The behaviours a case can end with, in the order reports list them (MISSING: no result). */
export const BEHAVIORS = [
  "OK",
  "NON-STRICT",
  "INFORMATIONAL",
  "UNIMPLEMENTED",
  "FAILED",
  "MISSING",
];

/** Counts per behaviour (the close grade aside). */
export function countBehaviors(
  outcome: ExternalOutcome,
  ids: readonly string[] = outcome.planned,
): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(BEHAVIORS.map((b) => [b, 0]));
  for (const id of ids) {
    const b = outcome.results[id]?.behavior ?? "MISSING";
    counts[b] = (counts[b] ?? 0) + 1;
  }
  return counts;
}

/** `OK 8, FAILED 2`: non-zero counts only. */
export function countLine(counts: Record<string, number>): string {
  return Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ") ||
    "no cases";
}

function groups(outcome: ExternalOutcome): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const id of outcome.planned) {
    const g = caseGroup(id);
    map.set(g, [...(map.get(g) ?? []), id]);
  }
  return map;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function describeTarget(outcome: ExternalOutcome): string {
  return outcome.role === "server" ? `server ${outcome.target}` : `client \`${outcome.target}\``;
}

/** The markdown report: totals, one row per case group, then every case that is not plain OK. */
export function renderMarkdown(outcome: ExternalOutcome, judgement: Judgement): string {
  const counts = countBehaviors(outcome);
  const lines = [
    `## Autobahn|Testsuite: ${cell(describeTarget(outcome))}`,
    "",
    `Agent \`${outcome.agent}\`, ${outcome.planned.length} cases in ${
      outcome.seconds.toFixed(1)
    } s ` +
    `(${outcome.fuzzer}): ${countLine(counts)}.`,
    "",
    `Gate: **${judgement.ok ? "pass" : "FAIL"}** (${
      judgement.expect ? `results against ${judgement.expect}` : "no FAILED or MISSING case"
    }).`,
    ...outcome.errors.map((e) => `\n> ${cell(e)}`),
    "",
    `| group | cases | ${BEHAVIORS.join(" | ")} | ms |`,
    `|---|---:|${BEHAVIORS.map(() => "---:").join("|")}|---:|`,
  ];
  for (const [group, ids] of groups(outcome)) {
    const c = countBehaviors(outcome, ids);
    const ms = ids.reduce((sum, id) => sum + (outcome.results[id]?.duration ?? 0), 0);
    lines.push(
      `| ${group} | ${ids.length} | ${BEHAVIORS.map((b) => c[b] || "").join(" | ")} | ${ms} |`,
    );
  }
  const notable = judgement.verdicts.filter((v) => v.actual !== "OK" || v.status !== "pass");
  if (notable.length > 0) {
    lines.push(
      "",
      "### Cases that are not plain OK",
      "",
      "| case | result | accepted | verdict | description | note |",
      "|---|---|---|---|---|---|",
    );
    for (const v of notable) {
      const r = outcome.results[v.id];
      lines.push(
        `| ${v.id} | ${cell(v.actual)} | ${cell(v.expected.join(" or "))} | ${v.status} | ${
          cell(shortDescription(r?.description))
        } | ${cell(v.reason ?? "")} |`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

const xml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");

/**
 * JUnit XML, one `<testcase>` per Autobahn case: FAILED (or, with expectations, any result they do
 * not accept) is a `<failure>`, a case without a result an `<error>`, UNIMPLEMENTED `<skipped>`;
 * NON-STRICT and INFORMATIONAL pass, with the grade in `<properties>` like every other case.
 */
export function renderJUnit(outcome: ExternalOutcome, judgement: Judgement): string {
  const count = (s: Verdict["status"]) => judgement.verdicts.filter((v) => v.status === s).length;
  const attrs = `tests="${judgement.verdicts.length}" failures="${count("fail")}" errors="${
    count("missing") + (outcome.errors.length > 0 ? 1 : 0)
  }" skipped="${count("skip")}" time="${outcome.seconds.toFixed(3)}"`;
  const name = xml(`Autobahn|Testsuite ${describeTarget(outcome)}`);
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${name}" ${attrs}>`,
    `  <testsuite name="${name}" ${attrs} timestamp="${outcome.started}">`,
    `    <properties>`,
    `      <property name="role" value="${outcome.role}"/>`,
    `      <property name="target" value="${xml(outcome.target)}"/>`,
    `      <property name="agent" value="${xml(outcome.agent)}"/>`,
    `      <property name="fuzzer" value="${xml(outcome.fuzzer)}"/>`,
    ...(judgement.expect
      ? [`      <property name="expectations" value="${xml(judgement.expect)}"/>`]
      : []),
    `    </properties>`,
  ];
  if (outcome.errors.length > 0) {
    // The run itself went wrong (the server died, the fuzzer crashed): one testcase says so.
    out.push(
      `    <testcase classname="autobahn.${outcome.role}" name="run" time="0">`,
      `      <error message="${xml(outcome.errors[0])}">${xml(outcome.errors.join("\n"))}</error>`,
      `    </testcase>`,
    );
  }
  for (const v of judgement.verdicts) {
    const r = outcome.results[v.id];
    const classname = `autobahn.${outcome.role}.${caseGroup(v.id).replace(/\./g, "_")}`;
    const title = r?.description ? `${v.id} ${shortDescription(r.description)}` : v.id;
    out.push(
      `    <testcase classname="${classname}" name="${xml(title)}" time="${
        ((r?.duration ?? 0) / 1000).toFixed(3)
      }">`,
    );
    const props: [string, string | number | null | undefined][] = [
      ["case", v.id],
      ["result", v.actual],
      ["behavior", r?.behavior ?? "MISSING"],
      ["behaviorClose", r?.behaviorClose],
      ["remoteCloseCode", r?.remoteCloseCode],
      ["accepted", v.expected.join(" | ")],
      ["reason", v.reason],
      ["description", r?.description],
    ];
    out.push(`      <properties>`);
    for (const [k, value] of props) {
      if (value !== undefined && value !== null) {
        out.push(`        <property name="${k}" value="${xml(String(value))}"/>`);
      }
    }
    out.push(`      </properties>`);
    const detail = r
      ? [
        r.expectation && `expected: ${r.expectation}`,
        r.result && `observed: ${r.result}`,
        r.resultClose && `close: ${r.resultClose}`,
        r.note && `note: ${r.note}`,
      ].filter(Boolean).join("\n")
      : "";
    if (v.status === "fail") {
      const message = judgement.expect
        ? `expected ${v.expected.join(" or ")}, got ${v.actual}`
        : v.actual;
      out.push(
        `      <failure message="${xml(message)}" type="${xml(v.actual)}">${xml(detail)}</failure>`,
      );
    } else if (v.status === "missing") {
      out.push(
        `      <error message="no result: the case did not run to the end" type="MISSING">${
          xml(outcome.errors.join("\n"))
        }</error>`,
      );
    } else if (v.status === "skip") {
      out.push(`      <skipped message="${xml(v.actual)}: the peer declined the extension"/>`);
    }
    if (detail && v.status !== "fail") out.push(`      <system-out>${xml(detail)}</system-out>`);
    out.push(`    </testcase>`);
  }
  out.push(`  </testsuite>`, `</testsuites>`, "");
  return out.join("\n");
}

/** The JSON summary: the outcome, the counts and every verdict. */
export function renderJson(outcome: ExternalOutcome, judgement: Judgement): string {
  return JSON.stringify(
    {
      role: outcome.role,
      target: outcome.target,
      agent: outcome.agent,
      fuzzer: outcome.fuzzer,
      started: outcome.started,
      seconds: outcome.seconds,
      jobs: outcome.jobs ?? 1,
      counts: countBehaviors(outcome),
      gate: {
        ok: judgement.ok,
        expectations: judgement.expect ?? null,
        failing: judgement.verdicts.filter((v) => v.status === "fail" || v.status === "missing"),
      },
      errors: outcome.errors,
      cases: judgement.verdicts.map((v) => ({ ...v, ...outcome.results[v.id] })),
    },
    null,
    2,
  ) + "\n";
}

/** Writes summary.json, summary.md and junit.xml into `dir`. */
export async function writeReports(
  dir: string,
  outcome: ExternalOutcome,
  judgement: Judgement,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "summary.json"), renderJson(outcome, judgement));
  await writeFile(join(dir, "summary.md"), renderMarkdown(outcome, judgement));
  await writeFile(join(dir, "junit.xml"), renderJUnit(outcome, judgement));
}
