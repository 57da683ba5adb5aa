/**
 * Runs the whole test suite on every runtime and prints one total.
 *
 * Stages, in order:
 * - `deno`: `deno test --unstable-net` over every `*_test.ts` (the flag exposes
 *   Deno's own `WebSocketStream`, checked against the same contract as ours).
 * - `bun`: `bun test` over the same files.
 * - `node`: each test file bundled by esbuild and run by `node --test` under
 *   the system Node (20 on a fresh machine, which has no global WebSocket).
 * - `node24`: the same bundles under the newer Node (the `node`
 *   devDependency), which has a global WebSocket, so the native client runs.
 * - `jsr`: JSR readiness (`scripts/check_jsr.ts`): check, lint, fmt, doc lint,
 *   an example on every export, the doc tests, `deno publish --dry-run`.
 * - `npm`: the npm build, then its smoke tests against the packed tarball.
 * - `conformance`: the quick Autobahn run (`conformance/run.ts --quick`).
 *
 * Usage: `deno run -A scripts/test.ts [--only deno,bun,node,node24,jsr,npm,conformance] [--filter text[,text…]] [--no-setup]`.
 * Unless `--no-setup`, `scripts/setup.sh` first installs what is missing
 * (Chromium, the Autobahn testsuite).
 * The last line is `N passed, N failed`, summed over all stages; the exit
 * code is non-zero when anything failed or a stage could not run.
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const bin = (name: string) => `${root}/node_modules/.bin/${name}`;

type StageName = "deno" | "bun" | "node" | "node24" | "jsr" | "npm" | "conformance";
const allStages: StageName[] = ["deno", "bun", "node", "node24", "jsr", "npm", "conformance"];

interface StageResult {
  name: StageName;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
  note?: string;
}

function parseArgs(
  args: string[],
): { only: StageName[]; filter: string | undefined; setup: boolean } {
  let only = allStages;
  let filter: string | undefined;
  let setup = true;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--only") only = args[++i].split(",") as StageName[];
    else if (args[i] === "--no-setup") setup = false;
    else if (args[i] === "--filter") filter = args[++i];
    else throw new Error(`Unknown argument ${args[i]}`);
  }
  return { only, filter, setup };
}

async function findTests(filter: string | undefined): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string) {
    for await (const entry of Deno.readDir(`${root}/${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith("_test.ts")) found.push(path);
    }
  }
  await walk("test");
  for await (const entry of Deno.readDir(`${root}/conformance`)) {
    if (entry.isFile && entry.name.endsWith("_test.ts")) found.push(`conformance/${entry.name}`);
  }
  // Comma-separated substrings: a file runs when its path contains any of them.
  const parts = filter?.split(",").filter((part) => part !== "");
  return found.filter((path) => !parts || parts.some((part) => path.includes(part))).sort();
}

/** The system Node: the first `node` on PATH that is not a devDependency. */
async function systemNode(): Promise<string> {
  if (Deno.env.get("WSC_NODE20")) return Deno.env.get("WSC_NODE20")!;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir || dir.includes("node_modules")) continue;
    try {
      await Deno.stat(`${dir}/node`);
      return `${dir}/node`;
    } catch { /* not here */ }
  }
  throw new Error("No system Node found on PATH");
}

// deno-lint-ignore no-control-regex
const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs: number; label: string },
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: root,
    env: { ...options.env, FORCE_COLOR: "0", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => {
    console.error(`[${options.label}] timed out after ${options.timeoutMs / 1000} s; killing`);
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.timeoutMs);
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, sink: (s: string) => void) => {
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      chunks.push(text);
      sink(text);
    }
  };
  const verbose = Deno.env.get("WSC_TEST_VERBOSE") !== "0";
  const write = (s: string) => verbose && Deno.stdout.writeSync(new TextEncoder().encode(s));
  await Promise.all([pump(child.stdout, write), pump(child.stderr, write)]);
  const status = await child.status;
  clearTimeout(timer);
  return { code: status.code, output: stripAnsi(chunks.join("")) };
}

function lastMatch(output: string, pattern: RegExp): RegExpMatchArray | undefined {
  const all = [...output.matchAll(new RegExp(pattern.source, "gm"))];
  return all.at(-1);
}

function count(output: string, pattern: RegExp): number {
  const match = lastMatch(output, pattern);
  return match ? Number(match[1]) : 0;
}

/** Parses the plain `N passed, N failed` line that our own stages print. */
function parsePlain(name: StageName, output: string, code: number, seconds: number): StageResult {
  const match = lastMatch(output, /^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/);
  if (!match) {
    return {
      name,
      passed: 0,
      failed: 1,
      skipped: 0,
      seconds,
      note: `no result line (exit ${code})`,
    };
  }
  const failed = Number(match[2]) + (code !== 0 && Number(match[2]) === 0 ? 1 : 0);
  return { name, passed: Number(match[1]), failed, skipped: Number(match[3] ?? 0), seconds };
}

async function stageDeno(tests: string[]): Promise<StageResult> {
  const start = performance.now();
  // --unstable-net: Deno's own WebSocketStream, which test/channel/web_socket_stream_test.ts
  // runs through the same contract as ours.
  const { code, output } = await run(bin("deno"), ["test", "-A", "--unstable-net", ...tests], {
    timeoutMs: 15 * 60_000,
    label: "deno",
  });
  const seconds = (performance.now() - start) / 1000;
  const summary = lastMatch(
    output,
    /^(?:ok|FAILED) \| (\d+) passed.*?\| (\d+) failed(?:.*?\| (\d+) ignored)?/,
  );
  if (!summary) {
    return {
      name: "deno",
      passed: 0,
      failed: 1,
      skipped: 0,
      seconds,
      note: `no summary (exit ${code})`,
    };
  }
  const failed = Number(summary[2]);
  return {
    name: "deno",
    passed: Number(summary[1]),
    failed: failed === 0 && code !== 0 ? 1 : failed,
    skipped: Number(summary[3] ?? 0),
    seconds,
    note: failed === 0 && code !== 0 ? `exit ${code}` : undefined,
  };
}

