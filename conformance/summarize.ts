/**
 * Reads the Autobahn reports under conformance/report/, prints one table (testee × runtime × role →
 * OK / NON-STRICT / INFORMATIONAL / FAILED / UNIMPLEMENTED, plus section 9 durations beside ws's),
 * writes report/summary.json and report/summary.md, and compares every result with
 * conformance/expectations.json. Runs on Deno, Bun and Node (node:* modules only).
 *
 *   deno run -A conformance/summarize.ts [--report conformance/report] [--expectations conformance/expectations.json]
 *
 * The gate (exit code 1) fails on any FAILED result that expectations do not accept and on any result
 * that differs from expectations in either direction (a case that started passing must be removed from
 * expectations, as tungstenite's CI does with its expected-results file).
 *
 * @example
 * ```ts
 * const { ok } = await summarize({ reportDir: "conformance/report", expectations: "conformance/expectations.json" });
 * ```
 * @module
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
// Imported (not read from disk) so that bundles of this module, e.g. the Node 20 test build, keep it.
import caseIds from "./case_ids.json" with { type: "json" };

/** One case of an index.json. */
export interface CaseResult {
  behavior: string;
  behaviorClose: string;
  duration: number;
  remoteCloseCode: number | null;
}

/** One testee's report, with what run.ts recorded about it (run.json) when available. */
export interface TesteeReport {
  /** `server/engine-deno`. */
  id: string;
  agent: string;
  testee: string;
  runtime: string;
  role: "server" | "client";
  peer: boolean;
  /** Case patterns the run asked for (every case when unknown). */
  planned: string[];
  results: Record<string, CaseResult>;
  seconds?: number;
  error?: string;
}

/** One accepted non-OK result. */
export interface Expectation {
  /**
   * Expected result string as {@link resultOf} gives it, e.g. "UNIMPLEMENTED" or "NON-STRICT", or
   * the list of results accepted where the outcome depends on timing (e.g. `["OK", "NON-STRICT"]`
   * for 3.2: whether the valid message and the bad frame arrive in one read).
   */
  result: string | string[];
  /** One line: why this is acceptable. */
  reason: string;
}

/** `{ "<testee id or glob>": { "<case id or glob>": Expectation } }`; `_comment` keys are ignored. */
export type Expectations = Record<string, Record<string, Expectation | string>>;

/** Counts per behaviour for the table. */
export interface Counts {
  OK: number;
  "NON-STRICT": number;
  INFORMATIONAL: number;
  FAILED: number;
  UNIMPLEMENTED: number;
  MISSING: number;
  /** Cases whose close grade (behaviorClose) is not OK, whatever the behaviour. */
  closeNotOk: number;
}

/** A result that differs from expectations. */
export interface Difference {
  id: string;
  case: string;
  expected: string;
  actual: string;
  reason?: string;
}

/** What {@link summarize} and {@link evaluate} return. */
export interface Summary {
  ok: boolean;
  rows: (Omit<TesteeReport, "results"> & {
    counts: Counts;
    section9Ms: number;
    unexpected: number;
    /** permessage-deflate as sections 12/13 found it: see {@link deflateStatus}. */
    deflate: string;
  })[];
  differences: Difference[];
  /** Section 9 durations in ms: case → testee id → ms. */
  section9: Record<string, Record<string, number>>;
}

const HERE = dirname(fileURLToPath(import.meta.url));
/** Every case id of the pinned testsuite, in its order (generated from autobahntestsuite 25.10.1). */
export const CASE_IDS: string[] = caseIds;

