/**
 * Runs the Autobahn|Testsuite against every testee and writes conformance/report/.
 *
 *   deno run -A conformance/run.ts                 # standard (npm run conformance): every testee, 1–10 in
 *                                                  # full, all of 1–13 for the reference engine server
 *   deno run -A conformance/run.ts --full          # every case 1–13 for every testee (over an hour)
 *   deno run -A conformance/run.ts --quick         # CI: 1–10 + 12/13 sample on the Deno engine pair, subset elsewhere
 *   deno run -A conformance/run.ts --only 'ws-*' --only server/engine-deno
 *   deno run -A conformance/run.ts --cases 1.*,2.* --only engine-deno
 *   deno run -A conformance/run.ts --list          # print the matrix and exit
 *   deno run -A conformance/run.ts --jobs 2        # fuzzer processes per testee (default: one per core,
 *                                                  # 1 in --quick); section 9 still runs alone
 *   deno run -A conformance/run.ts --testees 2     # two testees at a time (section 9 timings then noisier)
 *   (--no-install skips conformance/install.sh; --no-summary skips the gate; --report DIR instead of
 *   conformance/report)
 *   deno run -A conformance/run.ts --server ws://127.0.0.1:9001/ --cases '1.*,2.*'   # anyone's server
 *   deno run -A conformance/run.ts --client "node my_client.mjs {url}"                # anyone's client
 *   (--server / --client take their own options, see external.ts: --cases, --exclude, --expect,
 *   --report, --agent, --case-timeout, --ca, --insecure)
 *
 * Every process started here (testees, wstest, browsers) runs in its own process group and is stopped
 * at the end, on failure, and on SIGINT/SIGTERM.
 *
 * @example
 * ```sh
 * deno run -A conformance/run.ts --quick
 * ```
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Mode, type Runtime, selectTestees, type Testee, testeeId } from "./matrix.ts";
import {
  freePort,
  type GroupChild,
  spawnGroup,
  stopAll,
  stopAllSync,
  stopGroup,
  waitExit,
  waitForPort,
} from "./processes.ts";
import { expandCases, isDeflateCase, summarize } from "./summarize.ts";
import { isExternalRun, main as externalMain } from "./external.ts";
import { type Fuzzer, loadFuzzer, mergeFuzzerReports, writeSpec } from "./fuzzer.ts";
import { defaultJobs, planParts } from "./split.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(HERE, "..");
const CACHE = join(HERE, ".cache");
/** Where reports go: conformance/report, or `--report DIR`. */
let REPORT = join(HERE, "report");
const BIN = join(ROOT, "node_modules", ".bin");

interface Options {
  mode: Mode;
  only: string[];
  cases?: string[];
  install: boolean;
  summary: boolean;
  list: boolean;
  /** Fuzzer processes per testee (split.ts); undefined: one per core, 1 in quick mode. */
  jobs?: number;
  /** Testees at a time. */
  testees: number;
  /** Report folder (default conformance/report). */
  report?: string;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    mode: "standard",
    only: [],
    install: true,
    summary: true,
    list: false,
    testees: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    switch (flag) {
      case "--quick":
        o.mode = "quick";
        break;
      case "--full":
        o.mode = "full";
        break;
      case "--only":
        o.only.push(value());
        break;
      case "--cases":
        o.cases = value().split(",").map((s) => s.trim()).filter(Boolean);
        break;
      case "--no-install":
        o.install = false;
        break;
      case "--no-summary":
        o.summary = false;
        break;
      case "--list":
        o.list = true;
        break;
      case "--jobs":
        o.jobs = Math.max(1, Number(value()) || 1);
        break;
      case "--report":
        o.report = value();
        break;
      case "--testees":
        o.testees = Math.max(1, Number(value()) || 1);
        break;
      default:
        fail(`unknown option ${flag}`);
    }
  }
  return o;
}

