/**
 * Process and port helpers for the conformance runner (Deno): every child runs in its own process
 * group so that stopping it also stops whatever it started (a browser, a bundled server), and every
 * child is tracked until it is stopped, also on failure or Ctrl-C.
 *
 * @example
 * ```ts
 * const child = spawnGroup(["sleep", "10"], { log: "/tmp/sleep.log" });
 * await stopAll();
 * ```
 * @module
 */

/** A child process started in its own process group. */
export interface GroupChild {
  /** Process id, which is also the process group id when `setsid` was available. */
  readonly pid: number;
  /** The argv it was started with, for messages. */
  readonly argv: readonly string[];
  /** Resolves when the child has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Whether the child has exited. */
  exited: boolean;
}

const running = new Set<GroupChild>();
let hasSetsid: boolean | undefined;

function setsidAvailable(): boolean {
  if (hasSetsid === undefined) {
    try {
      hasSetsid =
        new Deno.Command("setsid", { args: ["--version"], stdout: "null", stderr: "null" })
          .outputSync().success;
    } catch {
      hasSetsid = false;
    }
  }
  return hasSetsid;
}

/**
 * Starts `argv` in a new session/process group (via `setsid`, which execs in place, so the pid we
 * get is the group leader) with stdout and stderr appended to `options.log`.
 *
 * @example
 * ```ts
 * const child = spawnGroup(["deno", "run", "-A", "x.ts"], { log: "x.log", cwd: "/work" });
 * ```
 */
export function spawnGroup(
  argv: readonly string[],
  options: { log: string; cwd?: string; env?: Record<string, string> },
): GroupChild {
  const [cmd, ...args] = setsidAvailable() ? ["setsid", ...argv] : [...argv];
  const file = Deno.openSync(options.log, { create: true, append: true });
  const proc = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Both streams go to one log; the writes are small and interleaving by chunk is good enough.
  const write = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      try {
        file.writeSync(chunk);
      } catch { /* log closed during shutdown */ }
    }
  };
  const pumps = Promise.all([write(proc.stdout), write(proc.stderr)]);
  const child: GroupChild = {
    pid: proc.pid,
    argv,
    exited: false,
    status: proc.status.then(async (status) => {
      child.exited = true;
      running.delete(child);
      await pumps.catch(() => {});
      try {
        file.close();
      } catch { /* already closed */ }
      return status;
    }),
  };
  running.add(child);
  return child;
}

function signalGroup(child: GroupChild, signal: Deno.Signal): void {
  for (const pid of hasSetsid ? [-child.pid, child.pid] : [child.pid]) {
    try {
      Deno.kill(pid, signal);
    } catch { /* already gone */ }
  }
}

/**
 * Stops a child's whole process group: SIGTERM, then SIGKILL after `graceMs`. Also kills the group
 * when the leader already exited, since its children (a browser) may still run.
 *
 * @example
 * ```ts
 * await stopGroup(child, 2000);
 * ```
 */
export async function stopGroup(child: GroupChild, graceMs = 3000): Promise<void> {
  signalGroup(child, "SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) =>
    timer = setTimeout(() => resolve("timeout"), graceMs)
  );
  const result = await Promise.race([child.status.then(() => "exited" as const), timeout]);
  clearTimeout(timer);
  signalGroup(child, "SIGKILL");
  if (result === "timeout") await child.status.catch(() => {});
}

/**
 * Stops every child still tracked (used by the exit and signal handlers).
 *
 * @example
 * ```ts
 * addEventListener("unload", () => stopAllSync());
 * ```
 */
export async function stopAll(graceMs = 2000): Promise<void> {
  await Promise.all([...running].map((child) => stopGroup(child, graceMs)));
}

/** Kills every tracked group at once without waiting (for `unload`, where nothing can be awaited). */
export function stopAllSync(): void {
  for (const child of running) signalGroup(child, "SIGKILL");
}

/**
 * Asks the OS for a free TCP port on 127.0.0.1 (bind to 0, read, release). Another process could
 * take it in between; the runner's readiness check then fails loudly instead of hanging.
 *
 * @example
 * ```ts
 * const port = freePort();
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Waits until something accepts TCP connections on `port`, or throws after `timeoutMs`, or as soon as
 * `child` exits (a crashed server should not cost the whole timeout).
 *
 * @example
 * ```ts
 * await waitForPort(9001, { timeoutMs: 20_000 });
 * ```
 */
export async function waitForPort(
  port: number,
  options: { timeoutMs: number; child?: GroupChild },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (options.child?.exited) {
      throw new Error(`${options.child.argv.join(" ")} exited before listening`);
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${options.timeoutMs} ms`);
}

/**
 * Resolves with the child's status, or with `"timeout"` after `ms`.
 *
 * @example
 * ```ts
 * if (await waitExit(child, 60_000) === "timeout") await stopGroup(child);
 * ```
 */
export async function waitExit(
  child: GroupChild,
  ms: number,
): Promise<Deno.CommandStatus | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) =>
    timer = setTimeout(() => resolve("timeout"), ms)
  );
  try {
    return await Promise.race([child.status, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
