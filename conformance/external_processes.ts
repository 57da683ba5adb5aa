/**
 * Processes and sockets of the conformance harness's outside mode (external.ts), on node:* modules
 * (Deno, Bun, Node): every child in its own process group (via `setsid`), tracked until it exits so
 * that {@link killAll} can stop everything on exit or a signal; free ports, reachability and the TLS
 * check of a `wss://` server.
 *
 * @example
 * ```ts
 * const p = start(["sleep", "5"], { log: createWriteStream("/dev/null") });
 * await stop(p);
 * ```
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import type { WriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import process from "node:process";
import { connect as connectTls } from "node:tls";

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

export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  for (const pid of hasSetsid() ? [-child.pid, child.pid] : [child.pid]) {
    try {
      process.kill(pid, signal);
    } catch { /* gone */ }
  }
}

/** Starts argv in its own process group (setsid execs in place: the pid leads the group). */
export function start(
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

export function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms)),
  ]).finally(() => clearTimeout(timer));
}

/** SIGTERM to the group, SIGKILL after `graceMs`. */
export async function stop(p: { child: ChildProcess; exited: Promise<unknown> }, graceMs = 2000) {
  signalGroup(p.child, "SIGTERM");
  await within(p.exited, graceMs);
  signalGroup(p.child, "SIGKILL");
}

/** Kills every process group still running (exit and signal handlers). */
export function killAll(): void {
  for (const child of children) signalGroup(child, "SIGKILL");
}

export function freePort(): Promise<number> {
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
export function reachable(host: string, port: number, ms = 3000): Promise<boolean> {
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
export async function tlsProblem(
  host: string,
  port: number,
  ca?: string,
): Promise<string | undefined> {
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
