/**
 * Pieces every benchmark in `bench/` shares: where the repository and its
 * tools are, command-line options, interleaved rounds, medians, number and
 * size formatting, Markdown tables, per-process CPU and memory from `/proc`,
 * and esbuild bundles for Node. Starting, pinning, reading and stopping the
 * processes the benchmarks measure is in `_harness/processes.ts`.
 *
 * Built on `node:` modules only, so it runs on Deno, Bun and Node; the
 * scripts that bundle themselves for Node (`engine.ts`, `mask.ts`) and the
 * ones that also run on Bun (`client.ts`) import it too.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository root, without a trailing slash. */
export const root: string = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/** Path of a tool installed under `node_modules/.bin` (deno, bun, esbuild, …). */
export const bin = (name: string): string => `${root}/node_modules/.bin/${name}`;

/** The system Node (20), which the benchmarks compare against Node 24 from `bin("node")`. */
export const node20 = "/usr/bin/node";

/** The value after `--name` in `args`, or `fallback` when the flag is absent. */
export function option(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
}

/**
 * `items` rotated left by `round` places: visiting them in this order round
 * after round spreads drift and background load over all of them alike
 * (each one goes first in turn).
 */
export function rotated<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Median of the values (mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The `q` quantile of the values (0 ≤ q ≤ 1), interpolated between the two
 * nearest order statistics (`quantile(v, 0.5)` is the median); NaN for none.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const below = Math.floor(at);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (at - below);
}

/**
 * A distribution-free confidence interval of the median: the order
 * statistics `[x(k), x(n+1-k)]` with the largest `k` whose two binomial
 * tails (p = 1/2) hold at most `1 − confidence` together; it covers the true
 * median at least that often whatever the distribution. Too few values for
 * that (fewer than 6 at 95 %) give `[NaN, NaN]`.
 */
export function medianInterval(values: readonly number[], confidence = 0.95): [number, number] {
  const n = values.length;
  if (n === 0) return [NaN, NaN];
  const sorted = [...values].sort((a, b) => a - b);
  // P(X ≤ i) for X ~ Binomial(n, 1/2), summed term by term.
  let term = 0.5 ** n;
  let tail = term;
  let k = 0;
  for (let i = 0; 2 * tail <= 1 - confidence && i < n; i++) {
    k = i + 1;
    term = (term * (n - i)) / (i + 1);
    tail += term;
  }
  return k === 0 ? [NaN, NaN] : [sorted[k - 1], sorted[n - k]];
}

/**
 * In-process timing: runs `pass` (which handles `unitsPerPass` frames, bytes,
 * …) for a third of `ms` to warm up, then for `ms`, reading the clock once
 * per pass; returns units per second.
 */
export function perSecond(pass: () => void, unitsPerPass: number, ms: number): number {
  const warmupEnd = performance.now() + ms / 3;
  while (performance.now() < warmupEnd) pass();
  let passes = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    pass();
    passes++;
    now = performance.now();
  }
  return (passes * unitsPerPass) / ((now - start) / 1000);
}

/** Samples of every interleaved round, kept per key ("server|case"). */
export class Samples<T> {
  readonly #byKey = new Map<string, T[]>();

  /** Adds one round's sample under `key`. */
  add(key: string, sample: T): void {
    const list = this.#byKey.get(key);
    if (list) list.push(sample);
    else this.#byKey.set(key, [sample]);
  }

  /** Every sample under `key` (none: empty). */
  of(key: string): T[] {
    return this.#byKey.get(key) ?? [];
  }

  /** Median of `pick` over the samples under `key`; NaN when there are none. */
  median(key: string, pick: (sample: T) => number): number {
    return median(this.of(key).map(pick));
  }

  /** "min–max" of `pick` over the samples under `key`, formatted with {@linkcode fmt}. */
  range(key: string, pick: (sample: T) => number, digits = 0): string {
    const values = this.of(key).map(pick);
    return `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}`;
  }
}

/** `n` with thousands separators and exactly `digits` decimals; "–" when not finite. */
export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "–";
}

/** A byte count as "20 B", "1 KiB", "64 KiB", "16 MiB". */
export function sizeLabel(bytes: number): string {
  return bytes >= 1 << 20
    ? `${bytes / (1 << 20)} MiB`
    : bytes >= 1024
    ? `${bytes / 1024} KiB`
    : `${bytes} B`;
}

/**
 * A Markdown table: `align` has one letter per column, `l` or `r`
 * (default: the first column left, the others right, as numbers are).
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  align = "l" + "r".repeat(header.length - 1),
): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(" | ")} |`;
  const rule = `|${[...align].map((a) => (a === "r" ? "---:" : "---")).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** utime + stime of every thread of the process (fields 14 and 15 of stat), in ticks of 1/100 s. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** utime + stime of every thread of the process, in seconds. */
export function cpuSeconds(pid: number): number {
  return cpuTicks(pid) / 100;
}

/** Resident set size of the process, in KiB. */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

/** Nanoseconds the process's main thread spent runnable but waiting for a CPU (schedstat); NaN without schedstats. */
export function runqueueWaitNs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[1]);
  } catch {
    return NaN;
  }
}

/** Runs `cmd` to its end (from the repository root) and returns its trimmed stdout; throws with its stderr on failure. */
export function runText(cmd: readonly string[], env?: Record<string, string>): string {
  const out = spawnSync(cmd[0], cmd.slice(1), {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 1 << 26,
    env: env ? { ...process.env, ...env } : undefined,
  });
  if (out.error) throw out.error;
  if (out.status !== 0) {
    throw new Error(`${cmd.join(" ")} exited ${out.status ?? out.signal}: ${out.stderr}`);
  }
  return out.stdout.trim();
}

/** Runs `cmd` to its end and parses the last line of its stdout as JSON (what the worker processes print). */
export function runJson<T>(cmd: readonly string[], env?: Record<string, string>): T {
  return JSON.parse(runText(cmd, env).split("\n").pop()!) as T;
}

/**
 * Bundles `entry` (a path from the repository root) into `outfile` as one ESM
 * file for Node 20, with esbuild; `extra` adds flags (`--sourcemap`,
 * `--packages=external`).
 */
export function bundleForNode(
  entry: string,
  outfile: string,
  extra: readonly string[] = [],
): void {
  mkdirSync(`${root}/.build/bench`, { recursive: true });
  runText([
    bin("esbuild"),
    entry,
    "--bundle",
    ...extra,
    "--platform=node",
    "--format=esm",
    "--target=node20",
    `--outfile=${outfile}`,
    "--log-level=error",
  ]);
}

/** Why a Go peer cannot be built here (no `go` on PATH), or `false` when it can. */
export function goMissing(): string | false {
  const probe = spawnSync("go", ["version"], { encoding: "utf8" });
  return probe.status === 0
    ? false
    : "the Go toolchain is not installed (no `go` on PATH); the Go load generator is optional";
}

/**
 * Builds the Go module in `dir` (from the repository root) into
 * `.build/bench/<name>` and returns the binary's path. The first build
 * fetches the module's dependencies through the Go module proxy.
 */
export function goBuild(dir: string, name: string): string {
  const output = `${root}/.build/bench/${name}`;
  mkdirSync(`${root}/.build/bench`, { recursive: true });
  const out = spawnSync("go", ["build", "-o", output, "."], {
    cwd: `${root}/${dir}`,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (out.status !== 0) throw new Error(`go build in ${dir} failed: ${out.stderr || out.error}`);
  return output;
}
