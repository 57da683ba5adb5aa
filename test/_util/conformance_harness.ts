/**
 * Runs of the conformance harness's outside mode (`conformance/run.ts --server URL` /
 * `--client CMD`) for the tests in conformance/: the harness as users run it (a Deno process), the
 * outside echo server of conformance/testees/outside/ (plain Node + `ws`), and whether the fuzzer is
 * installed at all (tests skip with that reason when it is not).
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runtimes } from "./runtimes.ts";

/** The outside programs (a `ws` echo server with faults, echo clients). */
export const outsideFixtures: string = join(repoRoot, "conformance", "testees", "outside");

/** Why conformance runs cannot happen here, or false when they can. */
export function fuzzerMissing(): string | false {
  if (!existsSync(runtimes.deno)) return `no deno at ${runtimes.deno}`;
  const check = spawnSync("bash", [join(repoRoot, "conformance", "install.sh"), "--check"], {
    stdio: "ignore",
  });
  if (check.status !== 0) {
    return "the Autobahn fuzzer (wstest) is not installed: bash conformance/install.sh";
  }
  if (spawnSync(runtimes.node20, ["--version"], { stdio: "ignore" }).status !== 0) {
    return `no node at ${runtimes.node20}`;
  }
  return false;
}

/** What one harness run produced. */
export interface Harness {
  code: number | null;
  stdout: string;
  report: string;
  summary: {
    counts: Record<string, number>;
    errors: string[];
    cases: {
      id: string;
      status: string;
      actual: string;
      behaviorClose?: string;
      remoteCloseCode?: number | null;
      note?: string;
    }[];
  };
  junit: string;
}

/**
 * Runs `deno run -A conformance/run.ts ARGS --report DIR` (a new temporary folder unless `report`
 * is given) and reads what it wrote. `--jobs 1` unless ARGS say otherwise, so that a test sees the
 * cases in suite order.
 */
export async function harness(
  args: string[],
  options: { timeoutMs?: number; report?: string } = {},
): Promise<Harness> {
  const report = options.report ?? await mkdtemp(join(tmpdir(), "wsc-external-"));
  const jobs = args.includes("--jobs") ? [] : ["--jobs", "1"];
  const child = spawn(
    runtimes.deno,
    ["run", "-A", "conformance/run.ts", "--no-install", "--report", report, ...jobs, ...args],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  child.stdout.on("data", (chunk) => stdout += chunk);
  child.stderr.on("data", (chunk) => stdout += chunk);
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const code = await new Promise<number | null>((done) => child.on("close", done));
  clearTimeout(timer);
  try {
    const summary = JSON.parse(await readFile(join(report, "summary.json"), "utf8"));
    const junit = await readFile(join(report, "junit.xml"), "utf8");
    return { code, stdout, report, summary, junit };
  } catch (error) {
    throw new Error(`no report (exit ${code}):\n${stdout}\n${error}`);
  }
}

/** Starts the outside echo server (plain Node + ws) on a free port, with an optional fault. */
export async function outsideServer(
  fault = "none",
): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(
    runtimes.node20,
    [join(outsideFixtures, "ws_echo_server.mjs"), "--port", "0", "--fault", fault],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise((done) => child.on("exit", done));
  const port = await new Promise<number>((done, fail) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening (\d+)/);
      if (m) done(Number(m[1]));
    });
    child.on("exit", (code) => fail(new Error(`server exited with ${code}`)));
  });
  return {
    url: `ws://127.0.0.1:${port}/`,
    async stop() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}
