/**
 * Splitting one testee's cases over several fuzzer processes, and merging what they report back into
 * one report. Pure functions plus one file merger (node:* only: used by run.ts on Deno and by
 * external.ts on Deno, Bun and Node).
 *
 * Why: the fuzzer (wstest, CPython 2) is single-threaded, and sections 12/13 spend seconds per case
 * compressing 1000 messages in it, so one fuzzer process leaves the other cores idle. Several
 * fuzzing clients can test one server at once (each case is its own connection), and several fuzzing
 * servers can each serve one client process.
 *
 * The plan ({@link planParts}) runs in two phases:
 * 1. every case except section 9, dealt round-robin over `jobs` processes (round-robin, not in
 *    blocks: within a subsection the payload grows case by case, so blocks would be unbalanced);
 * 2. section 9 (limits/performance: its durations are compared between testees) in one process
 *    that has the testee to itself, so its timings mean what they meant before the split.
 *
 * With `jobs` 1 the plan is one process with every case in suite order: exactly the unsplit run.
 *
 * @example
 * ```ts
 * planParts(["1.1.1", "1.1.2", "9.1.1"], 2); // [[["1.1.1"], ["1.1.2"]], [["9.1.1"]]]
 * ```
 * @module
 */
import { copyFile, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** One case of a wstest `index.json` (the fields the harness reads; wstest writes a few more). */
export interface IndexEntry {
  behavior: string;
  behaviorClose: string;
  duration: number;
  remoteCloseCode: number | null;
  reportfile?: string;
}

/** wstest's `index.json`: agent → case id → entry. */
export type Index = Record<string, Record<string, IndexEntry>>;

/** Phases run one after the other; the parts of a phase run at the same time. */
export type Plan = string[][][];

/** Section 9 (limits/performance): run alone, so that its durations stay comparable. */
export function isTimed(id: string): boolean {
  return id.startsWith("9.");
}

/**
 * Which fuzzer process runs which case (see the module doc). Empty parts and phases are left out;
 * every id lands in exactly one part.
 *
 * @example
 * ```ts
 * planParts(["1.1.1", "1.1.2", "1.1.3"], 2); // [[["1.1.1", "1.1.3"], ["1.1.2"]]]
 * ```
 */
export function planParts(ids: readonly string[], jobs: number): Plan {
  if (!(jobs > 1)) return ids.length ? [[[...ids]]] : [];
  const rest = ids.filter((id) => !isTimed(id));
  const timed = ids.filter(isTimed);
  const parts: string[][] = Array.from({ length: Math.min(jobs, rest.length) }, () => []);
  rest.forEach((id, i) => parts[i % parts.length].push(id));
  return [parts, [timed]].filter((phase) => phase.some((part) => part.length > 0));
}

/**
 * The default number of fuzzer processes per testee: one per core (at least 1).
 *
 * @example
 * ```ts
 * defaultJobs(2); // 2
 * ```
 */
export function defaultJobs(cores: number | undefined): number {
  return Math.max(1, Math.floor(cores ?? 1));
}

/**
 * Merges the `index.json` of several parts. A case reported by two parts (which a plan never does)
 * is an error, not a silent overwrite; a case no part reported is simply absent, and the gate counts
 * it MISSING against the planned list.
 *
 * @example
 * ```ts
 * mergeIndexes([{ a: { "1.1.1": entry } }, { a: { "1.1.2": entry } }]);
 * ```
 */
export function mergeIndexes(indexes: readonly Index[]): Index {
  const merged: Index = {};
  for (const index of indexes) {
    for (const [agent, cases] of Object.entries(index)) {
      const into = merged[agent] ??= {};
      for (const [id, entry] of Object.entries(cases)) {
        if (id in into) throw new Error(`case ${id} of agent ${agent} was reported by two parts`);
        into[id] = entry;
      }
    }
  }
  return merged;
}

/**
 * Merges the wstest output folders of the parts into `outdir`: every per-case file (`*_case_*.html`
 * and `.json`, named by agent and case, so they never collide) is copied, and `index.json` is the
 * merge of the parts' ones. Parts without an `index.json` (a fuzzer that was killed) add nothing.
 * wstest's own `index.html` is not written here: the fuzzer driver rebuilds it from the per-case
 * JSON (`wstest_driver.py --merge-reports`).
 *
 * @example
 * ```ts
 * const index = await mergeReportDirs(["out/part-1", "out/part-2"], "out");
 * ```
 */
export async function mergeReportDirs(partDirs: readonly string[], outdir: string): Promise<Index> {
  const indexes: Index[] = [];
  for (const dir of partDirs) {
    let text: string;
    try {
      text = await readFile(join(dir, "index.json"), "utf8");
    } catch {
      continue;
    }
    indexes.push(JSON.parse(text));
    for (const name of await readdir(dir)) {
      if (/_case_[\d_]+\.(html|json)$/.test(name)) {
        await copyFile(join(dir, name), join(outdir, name));
      }
    }
  }
  const merged = mergeIndexes(indexes);
  await writeFile(join(outdir, "index.json"), JSON.stringify(merged, null, 3) + "\n");
  return merged;
}
