/**
 * The processes a benchmark measures: servers and load clients started from
 * the repository root, pinned to a CPU with `taskset` (servers on CPU 0,
 * load clients on CPU 1), their stdout read line by line (a server prints
 * `PORT <n>` once listening; a load client prints `COUNTING` when its
 * counted window opens and a JSON line with its result when it closes), and
 * every one of them killed on any way out: the script's end, an error,
 * Ctrl-C or SIGTERM.
 *
 * Built on `node:child_process`, so it runs on Deno, Bun and Node.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { Readable } from "node:stream";
import { Lines } from "../../scripts/_util/lines.ts";
import { root, rssKiB } from "../_harness.ts";

/** How to start a process. */
export interface SpawnOptions {
  /** The CPU list for `taskset -c` ("0", "1", "0,1"); none: not pinned. */
  cpu?: number | string;
  /** Read stdout as lines (default), or discard it. */
  stdout?: "lines" | "ignore";
  /** Pass stderr through (default), or keep it for error messages. */
  stderr?: "inherit" | "keep";
  /** Variables added to this process's environment. */
  env?: Record<string, string>;
  /** Raises the open-file limit to this many (`ulimit -n`) before the command starts. */
  fdLimit?: number;
}

const running = new Set<Process>();
let listening = false;

/** A started process; its pid is the command's own (taskset and the shell exec it). */
export class Process {
  /** Its name in messages. */
  readonly name: string;
  /** Its stdout, line by line (empty when started with `stdout: "ignore"`). */
  readonly lines: Lines;
  /** Resolves with the exit code (null when a signal ended it) once it is gone. */
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  #stderr = "";

  constructor(name: string, cmd: readonly string[], options: SpawnOptions = {}) {
    this.name = name;
    const pinned = options.cpu === undefined ? cmd : ["taskset", "-c", String(options.cpu), ...cmd];
    const argv = options.fdLimit
      ? ["sh", "-c", `ulimit -n ${options.fdLimit} 2>/dev/null; exec "$@"`, "sh", ...pinned]
      : pinned;
    const keep = options.stderr === "keep";
    this.#child = spawn(argv[0], argv.slice(1), {
      cwd: root,
      env: options.env ? { ...process.env, ...options.env } : undefined,
      stdio: ["ignore", options.stdout === "ignore" ? "ignore" : "pipe", keep ? "pipe" : "inherit"],
    });
    this.exited = new Promise((resolve) => {
      this.#child.once("error", (error) => {
        this.#stderr += `${error.message}\n`;
        resolve(null);
      });
      this.#child.once("close", (code) => resolve(code));
    });
    if (keep) {
      this.#child.stderr!.setEncoding("utf8");
      this.#child.stderr!.on("data", (chunk: string) => {
        this.#stderr = (this.#stderr + chunk).slice(-20_000);
      });
    }
    this.lines = new Lines(
      this.#child.stdout
        ? Readable.toWeb(this.#child.stdout) as ReadableStream<Uint8Array>
        : new ReadableStream<Uint8Array>({ start: (c) => c.close() }),
    );
    track(this);
  }

  /** The process id (0 if it could not start). */
  get pid(): number {
    return this.#child.pid ?? 0;
  }

  /** The end of its stderr, when started with `stderr: "keep"`. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Waits for its end; throws (with its stderr) unless it exited 0. */
  async succeeded(): Promise<void> {
    const code = await this.exited;
    if (code !== 0) throw new Error(`${this.name} exited with ${code}\n${this.#stderr}`);
  }

  /** Kills it (SIGKILL) and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await this.exited;
  }
}

function track(child: Process): void {
  running.add(child);
  child.exited.then(() => running.delete(child));
  if (listening) return;
  listening = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      for (const each of running) void each.stop();
      process.exit(130);
    });
  }
}

/** Kills every process started here that is still running, and waits until they are gone. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()));
}

/** A started server and the loopback port it printed. */
export interface Server extends Process {
  readonly port: number;
}

/**
 * Starts a server (pinned to CPU 0 unless `cpu` says otherwise) and waits up
 * to `ms` for its `PORT <n>` line; its further output is drained so it never
 * blocks on a full pipe.
 */
export async function startServer(
  name: string,
  cmd: readonly string[],
  options: SpawnOptions & { ms?: number } = {},
): Promise<Server> {
  const child = new Process(name, cmd, { cpu: 0, ...options });
  try {
    const [, port] = await child.lines.until(/^PORT (\d+)/, options.ms ?? 30_000, name);
    child.lines.drain();
    return Object.assign(child, { port: Number(port) });
  } catch (error) {
    await child.stop();
    throw new Error(`${(error as Error).message}\n${child.stderr}`);
  }
}

