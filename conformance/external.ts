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
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, type WriteStream } from "node:fs";
import { copyFile, cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { connect as connectTls } from "node:tls";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  caseGroup,
  type CaseRecord,
  countBehaviors,
  countLine,
  type ExternalOutcome,
  judge,
  writeReports,
} from "./external_report.ts";
import { expandCases, type Expectations } from "./summarize.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
/** Cases in a row that end without an opening handshake (or, in client mode, without a result) before the run stops. */
const NO_ANSWER_LIMIT = 3;

/** Options of an outside run. */
export interface ExternalOptions {
  server?: string;
  client?: string;
  cases: string[];
  exclude: string[];
  expect?: string;
  report: string;
  agent: string;
  ca?: string;
  insecure: boolean;
  caseTimeoutMs: number;
  install: boolean;
  /** Folder holding install.sh, wstest_driver.py and .cache/ (the conformance folder). */
  home: string;
}

const USAGE = `usage:
  conformance --server ws[s]://HOST:PORT/PATH [options]   test a running server
  conformance --client "COMMAND {url}" [options]          test a client command (run once per case)
options:
  --cases GLOBS        cases to run, e.g. '1.*,6.3.*' (default: all 517)
  --exclude GLOBS      cases to leave out, e.g. '12.*,13.*' (the slow permessage-deflate sections)
  --expect FILE        accepted non-OK results with reasons (format of conformance/expectations.json)
  --report DIR         where the reports go (default conformance/report/external)
  --agent NAME         the name in the reports and expectation keys (default: testee)
  --case-timeout SEC   per case: stop waiting / kill the client after SEC seconds (default 120)
  --ca FILE            wss: trust this CA (PEM) when verifying the server's certificate
  --insecure           wss: do not verify the server's certificate
  --no-install         do not run install.sh first
placeholders in COMMAND: {url} (quoted as needed), {case} (1-based index), {id} (e.g. 1.1.1), {agent}`;

class UsageError extends Error {}

/** True when the arguments ask for an outside run (`--server` or `--client`). */
export function isExternalRun(argv: readonly string[]): boolean {
  return argv.some((a) => /^--(server|client)(=|$)/.test(a));
}

/** Parses the command line of an outside run. */
export function parseExternalArgs(argv: readonly string[], home = HERE): ExternalOptions {
  const o: ExternalOptions = {
    cases: [],
    exclude: [],
    report: join(home, "report", "external"),
    agent: "testee",
    insecure: false,
    caseTimeoutMs: 120_000,
    install: true,
    home,
  };
  const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--server":
        o.server = value();
        break;
      case "--client":
        o.client = value();
        break;
      case "--cases":
        o.cases.push(...list(value()));
        break;
      case "--exclude":
        o.exclude.push(...list(value()));
        break;
      case "--expect":
        o.expect = resolve(value());
        break;
      case "--report":
        o.report = resolve(value());
        break;
      case "--agent":
        o.agent = value();
        break;
      case "--ca":
        o.ca = resolve(value());
        break;
      case "--insecure":
        o.insecure = true;
        break;
      case "--case-timeout":
        o.caseTimeoutMs = Number(value()) * 1000;
        break;
      case "--no-install":
        o.install = false;
        break;
      case "--help":
      case "-h":
        throw new UsageError("");
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (!o.server === !o.client) throw new UsageError("give exactly one of --server and --client");
  if (o.server && !/^wss?:\/\/[^/]+/.test(o.server)) {
    throw new UsageError(`--server needs a ws:// or wss:// URL, not ${o.server}`);
  }
  if ((o.ca || o.insecure) && !o.server?.startsWith("wss:")) {
    throw new UsageError("--ca and --insecure apply to a wss:// server only");
  }
  if (!/^[A-Za-z0-9._-]+$/.test(o.agent)) {
    throw new UsageError("--agent: letters, digits, '.', '_' and '-' only");
  }
  if (!(o.caseTimeoutMs > 0)) throw new UsageError("--case-timeout needs a number of seconds");
  return o;
}

/** Selected case ids in suite order: `--cases` (default every case) minus `--exclude`. */
export function selectCases(cases: readonly string[], exclude: readonly string[]): string[] {
  const chosen = expandCases(cases.length > 0 ? cases : ["*"]);
  const dropped = new Set(expandCases(exclude));
  return chosen.filter((id) => !dropped.has(id));
}

