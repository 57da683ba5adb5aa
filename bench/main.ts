/**
 * Runs every benchmark in turn and prints their tables: the in-process
 * engine (`engine.ts`), loopback echo servers (`echo.ts`),
 * permessage-deflate (`deflate.ts`) and the reconnecting client's
 * overhead (`client.ts`). Each one measures its peers in the same run
 * and prints medians and ratios, never absolute times alone.
 *
 * Usage: `deno run -A bench/main.ts [--quick] [--only engine,echo,deflate,client]`.
 * `--quick` runs short rounds (a smoke test of the scripts, numbers are
 * rough); without it the full runs take about 15–25 minutes on 2 cores.
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname;
const deno = `${root}node_modules/.bin/deno`;

interface Bench {
  name: string;
  script: string;
  full: string[];
  quick: string[];
}

const benches: Bench[] = [
  {
    name: "engine",
    script: "bench/engine.ts",
    full: ["--rounds", "7", "--ms", "400"],
    quick: ["--rounds", "1", "--ms", "100"],
  },
  {
    name: "echo",
    script: "bench/echo.ts",
    full: ["--rounds", "3", "--seconds", "3", "--idle", "5000"],
    quick: ["--rounds", "1", "--seconds", "1", "--cases", "20,1024", "--idle", "200"],
  },
  {
    name: "deflate",
    script: "bench/deflate.ts",
    full: ["--rounds", "3", "--connections", "1000"],
    quick: ["--quick"],
  },
  {
    name: "client",
    script: "bench/client.ts",
    // Fewer than 6 rounds give no confidence interval, so no verdict.
    full: ["--rounds", "21"],
    quick: ["--rounds", "1", "--bytes", "4194304"],
  },
];

const args = Deno.args;
const quick = args.includes("--quick");
const onlyIndex = args.indexOf("--only");
const only = onlyIndex >= 0 ? args[onlyIndex + 1].split(",") : benches.map((b) => b.name);
const unknown = only.filter((name) => !benches.some((b) => b.name === name));
if (unknown.length > 0) throw new Error(`Unknown benchmark(s): ${unknown.join(", ")}`);

const failed: string[] = [];
for (const bench of benches.filter((b) => only.includes(b.name))) {
  console.log(`\n## ${bench.name} (${bench.script})\n`);
  const started = performance.now();
  const status = await new Deno.Command(deno, {
    args: ["run", "-A", bench.script, ...(quick ? bench.quick : bench.full)],
    cwd: root,
    stdin: "null",
  }).spawn().status;
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  console.log(
    `\n(${bench.name}: ${status.success ? "done" : `exit ${status.code}`} in ${seconds} s)`,
  );
  if (!status.success) failed.push(bench.name);
}
if (failed.length > 0) {
  console.error(`\nBenchmarks that failed: ${failed.join(", ")}`);
  Deno.exit(1);
}
