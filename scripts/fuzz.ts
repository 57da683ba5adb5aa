/**
 * Engine fuzz campaign on every runtime: runs scripts/fuzz_worker.ts under
 * Deno, Bun and Node 20 (an esbuild bundle in .build/fuzz/), one after the
 * other, each until `--frames` mutated frames were fed to `Protocol` (as
 * server and client, with and without permessage-deflate's RSV1, small
 * maxMessageSize and maxFragments, deferred failures and close replies) or
 * `--seconds` passed, and prints a table: frames, frames/s, how the cases
 * ended, heap, violations. Every runtime runs the same cases (same seed), so
 * the outcome columns must agree. Exits 1 on any invariant violation, after
 * printing its replay command and the minimal input as hex.
 *
 * Usage: `deno run -A scripts/fuzz.ts [--quick] [--seed 1] [--frames 10000000]
 *   [--seconds 600] [--runtimes deno,bun,node20,node24]`
 * (`--quick`: 200,000 frames per runtime, 30 s cap.)
 *
 * @module
 */
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const bin = (name: string) => `${root}/node_modules/.bin/${name}`;
const args = Deno.args;
const quick = args.includes("--quick");
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const seed = opt("seed", "1");
const frames = opt("frames", quick ? "200000" : "10000000");
const seconds = opt("seconds", quick ? "30" : "600");
const bundle = ".build/fuzz/fuzz_worker.mjs";
const commands: Record<string, string[]> = {
  deno: [bin("deno"), "run", "-A", "--v8-flags=--expose-gc", "scripts/fuzz_worker.ts"],
  bun: [bin("bun"), "scripts/fuzz_worker.ts"],
  node20: ["/usr/bin/node", "--expose-gc", bundle],
  node24: [bin("node"), "--expose-gc", bundle],
};
const runtimes = opt("runtimes", "deno,bun,node20").split(",");
const unknown = runtimes.filter((name) => !(name in commands));
if (unknown.length > 0) throw new Error(`Unknown runtime(s): ${unknown.join(", ")}`);

interface Result {
  runtime: string;
  frames: number;
  cases: number;
  controls: number;
  bytes: number;
  seconds: number;
  framesPerSecond: number;
  outcomes: Record<string, number>;
  heapMaxMiB: number;
  heapEndMiB: number;
  gcForced: boolean;
  violationCount: number;
  violations: { replay: string; kind: string; detail: string }[];
}

let current: Deno.ChildProcess | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    try {
      current?.kill("SIGKILL");
    } catch { /* gone */ }
    Deno.exit(130);
  });
}

async function bundleWorker() {
  await Deno.mkdir(`${root}/.build/fuzz`, { recursive: true });
  const out = await new Deno.Command(bin("esbuild"), {
    args: [
      "scripts/fuzz_worker.ts",
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      `--outfile=${bundle}`,
      "--log-level=error",
    ],
    cwd: root,
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

async function runWorker(name: string): Promise<Result> {
  const [cmd, ...rest] = commands[name];
  console.error(
    `fuzzing on ${name} (seed ${seed}, ${
      Number(frames).toLocaleString("en-US")
    } frames, ${seconds} s cap)…`,
  );
  const child = new Deno.Command(cmd, {
    args: [...rest, "--seed", seed, "--frames", frames, "--seconds", seconds],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  current = child;
  const [output, status] = await Promise.all([new Response(child.stdout).text(), child.status]);
  current = undefined;
  const line = output.split("\n").find((l) => l.startsWith("RESULT "));
  if (line === undefined) {
    throw new Error(`${name}: the fuzz worker ended (code ${status.code}) without a result`);
  }
  return JSON.parse(line.slice("RESULT ".length));
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const share = (r: Result, key: string) => `${fmt((100 * (r.outcomes[key] ?? 0)) / r.cases, 1)}%`;

if (runtimes.some((name) => name.startsWith("node"))) await bundleWorker();
const results: Result[] = [];
for (const name of runtimes) results.push(await runWorker(name));

console.log(
  `\nEngine fuzz, seed ${seed}: mutated frame streams into \`Protocol\` in process (cases of 1–12 frames, ~10% unmutated and checked event for event)\n`,
);
console.log(
  "| runtime | frames | cases | MB fed | seconds | frames/s | failed 1002 | 1007 | 1008 | 1009 | peer close | still open | heap max / end (MiB) | violations |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of results) {
  console.log(
    `| ${r.runtime} | ${fmt(r.frames)} | ${fmt(r.cases)} | ${fmt(r.bytes / 1e6)} | ${
      fmt(r.seconds, 1)
    } | ${fmt(r.framesPerSecond)} | ${share(r, "1002")} | ${share(r, "1007")} | ${
      share(r, "1008")
    } | ${share(r, "1009")} | ${share(r, "close")} | ${share(r, "open")} | ${
      fmt(r.heapMaxMiB, 1)
    } / ${fmt(r.heapEndMiB, 1)}${r.gcForced ? "" : " (no GC)"} | ${r.violationCount} |`,
  );
}
const failed = results.filter((r) => r.violationCount > 0);
for (const r of failed) {
  for (const v of r.violations) {
    console.log(
      `\n${r.runtime}: ${v.kind}: ${v.detail} (replay: deno run -A scripts/fuzz_worker.ts --replay ${v.replay})`,
    );
  }
}
const short = results.filter((r) => r.frames < Number(frames));
if (short.length > 0) {
  console.error(
    `note: ${
      short.map((r) => r.runtime).join(", ")
    } stopped at the time cap before ${frames} frames`,
  );
}
Deno.exit(failed.length > 0 ? 1 : 0);