/** `*` matches any run of characters, `.` is literal: the same rule wstest uses for case patterns. */
export function matches(glob: string, value: string): boolean {
  const body = glob.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${body}$`).test(value);
}

/** Case ids selected by patterns, in suite order. */
export function expandCases(
  patterns: readonly string[],
  all: readonly string[] = CASE_IDS,
): string[] {
  return all.filter((id) => patterns.some((p) => matches(p, id)));
}

/**
 * The result string compared with expectations: the behaviour, plus the close grade when the
 * behaviour passed but the closing handshake was graded otherwise (e.g. `OK (close UNCLEAN)`).
 */
export function resultOf(r: CaseResult | undefined): string {
  if (!r) return "MISSING";
  const closeMatters = r.behavior === "OK" || r.behavior === "NON-STRICT";
  return closeMatters && r.behaviorClose !== "OK" && r.behaviorClose !== "INFORMATIONAL"
    ? `${r.behavior} (close ${r.behaviorClose})`
    : r.behavior;
}

/**
 * The expectation for a case: among matching entries, an exact testee id beats a glob and an exact
 * case id beats a glob. Without one, the expectation is OK.
 */
export function expectationFor(
  expectations: Expectations,
  id: string,
  caseId: string,
): Expectation | undefined {
  let best: Expectation | undefined;
  let bestScore = -1;
  for (const [testeeGlob, cases] of Object.entries(expectations)) {
    if (testeeGlob.startsWith("_") || !matches(testeeGlob, id)) continue;
    for (const [caseGlob, expectation] of Object.entries(cases)) {
      if (
        caseGlob.startsWith("_") || typeof expectation === "string" || !matches(caseGlob, caseId)
      ) continue;
      const score = (testeeGlob === id ? 2 : 0) + (caseGlob === caseId ? 1 : 0);
      if (score > bestScore) [best, bestScore] = [expectation, score];
    }
  }
  return best;
}

/** Sections 12/13: the permessage-deflate cases (the fuzzer offers the extension in each). */
export function isDeflateCase(id: string): boolean {
  return id.startsWith("12.") || id.startsWith("13.");
}

/**
 * What sections 12/13 say about a testee's permessage-deflate, for the report: `not run` (no case
 * of 12/13 planned), `not offered` (every one UNIMPLEMENTED: the testee never accepted the
 * extension, so nothing was compressed), `negotiated` (in every case run), or `negotiated; declined
 * in 13.3, 13.5` (the subsections whose parameters it turned down), each with the case count.
 * A case without a result does not count either way (the gate reports it as MISSING).
 *
 * @example
 * ```ts
 * deflateStatus(["12.1.1"], { "12.1.1": { behavior: "UNIMPLEMENTED", behaviorClose: "OK", duration: 0, remoteCloseCode: 1000 } });
 * // "not offered (1 case)"
 * ```
 */
export function deflateStatus(ids: readonly string[], results: Record<string, CaseResult>): string {
  const run = ids.filter((id) => isDeflateCase(id) && results[id]);
  if (run.length === 0) return "not run";
  const declined = run.filter((id) => results[id].behavior === "UNIMPLEMENTED");
  const n = `${run.length} case${run.length === 1 ? "" : "s"}`;
  if (declined.length === run.length) return `not offered (${n})`;
  if (declined.length === 0) return `negotiated (${n})`;
  const groups = [...new Set(declined.map((id) => id.split(".").slice(0, 2).join(".")))];
  return `negotiated; declined in ${groups.join(", ")} (${declined.length} of ${n})`;
}

/** Pure part of the summary: counts, differences and the gate verdict. */
export function evaluate(reports: TesteeReport[], expectations: Expectations): Summary {
  const differences: Difference[] = [];
  const section9: Summary["section9"] = {};
  const rows = reports.map((report) => {
    const counts: Counts = {
      OK: 0,
      "NON-STRICT": 0,
      INFORMATIONAL: 0,
      FAILED: 0,
      UNIMPLEMENTED: 0,
      MISSING: 0,
      closeNotOk: 0,
    };
    const planned = expandCases(report.planned);
    // Cases the report has but the plan did not name (an older suite, a wider --cases) still count.
    const ids = [...new Set([...planned, ...Object.keys(report.results)])];
    let section9Ms = 0;
    let unexpected = 0;
    for (const caseId of ids) {
      const r = report.results[caseId];
      const key = (r?.behavior ?? "MISSING") as keyof Counts;
      counts[key in counts ? key : "FAILED"]++;
      if (
        r && r.behaviorClose !== "OK" && r.behaviorClose !== "INFORMATIONAL" &&
        r.behavior !== "UNIMPLEMENTED"
      ) {
        counts.closeNotOk++;
      }
      if (r && caseId.startsWith("9.")) {
        section9Ms += r.duration;
        (section9[caseId] ??= {})[report.id] = r.duration;
      }
      const actual = resultOf(r);
      const expectation = expectationFor(expectations, report.id, caseId);
      const accepted = [expectation?.result ?? "OK"].flat();
      const expected = accepted.join(" | ");
      // A FAILED result is accepted only for code that is not ours (runtime-native paths and peers),
      // which the suite records as it finds it.
      const failedOurs = r?.behavior === "FAILED" && report.testee === "engine";
      if (!accepted.includes(actual) || failedOurs) {
        unexpected++;
        differences.push({
          id: report.id,
          case: caseId,
          expected,
          actual,
          reason: expectation?.reason,
        });
      }
    }
    const { results: _results, ...meta } = report;
    const deflate = deflateStatus(ids, report.results);
    return { ...meta, counts, section9Ms, unexpected, deflate };
  });
  const errors = reports.some((r) => r.error);
  return { ok: differences.length === 0 && !errors, rows, differences, section9 };
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}

interface RunRecord {
  mode?: string;
  seconds?: number;
  versions?: Record<string, string>;
  testees?: (Omit<TesteeReport, "results" | "planned"> & { cases: string[]; reportDir: string })[];
}

/** Loads every `servers/<agent>/index.json` and `clients/<agent>/index.json` below `reportDir`. */
export async function loadReports(
  reportDir: string,
): Promise<{ reports: TesteeReport[]; run?: RunRecord }> {
  const run = await readJson<RunRecord>(join(reportDir, "run.json"));
  const reports: TesteeReport[] = [];
  for (const role of ["server", "client"] as const) {
    const dir = join(reportDir, `${role}s`);
    const agents = await readdir(dir).catch(() => [] as string[]);
    for (const agent of agents.sort()) {
      const index = await readJson<Record<string, Record<string, CaseResult>>>(
        join(dir, agent, "index.json"),
      );
      const meta = run?.testees?.find((t) => t.role === role && t.agent === agent);
      const results = index?.[agent] ?? Object.values(index ?? {})[0] ?? {};
      const dash = agent.lastIndexOf("-");
      reports.push({
        id: `${role}/${agent}`,
        agent,
        role,
        testee: meta?.testee ?? (dash > 0 ? agent.slice(0, dash) : agent),
        runtime: meta?.runtime ?? (dash > 0 ? agent.slice(dash + 1) : "?"),
        peer: meta?.peer ?? agent.startsWith("ws-"),
        planned: meta?.cases ?? ["*"],
        results,
        seconds: meta?.seconds,
        error: meta?.error ?? (index ? undefined : "no index.json"),
      });
    }
  }
  // A testee that crashed before wstest wrote anything still needs a row.
  for (const t of run?.testees ?? []) {
    if (!reports.some((r) => r.role === t.role && r.agent === t.agent)) {
      reports.push({
        ...t,
        id: `${t.role}/${t.agent}`,
        planned: t.cases,
        results: {},
        error: t.error ?? "no report",
      });
    }
  }
  // Run order (peers first, then ours) reads better than directory order.
  const order = (r: TesteeReport) => {
    const i = run?.testees?.findIndex((t) => t.role === r.role && t.agent === r.agent) ?? -1;
    return i === -1 ? Number.MAX_SAFE_INTEGER : i;
  };
  reports.sort((a, b) => order(a) - order(b));
  return { reports, run };
}

const COLUMNS = [
  "OK",
  "NON-STRICT",
  "INFORMATIONAL",
  "FAILED",
  "UNIMPLEMENTED",
  "MISSING",
] as const;

/** The main table as markdown (also printed to the console). */
export function renderTable(summary: Summary): string {
  /** Sums of section 9 durations over the cases both this testee and ws (same role) ran. */
  const versusWs = (id: string, role: string): [number, number] => {
    const ws = summary.rows.find((r) => r.testee === "ws" && r.role === role)?.id;
    let mine = 0;
    let theirs = 0;
    for (const durations of Object.values(summary.section9)) {
      if (ws && id in durations && ws in durations) {
        mine += durations[id];
        theirs += durations[ws];
      }
    }
    return [mine, theirs];
  };
  const head = [
    "testee",
    "runtime",
    "role",
    ...COLUMNS,
    "close≠OK",
    "unexpected",
    "§9 total ms",
    "§9 vs ws (same cases)",
    "permessage-deflate (12/13)",
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i < 3 || i === head.length - 1 ? "---" : "---:")).join("|")}|`,
  ];
  for (const r of summary.rows) {
    const [mine, ws] = versusWs(r.id, r.role);
    const ratio = ws > 0 && mine > 0 ? `${(mine / ws).toFixed(2)}×` : "";
    const name = r.peer ? `${r.testee} (peer)` : r.testee;
    const cells = [
      name,
      r.runtime,
      r.role,
      ...COLUMNS.map((c) => String(r.counts[c])),
      String(r.counts.closeNotOk),
      r.error ? `${r.unexpected} ⚠ ${r.error}` : String(r.unexpected),
      r.section9Ms ? String(r.section9Ms) : "",
      ratio,
      r.deflate,
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** Section 9 durations, one row per case, one column per testee, ws first within each role. */
export function renderSection9(summary: Summary): string {
  const ids = summary.rows.filter((r) => Object.values(summary.section9).some((c) => r.id in c))
    .sort((
      a,
      b,
    ) => (a.role === b.role
      ? Number(b.testee === "ws") - Number(a.testee === "ws")
      : a.role < b.role
      ? 1
      : -1)
    )
    .map((r) => r.id);
  if (ids.length === 0) return "";
  const cases = CASE_IDS.filter((c) => c in summary.section9);
  const lines = [`| case | ${ids.join(" | ")} |`, `|---|${ids.map(() => "---:").join("|")}|`];
  for (const c of cases) {
    lines.push(`| ${c} | ${ids.map((id) => summary.section9[c][id] ?? "").join(" | ")} |`);
  }
  return lines.join("\n");
}

/**
 * One line per testee on permessage-deflate (sections 12/13): what it did, and for a testee that
 * does not offer it or declines some parameters, the reason recorded in expectations.json.
 */
export function renderDeflate(summary: Summary, expectations: Expectations): string {
  return summary.rows.map((r) => {
    const declined = !r.deflate.startsWith("negotiated (") && r.deflate !== "not run";
    const probe = r.deflate.match(/declined in ([\d.]+)/)?.[1] ?? "12.1";
    const reason = declined ? expectationFor(expectations, r.id, `${probe}.1`)?.reason : undefined;
    const name = `${r.peer ? `${r.testee} (peer)` : r.testee} ${r.runtime} ${r.role}`;
    return `- \`${r.id}\` (${name}): **${r.deflate}**${reason ? ` — ${reason}` : ""}`;
  }).join("\n");
}

/** Reads reports and expectations, prints the table, writes summary.json / summary.md. */
export async function summarize(
  options: { reportDir: string; expectations: string; quiet?: boolean },
): Promise<Summary> {
  const { reports, run } = await loadReports(options.reportDir);
  const expectations = (await readJson<Expectations>(options.expectations)) ?? {};
  const summary = evaluate(reports, expectations);
  const table = renderTable(summary);
  const diffs = summary.differences.map((d) =>
    `- \`${d.id}\` ${d.case}: expected ${d.expected}, got **${d.actual}**`
  );
  const shown = diffs.length > 60
    ? [...diffs.slice(0, 60), `- … ${diffs.length - 60} more (summary.json)`]
    : diffs;
  const md = [
    "## Autobahn|Testsuite results",
    "",
    `Mode: ${run?.mode ?? "?"}${run?.seconds ? `, ${Math.round(run.seconds)} s` : ""}. ` +
    `Versions: ${
      Object.entries(run?.versions ?? {}).map(([k, v]) => `${k} ${v}`).join(", ") || "?"
    }.`,
    "",
    table,
    "",
    summary.ok
      ? "Gate: **pass** (every result matches conformance/expectations.json)."
      : "Gate: **FAIL**",
    ...(shown.length ? ["", "Differences from expectations:", "", ...shown] : []),
    "",
    "### permessage-deflate (sections 12/13)",
    "",
    "`not offered`: the testee never negotiated the extension (a client testee did not offer it, a",
    "server testee did not accept the fuzzer's offer), so every case ran uncompressed and scores",
    "UNIMPLEMENTED; `declined in`: the subsections whose parameters it turned down; `not run`: this",
    "run gave the testee no case of 12/13.",
    "",
    renderDeflate(summary, expectations),
    "",
    "### Section 9 (limits/performance) durations, ms",
    "",
    "Measured by the Python fuzzer (echo + closing handshake + its own framing cost); compare within a column.",
    "",
    renderSection9(summary),
    "",
  ].join("\n");
  await writeFile(join(options.reportDir, "summary.md"), md);
  await writeFile(
    join(options.reportDir, "summary.json"),
    JSON.stringify({ ...summary, run }, null, 2) + "\n",
  );
  if (!options.quiet) {
    console.log(table);
    if (shown.length) console.log(["", "Differences from expectations:", ...shown].join("\n"));
    console.log(
      `\n${summary.ok ? "conformance gate: pass" : "conformance gate: FAIL"} — ${
        join(options.reportDir, "summary.md")
      }`,
    );
    // One line per testee for the test runner (scripts/test.ts reads "N passed, N failed").
    const bad = summary.rows.filter((r) => r.unexpected > 0 || r.error).length;
    console.log(`conformance: ${summary.rows.length - bad} passed, ${bad} failed`);
  }
  return summary;
}

// Node 24 sets import.meta.main for a test bundle that imports this module, so
// also require that this file itself is the entry point.
if (import.meta.main && import.meta.url.endsWith("/summarize.ts")) {
  const args = process.argv.slice(2);
  const value = (flag: string, fallback: string) => {
    const i = args.indexOf(flag);
    return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
  };
  const summary = await summarize({
    reportDir: value("--report", join(HERE, "report")),
    expectations: value("--expectations", join(HERE, "expectations.json")),
  });
  process.exitCode = summary.ok ? 0 : 1;
}