async function stageBun(tests: string[]): Promise<StageResult> {
  const start = performance.now();
  const { code, output } = await run(bin("bun"), [
    "test",
    "--timeout",
    "60000",
    ...tests.map((t) => `./${t}`),
  ], {
    timeoutMs: 15 * 60_000,
    label: "bun",
  });
  const seconds = (performance.now() - start) / 1000;
  const passed = count(output, /^\s*(\d+) pass$/);
  const failed = count(output, /^\s*(\d+) fail$/);
  const skipped = count(output, /^\s*(\d+) skip$/);
  const broken = code !== 0 && failed === 0;
  return {
    name: "bun",
    passed,
    failed: broken ? 1 : failed,
    skipped,
    seconds,
    note: broken ? `exit ${code}` : undefined,
  };
}

/** Bundles every test file once for Node; the bundles serve both Node stages. */
async function buildNodeBundles(tests: string[]): Promise<string[] | undefined> {
  const build = await run(bin("esbuild"), [
    ...tests,
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--target=node20",
    "--packages=external",
    "--log-level=warning",
    `--outbase=${root}`,
    `--outdir=${nodeBundleDir}`,
    "--out-extension:.js=.mjs",
  ], { timeoutMs: 120_000, label: "node build" });
  if (build.code !== 0) return undefined;
  return tests.map((t) => `${nodeBundleDir}/${t.replace(/\.ts$/, ".mjs")}`);
}

// A private folder per run, so concurrent runs never clobber each other.
const nodeBundleDir = `${root}/.build/node-${Deno.pid}`;
let nodeBundles: Promise<string[] | undefined> | undefined;

async function stageNode(name: "node" | "node24", tests: string[]): Promise<StageResult> {
  const start = performance.now();
  nodeBundles ??= buildNodeBundles(tests);
  const bundles = await nodeBundles;
  if (!bundles) {
    return { name, passed: 0, failed: 1, skipped: 0, seconds: 0, note: "esbuild failed" };
  }
  const node = name === "node" ? await systemNode() : bin("node");
  const { code, output } = await run(node, ["--test", "--test-reporter=tap", ...bundles], {
    env: { WSC_NODE20: await systemNode() },
    timeoutMs: 15 * 60_000,
    label: name,
  });
  const seconds = (performance.now() - start) / 1000;
  const passed = count(output, /^# pass (\d+)$/);
  const failed = count(output, /^# fail (\d+)$/) + count(output, /^# cancelled (\d+)$/);
  const skipped = count(output, /^# skipped (\d+)$/);
  const broken = code !== 0 && failed === 0;
  return {
    name,
    passed,
    failed: broken ? 1 : failed,
    skipped,
    seconds,
    note: broken ? `exit ${code}` : undefined,
  };
}

async function stageScript(name: StageName, script: string, args: string[]): Promise<StageResult> {
  const start = performance.now();
  try {
    await Deno.stat(`${root}/${script}`);
  } catch {
    return { name, passed: 0, failed: 1, skipped: 0, seconds: 0, note: `${script} is missing` };
  }
  const { code, output } = await run(bin("deno"), ["run", "-A", script, ...args], {
    timeoutMs: 40 * 60_000,
    label: name,
  });
  return parsePlain(name, output, code, (performance.now() - start) / 1000);
}

const { only, filter, setup } = parseArgs(Deno.args);
if (setup) {
  const status = await new Deno.Command("bash", { args: [`${root}/scripts/setup.sh`], cwd: root })
    .spawn().status;
  if (!status.success) console.error("setup failed; stages that need it will report failures");
}
const tests = await findTests(filter);
if (filter !== undefined && tests.length === 0) {
  // An empty list would make the runners below take every test file.
  console.error(`No test file path contains "${filter}".`);
  Deno.exit(2);
}
const results: StageResult[] = [];
for (const stage of only) {
  console.log(`\n=== ${stage} ===`);
  switch (stage) {
    case "deno":
      results.push(await stageDeno(tests));
      break;
    case "bun":
      results.push(await stageBun(tests));
      break;
    case "node":
    case "node24":
      results.push(await stageNode(stage, tests));
      break;
    case "jsr":
      results.push(await stageScript("jsr", "scripts/check_jsr.ts", []));
      break;
    case "npm":
      results.push(await stageScript("npm", "scripts/check_npm.ts", []));
      break;
    case "conformance":
      results.push(await stageScript("conformance", "conformance/run.ts", ["--quick"]));
      break;
    default:
      throw new Error(`Unknown stage ${stage}`);
  }
}

await Deno.remove(nodeBundleDir, { recursive: true }).catch(() => {});
console.log(
  "\n| stage | passed | failed | skipped | seconds | note |\n|---|---:|---:|---:|---:|---|",
);
for (const r of results) {
  console.log(
    `| ${r.name} | ${r.passed} | ${r.failed} | ${r.skipped} | ${r.seconds.toFixed(1)} | ${
      r.note ?? ""
    } |`,
  );
}
const passed = results.reduce((sum, r) => sum + r.passed, 0);
const failed = results.reduce((sum, r) => sum + r.failed, 0);
console.log(`\n${passed} passed, ${failed} failed`);
Deno.exit(failed === 0 ? 0 : 1);