/**
 * Fills a client command template: `{url}` is single-quoted where the template leaves it unquoted
 * (the URL holds `?` and `&`) and inserted as is inside quotes; `{case}`, `{id}`, `{agent}` as is.
 */
export function fillCommand(
  template: string,
  values: { url: string; case: number; id: string; agent: string },
): string {
  let out = "";
  let quote: "" | "'" | '"' = "";
  for (let i = 0; i < template.length; i++) {
    const ch = template[i];
    if (template.startsWith("{url}", i)) {
      out += quote ? values.url : `'${values.url}'`;
      i += 4;
      continue;
    }
    const name = ["{case}", "{id}", "{agent}"].find((p) => template.startsWith(p, i));
    if (name) {
      out += name === "{case}" ? String(values.case) : name === "{id}" ? values.id : values.agent;
      i += name.length - 1;
      continue;
    }
    if (ch === "\\" && quote !== "'") {
      out += ch + (template[i + 1] ?? "");
      i++;
      continue;
    }
    if (!quote && (ch === "'" || ch === '"')) quote = ch;
    else if (quote === ch) quote = "";
    out += ch;
  }
  return out;
}

// ---------------------------------------------------------------- processes

const children = new Set<ChildProcess>();
let setsid: boolean | undefined;
function hasSetsid(): boolean {
  if (setsid === undefined) {
    try {
      setsid = spawnSync("setsid", ["--version"], { stdio: "ignore" }).status === 0;
    } catch {
      setsid = false;
    }
  }
  return setsid;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  for (const pid of hasSetsid() ? [-child.pid, child.pid] : [child.pid]) {
    try {
      process.kill(pid, signal);
    } catch { /* gone */ }
  }
}

/** Starts argv in its own process group (setsid execs in place: the pid leads the group). */
function start(
  argv: string[],
  options: {
    log: WriteStream;
    env?: Record<string, string>;
    cwd?: string;
    onLine?: (line: string) => void;
  },
): { child: ChildProcess; exited: Promise<number | null> } {
  const [cmd, ...args] = hasSetsid() ? ["setsid", ...argv] : argv;
  const child = spawn(cmd, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let pending = "";
  child.stdout!.on("data", (chunk: Uint8Array) => {
    options.log.write(chunk);
    if (!options.onLine) return;
    pending += new TextDecoder().decode(chunk);
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) options.onLine(line);
  });
  child.stderr!.on("data", (chunk: Uint8Array) => options.log.write(chunk));
  const exited = new Promise<number | null>((done) => {
    child.on("error", (error) => {
      options.log.write(`\n[harness] could not start ${argv[0]}: ${error.message}\n`);
      children.delete(child);
      done(127);
    });
    child.on("close", (code, signal) => {
      children.delete(child);
      done(code ?? (signal ? 128 : null));
    });
  });
  return { child, exited };
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms)),
  ]).finally(() => clearTimeout(timer));
}

/** SIGTERM to the group, SIGKILL after `graceMs`. */
async function stop(p: { child: ChildProcess; exited: Promise<unknown> }, graceMs = 2000) {
  signalGroup(p.child, "SIGTERM");
  await within(p.exited, graceMs);
  signalGroup(p.child, "SIGKILL");
}

/** Kills every process group still running (exit and signal handlers). */
export function killAll(): void {
  for (const child of children) signalGroup(child, "SIGKILL");
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** Whether a TCP connection to host:port opens within `ms`. */
function reachable(host: string, port: number, ms = 3000): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => finish(false), ms);
    function finish(ok: boolean) {
      clearTimeout(timer);
      socket.destroy();
      done(ok);
    }
    socket.on("connect", () => finish(true));
    socket.on("error", () => finish(false));
  });
}

