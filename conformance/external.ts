/**
 * The Autobahn|Testsuite against anyone's implementation, in any language:
 *
 *   npm run conformance -- --server ws://127.0.0.1:9001/ [--cases 1.*,2.*] [--exclude 12.*,13.*]
 *   npm run conformance -- --server wss://localhost:9443/ --ca ca.pem
 *   npm run conformance -- --client "python3 my_client.py {url}" --expect accepted.json --report out/
 *
 * `--server URL`: the fuzzing client (`wstest -m fuzzingclient`) runs every selected case against a
 * server that is already running. `--client CMD`: the harness runs the fuzzing server and starts CMD
 * once per case (in its own process group, killed after the case or at `--case-timeout`) with
 * `{url}` replaced by that case's URL; the client only connects and echoes every message until the
 * server closes. The harness asks for the case count and the reports itself.
 *
 * Exit code 0 when the gate passes (see external_report.ts), 1 when it does not or when the run broke
 * off (the server died or stopped answering: the missing cases are named), 2 on bad usage.
 * Runs on Deno, Bun and Node (node:* modules only), so the npm package can ship it as a bin.
 *
 * @example
 * ```sh
 * deno run -A conformance/run.ts --server ws://127.0.0.1:9001 --cases '1.*,2.*'
 * ```
 * @module
 */
import { createWriteStream, existsSync } from "node:fs";
import { copyFile, cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  countBehaviors,
  countLine,
  type ExternalOutcome,
  judge,
  writeReports,
} from "./external_report.ts";
import { Progress } from "./external_progress.ts";
import type { Expectations } from "./summarize.ts";
import { type Fuzzer, loadFuzzer, mergeFuzzerReports, writeSpec } from "./fuzzer.ts";
import { planParts } from "./split.ts";
import { renderHtml } from "./report_html.ts";
import {
  type ExternalOptions,
  fillCommand,
  parseExternalArgs,
  selectCases,
  USAGE,
  UsageError,
} from "./external_args.ts";
import {
  freePort,
  killAll,
  reachable,
  signalGroup,
  start,
  stop,
  tlsProblem,
  within,
} from "./external_processes.ts";

export {
  type ExternalOptions,
  fillCommand,
  isExternalRun,
  parseExternalArgs,
  selectCases,
} from "./external_args.ts";
export { killAll } from "./external_processes.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
/** Cases in a row that end without an opening handshake (or, in client mode, without a result) before the run stops. */
const NO_ANSWER_LIMIT = 3;

// ---------------------------------------------------------------- the two modes

interface Run {
  progress: Progress;
  errors: string[];
  workdir: string;
  logs: string;
  /** Set when the run breaks off: parts still running stop, parts not started do not start. */
  stopping?: string;
}

/** One fuzzer process of a run: its cases, its wstest output folder and its log's name. */
interface Part {
  ids: string[];
  outdir: string;
  /** `wstest.log` when the run is one process, else `wstest-part-<phase>-<n>.log`. */
  log: string;
}

/**
 * Runs the plan of split.ts (phases one after the other, the parts of a phase at once) and merges
 * the parts' wstest reports into `workdir/autobahn`. A single part writes there directly.
 */
async function runParts(
  o: ExternalOptions,
  fuzzer: Fuzzer,
  ids: string[],
  run: Run,
  runPart: (part: Part) => Promise<void>,
): Promise<void> {
  const plan = planParts(ids, o.jobs);
  const single = plan.length === 1 && plan[0].length === 1;
  const parts: Part[] = [];
  for (const [p, phase] of plan.entries()) {
    if (run.stopping) break;
    await Promise.all(phase.map((partIds, k) => {
      const name = single ? "" : `part-${p + 1}-${k + 1}`;
      const part = {
        ids: partIds,
        outdir: join(run.workdir, single ? "autobahn" : join("parts", name)),
        log: single ? "wstest.log" : `wstest-${name}.log`,
      };
      parts.push(part);
      return runPart(part);
    }));
  }
  if (!single && parts.length > 0) {
    const outdir = join(run.workdir, "autobahn");
    await mkdir(outdir, { recursive: true });
    try {
      await mergeFuzzerReports(fuzzer, parts.map((part) => part.outdir), outdir);
    } catch (error) {
      run.errors.push((error as Error).message);
    }
  }
}

