/**
 * Pieces every benchmark in `bench/` shares: where the repository and its
 * tools are, command-line options, medians, number formatting, per-process
 * CPU and memory from `/proc`, and esbuild bundles for Node.
 *
 * Module-level code touches no runtime global, so the scripts that bundle
 * themselves for Node (`engine.ts`, `mask.ts`) and the ones that also run on
 * Bun (`client.ts`) can import it; the functions that read `/proc` or spawn
 * processes run on Deno.
 *
 * @module
 */

/** The repository root, without a trailing slash. */
export const root: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Path of a tool installed under `node_modules/.bin` (deno, bun, esbuild, …). */
export const bin = (name: string): string => `${root}/node_modules/.bin/${name}`;

/** The system Node (20), which the benchmarks compare against Node 24 from `bin("node")`. */
export const node20 = "/usr/bin/node";

/** The value after `--name` in `args`, or `fallback` when the flag is absent. */
export function option(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
}

/** Median of the values (mean of the two middle ones for an even count); does not sort in place. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `n` with thousands separators and exactly `digits` decimals; "–" when not finite. */
export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "–";
}

/** utime + stime of every thread of the process (fields 14 and 15 of stat), in ticks of 1/100 s. */
export function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Resident set size of the process, in KiB. */
export function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

/**
 * Bundles `entry` (a path from the repository root) into `outfile` as one ESM
 * file for Node 20, with esbuild; `extra` adds flags (`--sourcemap`,
 * `--packages=external`).
 */
export async function bundleForNode(
  entry: string,
  outfile: string,
  extra: readonly string[] = [],
): Promise<void> {
  await Deno.mkdir(`${root}/.build/bench`, { recursive: true });
  const out = await new Deno.Command(bin("esbuild"), {
    args: [
      entry,
      "--bundle",
      ...extra,
      "--platform=node",
      "--format=esm",
      "--target=node20",
      `--outfile=${outfile}`,
      "--log-level=error",
    ],
    cwd: root,
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}