/** What {@linkcode countedWindow} saw. */
export interface Window<T> {
  /** `sample()` when the window opened and when it closed. */
  before: T;
  after: T;
  /** Wall-clock length of the window, in seconds. */
  seconds: number;
  /** The line that closed it. */
  match: RegExpExecArray;
}

/**
 * Reads `lines` until `start` (default `COUNTING`) and then until `end`
 * (default a JSON object line), calling `sample` at each, so that what it
 * reads (CPU time of the server, of the client) covers exactly the window the
 * load client counted.
 */
export async function countedWindow<T>(
  lines: Lines,
  what: string,
  sample: () => T,
  options: { start?: RegExp; end?: RegExp; ms?: number } = {},
): Promise<Window<T>> {
  const ms = options.ms ?? 60_000;
  await lines.until(options.start ?? /^COUNTING/, ms, what);
  const before = sample();
  const t0 = performance.now();
  const match = await lines.until(options.end ?? /^\{.*\}$/, ms, what);
  const after = sample();
  return { before, after, seconds: (performance.now() - t0) / 1000, match };
}

/** One case of the closed-loop echo load clients (`bench/peers/client_ws.mjs`, `client_engine.ts`, `go_echo`). */
export interface EchoLoad {
  /** Message size in bytes. */
  size: number;
  /** Connections the client opens. */
  connections: number;
  /** Messages in flight per connection. */
  window: number;
}

/** The arguments every echo load client takes: the server's URL, the case, the counted and warm-up seconds. */
export function echoLoadArgs(
  port: number,
  load: EchoLoad,
  seconds: number,
  warmup: number,
): string[] {
  return [
    "--url",
    `ws://127.0.0.1:${port}/`,
    "--size",
    String(load.size),
    "--window",
    String(load.window),
    "--connections",
    String(load.connections),
    "--seconds",
    String(seconds),
    "--warmup",
    String(warmup),
  ];
}

/** A finished load-client run: its JSON result and the window around it. */
export interface ClientRun<T> extends Window<T> {
  result: Record<string, unknown> & { messages: number; seconds: number };
}

/**
 * Runs a closed-loop load client pinned to CPU 1 to its end: `sample(pid)`
 * (given the client's pid) is taken when it prints `COUNTING` and when it
 * prints its JSON result; fails with the client's stderr if it does not
 * finish within `ms` or exits non-zero.
 */
export async function runLoadClient<T>(
  name: string,
  cmd: readonly string[],
  sample: (clientPid: number) => T,
  ms: number,
): Promise<ClientRun<T>> {
  const client = new Process(name, cmd, { cpu: 1, stderr: "keep" });
  let window: Window<T>;
  try {
    window = await countedWindow(client.lines, name, () => sample(client.pid), { ms });
  } catch (error) {
    await client.stop();
    throw new Error(`${(error as Error).message}\n${client.stderr}`);
  }
  client.lines.drain();
  await client.succeeded();
  return { ...window, result: JSON.parse(window.match[0]) };
}

/** What {@linkcode serverRss} measured, in KiB. */
export interface RssDelta {
  before: number;
  after: number;
  /** RSS after a second batch of the same size (when asked for), the first still open. */
  second?: number;
  /** The client's line that said its connections were up. */
  ready: RegExpExecArray;
}

/**
 * Idle memory of a server: starts it (CPU 0), reads its RSS after a second,
 * starts `client(port)` on CPU 1, waits for its `ready` line, lets
 * everything settle for `settleMs` and reads the RSS again; stops both.
 * With `secondBatch`, a second client of the same size joins the first
 * before the last reading: its delta is the cost of one more connection on
 * a server already warm (code compiled and paged in, heap grown), which the
 * first batch's delta includes.
 */
export async function serverRss(
  name: string,
  cmd: readonly string[],
  client: (port: number) => string[],
  ready: RegExp,
  settleMs: number,
  secondBatch = false,
): Promise<RssDelta> {
  const server = await startServer(name, cmd);
  const clients: Process[] = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = rssKiB(server.pid);
    const batch = async () => {
      const process = new Process(`memory client of ${name}`, client(server.port), { cpu: 1 });
      clients.push(process);
      const match = await process.lines.until(ready, 180_000, process.name);
      await new Promise((resolve) => setTimeout(resolve, settleMs));
      return match;
    };
    const match = await batch();
    const after = rssKiB(server.pid);
    if (!secondBatch) return { before, after, ready: match };
    await batch();
    return { before, after, second: rssKiB(server.pid), ready: match };
  } finally {
    for (const process of clients) await process.stop();
    await server.stop();
  }
}