async function runServer(o: ExternalOptions, fuzzer: Fuzzer, ids: string[], run: Run) {
  const url = new URL(o.server!);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (url.protocol === "wss:" ? 443 : 80));
  if (!(await reachable(host, port, 5000))) {
    run.errors.push(`nothing accepts connections at ${o.server}: start the server first`);
    return;
  }
  const env: Record<string, string> = {};
  const server: Record<string, unknown> = { agent: o.agent, url: o.server };
  let tlsHint: string | undefined;
  if (url.protocol === "wss:" && !o.insecure) {
    // With "hostname", wstest verifies the certificate (Twisted's optionsForClientTLS, the system's
    // trust store through OpenSSL, which honours SSL_CERT_FILE) and sends SNI; without, it trusts any.
    server.hostname = host;
    if (o.ca) {
      const ca = join(run.workdir, "ca.pem"); // inside the folder a Docker wstest sees
      await copyFile(o.ca, ca);
      env.SSL_CERT_FILE = ca;
    }
    const problem = await tlsProblem(host, port, o.ca);
    if (problem) {
      tlsHint =
        `TLS: ${problem}; pass --ca FILE (the CA that signed the server's certificate) or --insecure`;
      console.log(`warning: ${tlsHint}`);
    }
  }
  const running = new Set<ReturnType<typeof start>>();
  let noAnswer = 0;
  let stall: ReturnType<typeof setTimeout> | undefined;
  const halt = (why: string) => {
    if (run.stopping) return;
    run.stopping = why;
    for (const fuzz of running) {
      // SIGUSR1: the driver writes the reports of the cases finished so far, then stops.
      signalGroup(fuzz.child, "SIGUSR1");
      setTimeout(() => stop(fuzz), 30_000).unref?.();
    }
  };
  const arm = () => {
    clearTimeout(stall);
    stall = setTimeout(() => {
      const last = run.progress.order.at(-1);
      halt(
        `no case finished within ${o.caseTimeoutMs / 1000} s${
          last ? ` after case ${last}` : ""
        }: the server stopped answering`,
      );
    }, o.caseTimeoutMs);
  };
  arm();
  run.progress.onResult = (record) => {
    arm();
    const unanswered = record.note !== undefined && record.behavior === "FAILED";
    if (unanswered && tlsHint) record.note += ` (${tlsHint})`;
    noAnswer = unanswered ? noAnswer + 1 : 0;
    if (noAnswer >= NO_ANSWER_LIMIT) {
      halt(
        tlsHint && run.progress.order.length === noAnswer
          ? `no opening handshake completed: ${tlsHint}`
          : `the server stopped answering opening handshakes (${NO_ANSWER_LIMIT} cases in a row, from case ${
            run.progress.order.at(-NO_ANSWER_LIMIT)
          })`,
      );
    }
  };
  const crashed: string[] = [];
  await runParts(o, fuzzer, ids, run, async (part) => {
    const specPath = await writeSpec(`${part.outdir}.spec.json`, part.outdir, part.ids, {
      servers: [server],
    });
    const log = createWriteStream(join(run.logs, part.log));
    const fuzz = start(fuzzer.argv(["-m", "fuzzingclient", "-s", specPath], env), {
      log,
      cwd: run.workdir,
      env: fuzzer.env(env),
      onLine: (line) => run.progress.line(line),
    });
    running.add(fuzz);
    const code = await fuzz.exited;
    running.delete(fuzz);
    log.end();
    if (code !== 0 && !run.stopping) {
      crashed.push(`wstest exited with ${code} (see ${join(run.logs, part.log)})`);
    }
  });
  clearTimeout(stall);
  const missing = ids.filter((id) => !(id in run.progress.results));
  if (run.stopping) run.errors.push(run.stopping);
  else if (crashed.length > 0) run.errors.push(...crashed);
  else if (missing.length > 0) {
    const last = run.progress.order.at(-1);
    const alive = await reachable(host, port, 3000);
    run.errors.push(
      alive
        ? `wstest ended early${last ? ` after case ${last}` : ""}`
        : `the server stopped accepting connections${
          last ? ` during case ${last}` : ""
        } (did it die?)`,
    );
  }
}