/** The TLS problem a client would see at host:port (untrusted chain), or undefined. */
async function tlsProblem(host: string, port: number, ca?: string): Promise<string | undefined> {
  const caPem = ca ? await readFile(ca, "utf8") : undefined;
  return await new Promise((done) => {
    const socket = connectTls({
      host,
      port,
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
      ca: caPem,
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => finish("no TLS handshake within 5 s"), 5000);
    function finish(problem: string | undefined) {
      clearTimeout(timer);
      socket.destroy();
      done(problem);
    }
    socket.on(
      "secureConnect",
      () => finish(socket.authorized ? undefined : String(socket.authorizationError)),
    );
    socket.on("error", (error) => finish(error.message));
  });
}

// ---------------------------------------------------------------- the fuzzer

interface Fuzzer {
  mode: string;
  /** argv running wstest_driver.py with `args`, and the environment it needs. */
  argv(args: string[], env: Record<string, string>): string[];
  env(env: Record<string, string>): Record<string, string>;
}

async function installFuzzer(o: ExternalOptions): Promise<Fuzzer> {
  if (o.install) {
    const t = Date.now();
    const result = spawnSync("bash", [join(o.home, "install.sh")], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status !== 0) throw new Error("conformance/install.sh failed (see above)");
    console.log(`wstest ready (${((Date.now() - t) / 1000).toFixed(1)}s)`);
  }
  let state: { mode: string; command: string[] };
  try {
    state = JSON.parse(await readFile(join(o.home, ".cache", "wstest.json"), "utf8"));
  } catch {
    throw new Error(`wstest is not installed: run bash ${join(o.home, "install.sh")}`);
  }
  const driver = join(o.home, "wstest_driver.py");
  if (state.mode === "docker") {
    // docker run … IMAGE wstest → the image's Python 2 (PyPy in the official image) runs the driver;
    // the conformance folder is mounted at the same path, so spec, outdir and driver paths hold.
    const prefix = state.command.slice(0, -2);
    const image = state.command.at(-2)!;
    return {
      mode: "docker",
      argv: (args, env) => [
        ...prefix,
        ...Object.entries({ PYTHONUNBUFFERED: "1", ...env }).flatMap((
          [k, v],
        ) => ["-e", `${k}=${v}`]),
        "--entrypoint",
        "sh",
        image,
        "-c",
        'exec "$(command -v pypy || command -v python2 || command -v python)" "$0" "$@"',
        driver,
        ...args,
      ],
      env: () => ({}),
    };
  }
  const python = join(dirname(state.command[0]), "python");
  return {
    mode: state.mode,
    argv: (args) => [python, "-u", driver, ...args],
    env: (env) => ({ PYTHONUNBUFFERED: "1", ...env }),
  };
}

/** Collects `@@result` lines, prints one progress line per finished case group. */
class Progress {
  readonly results: Record<string, CaseRecord> = {};
  readonly order: string[] = [];
  private group?: string;
  /** When the group in progress began: when the case before its first one finished. */
  private groupStarted = Date.now();
  private lastResultAt = Date.now();
  onResult?: (record: CaseRecord) => void;
  constructor(private readonly planned: readonly string[]) {}

  /** Cases whose connection reached the fuzzer (its "Running test case ID" line). */
  readonly connected = new Set<string>();

  line(line: string): void {
    const running = line.match(/^Running test case ID (\S+) for agent/);
    if (running) this.connected.add(running[1]);
    if (!line.startsWith("@@result ")) return;
    let record: CaseRecord;
    try {
      record = JSON.parse(line.slice(9));
    } catch {
      return;
    }
    if (record.resultClose?.includes("opening handshake was never completed")) {
      record.duration = 0; // wstest reports "now - 0" when the case never started
      record.note = record.openHandshakeTimeout
        ? "no answer to the opening handshake (timed out)"
        : "the opening handshake never completed";
    }
    this.record(record);
  }

  record(record: CaseRecord): void {
    const group = caseGroup(record.id);
    if (group !== this.group) {
      this.flush();
      this.groupStarted = this.lastResultAt;
    }
    this.group = group;
    this.lastResultAt = Date.now();
    this.results[record.id] = record;
    this.order.push(record.id);
    this.onResult?.(record);
  }

  /** Prints the line of the group in progress (if any). */
  flush(): void {
    if (this.group === undefined) return;
    const ids = this.planned.filter((id) => caseGroup(id) === this.group);
    const done = ids.filter((id) => id in this.results);
    const bad = done.filter((id) => this.results[id].behavior === "FAILED");
    const counts = countBehaviors({ results: this.results } as ExternalOutcome, done);
    const ms = this.lastResultAt - this.groupStarted;
    console.log(
      `  ${this.group.padEnd(7)} ${`${done.length}/${ids.length}`.padStart(7)}  ${
        countLine(counts).padEnd(34)
      } ${(ms / 1000).toFixed(1).padStart(6)}s${bad.length ? `  FAILED: ${bad.join(", ")}` : ""}`,
    );
    this.group = undefined;
  }
}

// ---------------------------------------------------------------- the two modes

interface Run {
  progress: Progress;
  errors: string[];
  workdir: string;
  logs: string;
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
  const spec = {
    outdir: join(run.workdir, "autobahn"),
    servers: [server],
    cases: ids,
    "exclude-cases": [],
    "exclude-agent-cases": {},
  };
  const specPath = join(run.workdir, "spec.json");
  await writeFile(specPath, JSON.stringify(spec, null, 2));
  const log = createWriteStream(join(run.logs, "wstest.log"));
  let stopping: string | undefined;
  let noAnswer = 0;
  let stall: ReturnType<typeof setTimeout> | undefined;
  const fuzz = start(fuzzer.argv(["-m", "fuzzingclient", "-s", specPath], env), {
    log,
    cwd: run.workdir,
    env: fuzzer.env(env),
    onLine: (line) => run.progress.line(line),
  });
  const halt = (why: string) => {
    if (stopping) return;
    stopping = why;
    // SIGUSR1: the driver writes the reports of the cases finished so far, then stops.
    signalGroup(fuzz.child, "SIGUSR1");
    setTimeout(() => stop(fuzz), 30_000).unref?.();
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
  const code = await fuzz.exited;
  clearTimeout(stall);
  log.end();
  const missing = ids.filter((id) => !(id in run.progress.results));
  if (stopping) run.errors.push(stopping);
  else if (code !== 0) {
    run.errors.push(`wstest exited with ${code} (see ${join(run.logs, "wstest.log")})`);
  } else if (missing.length > 0) {
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
  const port = await freePort();
  const base = `ws://127.0.0.1:${port}`;
  const spec = {
    url: base,
    outdir: join(run.workdir, "autobahn"),
    cases: ids,
    "exclude-cases": [],
    "exclude-agent-cases": {},
  };
  const specPath = join(run.workdir, "spec.json");
  await writeFile(specPath, JSON.stringify(spec, null, 2));
  const log = createWriteStream(join(run.logs, "wstest.log"));
  let order: string[] | undefined;
  const waiters = new Map<string, () => void>();
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
  run.progress.onResult = (record) => waiters.get(record.id)?.();
  try {
    const deadline = Date.now() + 60_000;
    while (!(order && (await reachable("127.0.0.1", port, 1000)))) {
      if (Date.now() > deadline || (await within(fuzz.exited, 100)) !== "timeout") {
        run.errors.push(
          `wstest's fuzzing server did not start (see ${join(run.logs, "wstest.log")})`,
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
    const clientLog = createWriteStream(join(run.logs, "client.log"));
    let noResult = 0;
    for (let i = 0; i < order.length; i++) {
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
        run.errors.push(
          `the client produced no result for ${NO_ANSWER_LIMIT} cases in a row (from case ${
            order[i - NO_ANSWER_LIMIT + 1]
          }; last: ${note ?? "no connection"}); see ${join(run.logs, "client.log")}`,
        );
        break;
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
  const fuzzer = await installFuzzer(o);
  const role = o.server ? "server" : "client";
  const target = (o.server ?? o.client)!;
  // wstest writes under conformance/.cache (a Docker wstest sees only the conformance folder); the
  // results are copied to --report at the end.
  const workdir = join(o.home, ".cache", "external", `${role}-${process.pid}-${started}`);
  const logs = join(o.report, "logs");
  for (const entry of ["autobahn", "logs", "summary.json", "summary.md", "junit.xml"]) {
    await rm(join(o.report, entry), { recursive: true, force: true });
  }
  await mkdir(workdir, { recursive: true });
  await mkdir(logs, { recursive: true });
  console.log(
    `conformance: ${role} ${target} (agent ${o.agent}): ${ids.length} cases, ${fuzzer.mode} wstest`,
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
  };
  const judgement = judge(outcome, expectations, o.expect);
  await writeReports(o.report, outcome, judgement);
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
  console.log(`reports: ${o.report} (autobahn/index.html, summary.md, summary.json, junit.xml)`);
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