function fail(message: string): never {
  console.error(`conformance: ${message}`);
  Deno.exit(2);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

async function esbuild(entry: string, out: string): Promise<void> {
  const args = [
    entry,
    "--bundle",
    `--outfile=${out}`,
    "--format=esm",
    "--log-level=warning",
    "--platform=node",
    "--target=node20",
    "--packages=external",
  ];
  const { success, stderr } = await new Deno.Command(join(BIN, "esbuild"), {
    args,
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`esbuild ${entry} failed:\n${new TextDecoder().decode(stderr)}`);
}

/** The argv that starts a testee program on its runtime (bundling first for Node). */
async function launch(t: Testee): Promise<string[]> {
  const entry = join(HERE, "testees", t.entry);
  const bundles = join(CACHE, "bundles");
  await Deno.mkdir(bundles, { recursive: true });
  const bundle = async () => {
    // One bundle per testee: with --jobs, two testees may bundle the same entry at once.
    const out = join(bundles, `${t.role}-${t.agent}.mjs`);
    await esbuild(entry, out);
    return out;
  };
  const runtimes: Record<Runtime, () => Promise<string[]>> = {
    deno: () => Promise.resolve([join(BIN, "deno"), "run", "-A", "--quiet", entry]),
    bun: () => Promise.resolve([join(BIN, "bun"), entry]),
    node20: async () => ["/usr/bin/node", await bundle()],
    node24: async () => [join(BIN, "node"), await bundle()],
    // The driver is a Node program (playwright-core); it bundles the page script itself.
    chromium: async () => ["/usr/bin/node", await bundle()],
  };
  return await runtimes[t.runtime]();
}

interface Outcome {
  id: string;
  agent: string;
  testee: string;
  runtime: Runtime;
  role: "server" | "client";
  peer: boolean;
  cases: readonly string[];
  reportDir: string;
  seconds: number;
  /** Fuzzer processes the testee's cases were split over (split.ts). */
  jobs: number;
  error?: string;
}

/** Prints how many cases have finished so far (over every fuzzer log of a testee), once a minute. */
function heartbeat(id: string, logs: () => string[]): () => void {
  const timer = setInterval(async () => {
    let n = 0;
    for (const log of logs()) {
      try {
        n += (await Deno.readTextFile(log)).match(/^@@result /gm)?.length ?? 0;
      } catch { /* no log yet */ }
    }
    console.log(`    … ${id}: ${n} cases done`);
  }, 60_000);
  return () => clearInterval(timer);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Asks a fuzzing server to write its reports (used when a client testee died before doing it). */
async function requestReports(port: number, agent: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const ws = new WebSocket(
      `ws://127.0.0.1:${port}/updateReports?agent=${encodeURIComponent(agent)}`,
    );
    const timer = setTimeout(() => {
      ws.close();
      resolve();
    }, 15_000);
    ws.onclose = ws.onerror = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

/** One fuzzer process of a testee (split.ts): its cases, wstest output folder, spec and log. */
interface Part {
  ids: string[];
  outdir: string;
  spec: string;
  log: string;
}

async function runOne(
  t: Testee,
  cases: readonly string[],
  fuzzer: Fuzzer,
  jobs: number,
  timeoutMs: number,
): Promise<Outcome> {
  const id = testeeId(t);
  const name = `${t.role}-${t.agent}`;
  const reportDir = join(REPORT, `${t.role}s`, t.agent);
  // Per run, so that two runs at once (other --report folders) never share a spec file.
  const specDir = join(CACHE, "specs", String(Deno.pid));
  const logs = join(REPORT, "logs");
  await Deno.remove(reportDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(specDir, { recursive: true });
  await Deno.mkdir(logs, { recursive: true });
  const testeeLog = join(logs, `${name}.testee.log`);
  await Deno.writeTextFile(testeeLog, "");
  const outcome: Outcome = {
    id,
    agent: t.agent,
    testee: t.testee,
    runtime: t.runtime,
    role: t.role,
    peer: t.peer,
    cases,
    reportDir: reportDir.slice(REPORT.length + 1),
    seconds: 0,
    jobs,
  };
  // wstest matches case patterns as prefixes ("12.*.1" would take 12.1.10 too): hand it explicit ids.
  const caseIds = expandCases(cases);
  if (caseIds.length === 0) throw new Error(`no case matches ${cases.join(",")}`);
  const plan = planParts(caseIds, jobs);
  // A hang guard, not a time budget: 12/13 cases took up to ~25 s each on 2 cores under a load
  // average of 25 (a native client got through 108 of 216 in 40 minutes), so each gets 30 s.
  const partTimeout = (ids: string[]) =>
    Math.max(timeoutMs, ids.filter(isDeflateCase).length * 30_000);
  const single = plan.length === 1 && plan[0].length === 1;
  const parts: Part[] = [];
  const started = Date.now();
  const children: GroupChild[] = [];
  const stopBeat = heartbeat(id, () => parts.map((part) => part.log));
  const errors: string[] = [];
  try {
    const argv = await launch(t);
    const run = async (ids: string[], suffix: string) => {
      const part: Part = {
        ids,
        outdir: single ? reportDir : join(reportDir, "parts", suffix),
        spec: join(specDir, `${name}${single ? "" : `-${suffix}`}.json`),
        log: join(logs, `${name}.wstest${single ? "" : `-${suffix}`}.log`),
      };
      parts.push(part);
      await Deno.writeTextFile(part.log, "");
      if (t.role === "server") await fuzzServer(part);
      else await fuzzClient(part);
    };
    let server: GroupChild | undefined;
    let serverPort = 0;
    const fuzzServer = async (part: Part) => {
      await writeSpec(part.spec, part.outdir, part.ids, {
        servers: [{ agent: t.agent, url: `ws://127.0.0.1:${serverPort}` }],
      });
      const fuzz = spawnGroup(fuzzer.argv(["-m", "fuzzingclient", "-s", part.spec], {}), {
        log: part.log,
        cwd: specDir,
        env: fuzzer.env({}),
      });
      children.push(fuzz);
      const limit = partTimeout(part.ids);
      const status = await waitExit(fuzz, limit);
      if (status === "timeout") errors.push(`wstest did not finish in ${seconds(limit)}`);
      else if (!status.success) errors.push(`wstest exited with ${status.code}`);
      else if (server!.exited) errors.push(`the testee exited during the run (see ${testeeLog})`);
    };
    const fuzzClient = async (part: Part) => {
      // Each part has its own fuzzing server, and a client testee process of its own.
      const port = freePort();
      await writeSpec(part.spec, part.outdir, part.ids, { url: `ws://127.0.0.1:${port}` });
      const fuzz = spawnGroup(
        fuzzer.argv(["-m", "fuzzingserver", "-s", part.spec, "--webport", "0"], {}),
        { log: part.log, cwd: specDir, env: fuzzer.env({}) },
      );
      children.push(fuzz);
      await waitForPort(port, { timeoutMs: 60_000, child: fuzz });
      const client = spawnGroup([...argv, "--port", String(port), "--agent", t.agent, ...t.args], {
        log: testeeLog,
        cwd: ROOT,
      });
      children.push(client);
      const limit = partTimeout(part.ids);
      const status = await waitExit(client, limit);
      if (status === "timeout") {
        errors.push(`the client did not finish in ${seconds(limit)}`);
      } else if (!status.success) {
        errors.push(`the client exited with ${status.code} (see ${testeeLog})`);
      }
      if (!(await exists(join(part.outdir, "index.json")))) await requestReports(port, t.agent);
    };
    if (t.role === "server") {
      serverPort = freePort();
      server = spawnGroup([...argv, "--port", String(serverPort), ...t.args], {
        log: testeeLog,
        cwd: ROOT,
      });
      children.push(server);
      await waitForPort(serverPort, { timeoutMs: 30_000, child: server });
    }
    // Phases one after the other (section 9 alone last), the parts of a phase at once.
    for (const [p, phase] of plan.entries()) {
      await Promise.all(phase.map((ids, k) => run(ids, `part-${p + 1}-${k + 1}`)));
    }
    if (!single) {
      await Deno.mkdir(reportDir, { recursive: true });
      await mergeFuzzerReports(fuzzer, parts.map((part) => part.outdir), reportDir);
      await Deno.remove(join(reportDir, "parts"), { recursive: true });
    }
  } catch (error) {
    errors.push(error instanceof Error ? error.message : String(error));
  } finally {
    stopBeat();
    await Promise.all(children.map((child) => stopGroup(child)));
    outcome.seconds = (Date.now() - started) / 1000;
  }
  if (errors.length > 0) outcome.error = [...new Set(errors)].join("; ");
  return outcome;
}

/** Counts behaviours in a report's index.json for the progress line. */
async function countLine(reportDir: string): Promise<string> {
  try {
    const index = JSON.parse(await Deno.readTextFile(join(reportDir, "index.json")));
    const counts: Record<string, number> = {};
    for (const agent of Object.values(index) as Record<string, { behavior: string }>[]) {
      for (const r of Object.values(agent)) counts[r.behavior] = (counts[r.behavior] ?? 0) + 1;
    }
    return Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ");
  } catch {
    return "no report";
  }
}

async function versions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const probe = async (name: string, cmd: string, args: string[]) => {
    try {
      const { stdout } = await new Deno.Command(cmd, { args, stderr: "null" }).output();
      const line = new TextDecoder().decode(stdout).split("\n")[0].trim();
      out[name] = line.match(/\d+\.\d+\.\d+(\.\d+)?/)?.[0] ?? line;
    } catch {
      out[name] = "unavailable";
    }
  };
  await Promise.all([
    probe("deno", join(BIN, "deno"), ["--version"]),
    probe("bun", join(BIN, "bun"), ["--version"]),
    probe("node20", "/usr/bin/node", ["--version"]),
    probe("node24", join(BIN, "node"), ["--version"]),
    probe("chromium", "/usr/bin/chromium", ["--version"]),
  ]);
  return out;
}

async function main(): Promise<number> {
  const options = parseOptions(Deno.args);
  const selected = selectTestees(options);
  if (options.list || selected.length === 0) {
    for (const { testee, cases } of selected) {
      console.log(
        `${testeeId(testee).padEnd(24)} ${testee.runtime.padEnd(9)} ${testee.entry} ${
          cases.join(",")
        }`,
      );
    }
    if (selected.length === 0) console.error("no testee matches --only");
    return selected.length === 0 ? 2 : 0;
  }
  const started = Date.now();
  if (options.report) REPORT = resolve(options.report);
  const fuzzer = await loadFuzzer(HERE, { install: options.install });
  // One fuzzer process per core splits each testee's cases (split.ts); quick mode (CI) keeps one, so
  // its timings stay what they were.
  const jobs = options.jobs ??
    (options.mode === "quick" ? 1 : defaultJobs(navigator.hardwareConcurrency));
  // The report reflects this run only: results of testees it did not run would mislead the gate.
  for (const stale of ["servers", "clients", "logs", "run.json", "summary.json", "summary.md"]) {
    await Deno.remove(join(REPORT, stale), { recursive: true }).catch(() => {});
  }
  await Deno.mkdir(REPORT, { recursive: true });
  const mode = options.mode;
  console.log(
    `conformance (${mode}): ${selected.length} testees, ${jobs} fuzzer process${
      jobs > 1 ? "es" : ""
    } per testee`,
  );
  const outcomes: Outcome[] = [];
  const timeoutMs = (mode === "quick" ? 15 : 40) * 60_000;
  // Testees are independent (own ports, own report dirs); with --testees > 1 several run at once,
  // so section 9 durations are then not comparable with a serial run (--jobs keeps section 9 alone).
  let next = 0;
  const worker = async () => {
    while (next < selected.length) {
      const i = next++;
      const { testee, cases } = selected[i];
      const label = `[${i + 1}/${selected.length}] ${testeeId(testee)} (${testee.runtime})`;
      console.log(`${label} …`);
      const outcome = await runOne(testee, cases, fuzzer, jobs, timeoutMs);
      outcomes[i] = outcome;
      const result = await countLine(join(REPORT, outcome.reportDir));
      console.log(
        `${label} ${seconds(outcome.seconds * 1000)}: ${result}${
          outcome.error ? ` — ERROR: ${outcome.error}` : ""
        }`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.testees, selected.length) }, worker));
  const run = {
    mode,
    jobs,
    testeesAtOnce: options.testees,
    started: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    fuzzer: fuzzer.mode,
    versions: await versions(),
    testees: outcomes,
  };
  await Deno.writeTextFile(join(REPORT, "run.json"), JSON.stringify(run, null, 2) + "\n");
  await Deno.remove(join(CACHE, "specs", String(Deno.pid)), { recursive: true }).catch(() => {});
  console.log(`total ${seconds(Date.now() - started)}`);
  if (!options.summary) return outcomes.some((o) => o.error) ? 1 : 0;
  const { ok } = await summarize({
    reportDir: REPORT,
    expectations: join(HERE, "expectations.json"),
  });
  return ok && !outcomes.some((o) => o.error) ? 0 : 1;
}

// --server URL / --client CMD: anyone's implementation instead of the matrix (external.ts).
if (isExternalRun(Deno.args)) await externalMain(Deno.args);

let stopping = false;
async function onSignal(signal: Deno.Signal, code: number) {
  if (stopping) return;
  stopping = true;
  console.error(`\nconformance: ${signal}, stopping every process started`);
  await stopAll(1500);
  Deno.exit(code);
}
Deno.addSignalListener("SIGINT", () => onSignal("SIGINT", 130));
Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM", 143));
globalThis.addEventListener("unload", stopAllSync);

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(error);
} finally {
  await stopAll(1500);
}
Deno.exit(code);