async function runClient(o: ExternalOptions, fuzzer: Fuzzer, ids: string[], run: Run) {
  const waiters = new Map<string, () => void>();
  run.progress.onResult = (record) => waiters.get(record.id)?.();
  await runParts(o, fuzzer, ids, run, async (part) => {
    const port = await freePort();
    const base = `ws://127.0.0.1:${port}`;
    const specPath = await writeSpec(`${part.outdir}.spec.json`, part.outdir, part.ids, {
      url: base,
    });
    const log = createWriteStream(join(run.logs, part.log));
    let order: string[] | undefined;
    const fuzz = start(
      fuzzer.argv(["-m", "fuzzingserver", "-s", specPath, "--webport", "0"], {}),
      {
        log,
        cwd: run.workdir,
        env: fuzzer.env({}),
        onLine: (line) => {
          const cases = line.match(/^Cases = \[(.*)\]$/);
          if (cases) order = [...cases[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
          run.progress.line(line);
        },
      },
    );
    try {
      const deadline = Date.now() + 60_000;
      while (!(order && (await reachable("127.0.0.1", port, 1000)))) {
        if (Date.now() > deadline || (await within(fuzz.exited, 100)) !== "timeout") {
          run.errors.push(
            `wstest's fuzzing server did not start (see ${join(run.logs, part.log)})`,
          );
          return;
        }
      }
      // The fuzzing server numbers cases in its own order; that is what /runCase?case=N refers to.
      const count = await caseCount(base);
      if (count !== undefined && count !== order.length) {
        run.errors.push(`wstest offers ${count} cases, expected ${order.length}`);
        return;
      }
      const clientLogName = part.log.replace(/^wstest/, "client");
      const clientLog = createWriteStream(join(run.logs, clientLogName));
      let noResult = 0;
      for (let i = 0; i < order.length && !run.stopping; i++) {
        const id = order[i];
        const url = `${base}/runCase?case=${i + 1}&agent=${o.agent}`;
        const command = fillCommand(o.client!, { url, case: i + 1, id, agent: o.agent });
        clientLog.write(`\n=== case ${id} (${i + 1}/${order.length}): ${command}\n`);
        const result = new Promise<void>((r) => waiters.set(id, r));
        if (id in run.progress.results) waiters.get(id)!();
        const client = start(["sh", "-c", command], { log: clientLog, cwd: process.cwd() });
        const first = await within(
          Promise.race([result.then(() => "result" as const), client.exited]),
          o.caseTimeoutMs,
        );
        let note: string | undefined;
        if (first === "result") {
          // The fuzzer has graded the case: the client should exit now that the server closed.
          if ((await within(client.exited, 2000)) === "timeout") {
            note = "the client did not exit after the server closed; killed";
            await stop(client, 500);
          }
        } else if (first === "timeout") {
          note = `the client did not finish within ${o.caseTimeoutMs / 1000} s; killed`;
          await stop(client, 1000);
          await within(result, 3000);
        } else {
          // It exited first: the fuzzer grades the case when it sees the connection close (a client
          // that never connected gets no grade, so there is nothing to wait for).
          const wait = run.progress.connected.has(id) ? 5000 : 300;
          if ((await within(result, wait)) === "timeout") {
            note = `the client exited (code ${first}) without completing the case`;
          }
        }
        waiters.delete(id);
        const record = run.progress.results[id];
        if (record && note) record.note = record.note ? `${record.note}; ${note}` : note;
        if (!record && note) clientLog.write(`[harness] ${id}: ${note}\n`);
        noResult = record ? 0 : noResult + 1;
        if (noResult >= NO_ANSWER_LIMIT) {
          run.stopping =
            `the client produced no result for ${NO_ANSWER_LIMIT} cases in a row (from case ${
              order[i - NO_ANSWER_LIMIT + 1]
            }; last: ${note ?? "no connection"}); see ${join(run.logs, clientLogName)}`;
          run.errors.push(run.stopping);
        }
      }
      clientLog.end();
      // The report-update step: the fuzzer writes its HTML and JSON reports for the agent.
      if (!(await updateReports(base, o.agent))) {
        signalGroup(fuzz.child, "SIGUSR1");
        await within(fuzz.exited, 60_000);
      }
    } finally {
      await stop(fuzz);
      log.end();
    }
  });
}

/** WebSocket client of the fuzzing server's control URLs (global WebSocket: Deno, Bun, Node ≥ 22). */
function control(url: string, timeoutMs: number): Promise<string | undefined | null> {
  const WS = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!WS) return Promise.resolve(null);
  return new Promise((done) => {
    let message: string | undefined;
    const ws = new WS(url);
    const timer = setTimeout(() => {
      ws.close();
      done(undefined);
    }, timeoutMs);
    ws.onmessage = (event) => message = String(event.data);
    ws.onclose = ws.onerror = () => {
      clearTimeout(timer);
      done(message ?? "");
    };
  });
}

async function caseCount(base: string): Promise<number | undefined> {
  const answer = await control(`${base}/getCaseCount`, 10_000);
  return answer ? Number(answer) : undefined;
}

/** `/updateReports`; false when it could not be done this way (no global WebSocket, no answer). */
async function updateReports(base: string, agent: string): Promise<boolean> {
  const answer = await control(`${base}/updateReports?agent=${agent}`, 120_000);
  return answer !== null && answer !== undefined;
}

// ---------------------------------------------------------------- main

/** Runs an outside test from the command line; resolves with the exit code. */
export async function runExternal(argv: readonly string[], home = HERE): Promise<number> {
  let o: ExternalOptions;
  try {
    o = parseExternalArgs(argv, home);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) console.error(`conformance: ${error.message}`);
    console.error(USAGE);
    return 2;
  }
  const ids = selectCases(o.cases, o.exclude);
  if (ids.length === 0) {
    console.error(`conformance: no case matches --cases ${o.cases.join(",")} minus --exclude`);
    return 2;
  }
  let expectations: Expectations | undefined;
  if (o.expect) {
    try {
      expectations = JSON.parse(await readFile(o.expect, "utf8"));
    } catch (error) {
      console.error(`conformance: cannot read --expect ${o.expect}: ${(error as Error).message}`);
      return 2;
    }
  }
  const started = Date.now();
  const fuzzer = await loadFuzzer(o.home, { install: o.install });
  const role = o.server ? "server" : "client";
  const target = (o.server ?? o.client)!;
  // wstest writes under conformance/.cache (a Docker wstest sees only the conformance folder); the
  // results are copied to --report at the end.
  const workdir = join(o.home, ".cache", "external", `${role}-${process.pid}-${started}`);
  const logs = join(o.report, "logs");
  for (
    const entry of ["autobahn", "logs", "index.html", "summary.json", "summary.md", "junit.xml"]
  ) {
    await rm(join(o.report, entry), { recursive: true, force: true });
  }
  await mkdir(workdir, { recursive: true });
  await mkdir(logs, { recursive: true });
  console.log(
    `conformance: ${role} ${target} (agent ${o.agent}): ${ids.length} cases, ${fuzzer.mode} wstest${
      o.jobs > 1 ? `, up to ${o.jobs} at once` : ""
    }`,
  );
  const run: Run = { progress: new Progress(ids), errors: [], workdir, logs };
  try {
    if (o.server) await runServer(o, fuzzer, ids, run);
    else await runClient(o, fuzzer, ids, run);
  } finally {
    run.progress.flush();
  }
  const autobahn = join(workdir, "autobahn");
  if (existsSync(autobahn)) await cp(autobahn, join(o.report, "autobahn"), { recursive: true });
  await rm(workdir, { recursive: true, force: true });
  const outcome: ExternalOutcome = {
    role,
    target,
    agent: o.agent,
    planned: ids,
    results: run.progress.results,
    errors: run.errors,
    started: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    fuzzer: `autobahntestsuite 25.10.1 (${fuzzer.mode})`,
    jobs: o.jobs,
  };
  const judgement = judge(outcome, expectations, o.expect);
  await writeReports(o.report, outcome, judgement);
  await writeFile(join(o.report, "index.html"), renderHtml(outcome, judgement));
  const counts = countBehaviors(outcome);
  console.log(`total ${outcome.seconds.toFixed(1)}s: ${countLine(counts)}`);
  for (const error of run.errors) console.log(`ERROR: ${error}`);
  const failing = judgement.verdicts.filter((v) => v.status === "fail");
  const missing = judgement.verdicts.filter((v) => v.status === "missing");
  if (failing.length > 0) {
    console.log(
      `${o.expect ? "unexpected" : "FAILED"} (${failing.length}): ${
        failing.map((
          v,
        ) => (o.expect ? `${v.id} (${v.actual}, expected ${v.expected.join(" or ")})` : v.id))
          .join(", ")
      }`,
    );
  }
  if (missing.length > 0) {
    console.log(`MISSING (${missing.length}): ${missing.map((v) => v.id).join(", ")}`);
  }
  console.log(
    `reports: ${o.report} (index.html, autobahn/index.html, summary.md, summary.json, junit.xml)`,
  );
  console.log(`conformance gate: ${judgement.ok ? "pass" : "FAIL"}`);
  return judgement.ok ? 0 : 1;
}

/** CLI entry: `runExternal` with signal handling, for run.ts and the npm bin. */
export async function main(argv: readonly string[], home = HERE): Promise<never> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      console.error(`\nconformance: ${signal}, stopping every process started`);
      killAll();
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
  process.on("exit", killAll);
  let code = 1;
  try {
    code = await runExternal(argv, home);
  } catch (error) {
    console.error(`conformance: ${error instanceof Error ? error.message : error}`);
  } finally {
    killAll();
  }
  process.exit(code);
}
