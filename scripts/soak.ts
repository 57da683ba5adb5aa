/**
 * Soak test: many long-lived connections to our engine echo `serve()` on
 * Deno, Bun and Node 20, one runtime after the other, to show that memory and
 * file descriptors do not leak.
 *
 * Per runtime: the server (scripts/soak/server.ts, default heartbeat and
 * limits) starts in its own process; after a settle and a forced GC its RSS
 * and open descriptors (`/proc/<pid>/status`, `/proc/<pid>/fd`) are the
 * baseline. A lean raw-TCP client in another process (scripts/soak/client.mjs,
 * Node 20) opens `--connections` connections and holds them for `--minutes`
 * with a trickle of traffic (every second 1% of the connections send a small
 * message whose echo is checked, 0.1% a ping whose pong is checked; the
 * server's heartbeat pings are answered), sampled every `--sample` seconds
 * (RSS as it is; the JS heap after a forced GC when all are open and at the
 * end of the hold, so growth with a constant set of connections shows).
 * Then every connection is closed (80% close handshake, 10% FIN without a
 * close frame, 10% reset), and after a settle and a forced GC the server is
 * measured again. Flat RSS during the hold and descriptors back to the
 * baseline after release mean no leak. Errors from both sides are counted.
 *
 * Usage: `deno run -A scripts/soak.ts [--quick] [--minutes 3] [--connections 10000]
 *   [--sample 30] [--settle 5] [--runtimes deno,bun,node20,node24]`
 * (`--quick`: 500 connections held 10 s, samples every 5 s.)
 *
 * @module
 */
import { Lines } from "./_util/lines.ts";
import { killChildren, trackChild } from "./_util/children.ts";
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const bin = (name: string) => `${root}/node_modules/.bin/${name}`;
const node20 = "/usr/bin/node";
const args = Deno.args;
const quick = args.includes("--quick");
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const connections = Number(opt("connections", quick ? "500" : "10000"));
const holdSeconds = Number(opt("minutes", quick ? String(10 / 60) : "3")) * 60;
const sampleSeconds = Number(opt("sample", quick ? "5" : "30"));
const settleSeconds = Number(opt("settle", quick ? "2" : "5"));
const serverBundle = ".build/soak/server.mjs";
const servers: Record<string, string[]> = {
  deno: [bin("deno"), "run", "-A", "--v8-flags=--expose-gc", "scripts/soak/server.ts"],
  bun: [bin("bun"), "scripts/soak/server.ts"],
  node20: [node20, "--expose-gc", serverBundle],
  node24: [bin("node"), "--expose-gc", serverBundle],
};
const runtimes = opt("runtimes", "deno,bun,node20").split(",");
const unknown = runtimes.filter((name) => !(name in servers));
if (unknown.length > 0) throw new Error(`Unknown runtime(s): ${unknown.join(", ")}`);

// ── processes ────────────────────────────────────────────────────────────

let fdLimit = 0;

/** `cmd` with the raised descriptor limit; the pid is the command's own (exec). */
function spawn(cmd: string[]): Deno.ChildProcess {
  const child = new Deno.Command("sh", {
    args: ["-c", `ulimit -n ${fdLimit} && exec "$@"`, "sh", ...cmd],
    cwd: root,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  trackChild(child);
  return child;
}

async function shell(command: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", command] }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

async function bundleServer() {
  await Deno.mkdir(`${root}/.build/soak`, { recursive: true });
  const out = await new Deno.Command(bin("esbuild"), {
    args: [
      "scripts/soak/server.ts",
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      `--outfile=${serverBundle}`,
      "--log-level=error",
    ],
    cwd: root,
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const encoder = new TextEncoder();

// ── measuring ────────────────────────────────────────────────────────────

interface Sample {
  phase: string;
  seconds: number;
  rssMiB: number;
  fds: number;
  heapMiB?: number;
  channels?: number;
}

function measure(pid: number): { rssMiB: number; fds: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  let fds = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) fds++;
  return { rssMiB: rssKiB / 1024, fds };
}

interface ServerControl {
  gc(
    command: "gc" | "stats",
  ): Promise<{ forced: boolean; heapUsed: number; channels: number; errors: number }>;
}

function control(child: Deno.ChildProcess, lines: Lines): ServerControl {
  const writer = child.stdin.getWriter();
  return {
    async gc(command) {
      await writer.write(encoder.encode(`${command}\n`));
      const match = await lines.until(/^GC (.*)/, 30_000, "server control");
      return JSON.parse(match[1]);
    },
  };
}

interface ClientStats {
  connections: number;
  errors: number;
  sent: number;
  echoed: number;
  pings: number;
  pongs: number;
  serverPings: number;
  closedClean: number;
  closedFin: number;
  closedReset: number;
  samples: string[];
  [key: string]: unknown;
}

interface RunResult {
  runtime: string;
  samples: Sample[];
  open: ClientStats;
  released: ClientStats;
  serverErrors: number;
  serverStderr: string[];
  gcForced: boolean;
  connectSeconds: number;
}

async function soak(name: string): Promise<RunResult> {
  const started = performance.now();
  const t = () => (performance.now() - started) / 1000;
  const server = spawn(servers[name]);
  const serverOut = new Lines(server.stdout);
  const serverErr = new Lines(server.stderr, { keep: true });
  serverErr.drain();
  const port = Number((await serverOut.until(/^PORT (\d+)/, 30_000, `${name} server`))[1]);
  const ctl = control(server, serverOut);
  const pid = server.pid;
  const samples: Sample[] = [];
  const sample = async (phase: string, command: "gc" | "stats") => {
    const answer = await ctl.gc(command);
    const s: Sample = { phase, seconds: t(), ...measure(pid) };
    s.heapMiB = answer.heapUsed / 2 ** 20;
    s.channels = answer.channels;
    samples.push(s);
    console.error(
      `${name}: ${phase} at ${s.seconds.toFixed(0)} s: RSS ${
        s.rssMiB.toFixed(1)
      } MiB, ${s.fds} fds${s.channels !== undefined ? `, ${s.channels} channels` : ""}`,
    );
    return answer;
  };

  await sleep(settleSeconds * 1000);
  const first = await sample("start", "gc");
  const client = spawn([
    node20,
    "scripts/soak/client.mjs",
    "--port",
    String(port),
    "--connections",
    String(connections),
  ]);
  const clientOut = new Lines(client.stdout);
  const clientErr = new Lines(client.stderr, { keep: true });
  clientErr.drain();
  const clientWriter = client.stdin.getWriter();
  try {
    const connectStart = t();
    const open: ClientStats = JSON.parse(
      (await clientOut.until(/^OPEN (.*)/, 120_000 + connections * 20, `${name} client`))[1],
    );
    const connectSeconds = t() - connectStart;
    await sample("all open", "gc");
    const holdStart = t();
    for (let next = sampleSeconds; next < holdSeconds; next += sampleSeconds) {
      await sleep(Math.max(0, (holdStart + next - t()) * 1000));
      await sample(`hold ${Math.round(next)} s`, "stats");
    }
    await sleep(Math.max(0, (holdStart + holdSeconds - t()) * 1000));
    await sample("hold end", "gc");
    await clientWriter.write(encoder.encode("release\n"));
    const released: ClientStats = JSON.parse(
      (await clientOut.until(/^RELEASED (.*)/, 60_000, `${name} client`))[1],
    );
    await sample("closed", "stats");
    await sleep(settleSeconds * 1000);
    const last = await sample("released", "gc");
    return {
      runtime: name,
      samples,
      open,
      released,
      serverErrors: last.errors,
      serverStderr: serverErr.all.slice(0, 10),
      gcForced: first.forced && last.forced,
      connectSeconds,
    };
  } catch (error) {
    console.error(`${name} client stderr:\n${clientErr.all.slice(-20).join("\n")}`);
    console.error(`${name} server stderr:\n${serverErr.all.slice(-20).join("\n")}`);
    throw error;
  } finally {
    try {
      await clientWriter.close();
    } catch { /* gone */ }
    for (const child of [client, server]) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
  }
}

// ── report ───────────────────────────────────────────────────────────────

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "–";

function printSummary(results: RunResult[]) {
  console.log(
    `\n## Soak: ${fmt(connections)} connections held ${
      fmt(holdSeconds / 60, 1)
    } min (${cores} cores)\n`,
  );
  console.log(
    "| server | RSS start (MiB) | RSS all open | RSS during hold (min–max) | RSS after release | fds start | fds open | fds after release | heap after GC: start / all open / hold end / released (MiB) | channels left | messages echoed / sent | pongs / pings | server pings answered | errors |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const at = (phase: string) => r.samples.find((s) => s.phase === phase)!;
    const start = at("start");
    const open = at("all open");
    const released = at("released");
    const hold = r.samples.filter((s) => s.phase.startsWith("hold"));
    const rss = hold.map((s) => s.rssMiB);
    const holdEnd = at("hold end");
    const c = r.released;
    const errors = c.errors + r.serverErrors;
    console.log(
      `| engine-${r.runtime} | ${fmt(start.rssMiB, 1)} | ${fmt(open.rssMiB, 1)} | ${
        fmt(Math.min(...rss), 1)
      }–${fmt(Math.max(...rss), 1)} | ${
        fmt(released.rssMiB, 1)
      } | ${start.fds} | ${open.fds} | ${released.fds} | ${
        [start, open, holdEnd, released].map((x) => fmt(x.heapMiB!, 1)).join(" / ")
      }${r.gcForced ? "" : " (no GC)"} | ${released.channels} | ${fmt(c.echoed)} / ${
        fmt(c.sent)
      } | ${fmt(c.pongs)} / ${fmt(c.pings)} | ${fmt(c.serverPings)} | ${errors} |`,
    );
  }
  for (const r of results) {
    const notes = [...r.released.samples, ...r.serverStderr];
    if (notes.length > 0) console.log(`\n${r.runtime}: ${notes.join("; ")}`);
  }
  console.log("\n### Samples (server RSS MiB / open fds)\n");
  const phases = results[0].samples.map((s) => s.phase);
  console.log(`| phase | ${results.map((r) => `engine-${r.runtime}`).join(" | ")} |`);
  console.log(`|---|${results.map(() => "---:").join("|")}|`);
  for (const phase of phases) {
    const cells = results.map((r) => {
      const s = r.samples.find((x) => x.phase === phase);
      return s ? `${fmt(s.rssMiB, 1)} / ${s.fds}` : "–";
    });
    console.log(`| ${phase} | ${cells.join(" | ")} |`);
  }
  console.log("");
}

// ── main ─────────────────────────────────────────────────────────────────

async function raiseFdLimit() {
  const soft = Number(await shell("ulimit -n"));
  const hardText = await shell("ulimit -Hn");
  const hard = hardText === "unlimited" ? Infinity : Number(hardText);
  const needed = connections + 256;
  if (hard < needed) {
    throw new Error(
      `${needed} file descriptors needed per process (${connections} connections), but the hard ` +
        `limit is ${hard}: raise it (ulimit -Hn as root, or limits.conf) or lower --connections`,
    );
  }
  fdLimit = Math.max(soft, needed);
}

let cores = "";
let failed = false;
try {
  await raiseFdLimit();
  cores = await shell("nproc");
  if (runtimes.some((name) => name.startsWith("node"))) await bundleServer();
  const results: RunResult[] = [];
  for (const name of runtimes) {
    console.error(`soak on ${name}: ${connections} connections, hold ${holdSeconds} s…`);
    results.push(await soak(name));
  }
  printSummary(results);
  // Descriptors back to the baseline (a few of a runtime's own may come and go) and no channel left.
  const leaked = (r: RunResult) => {
    const start = r.samples.find((s) => s.phase === "start")!;
    const end = r.samples.find((s) => s.phase === "released")!;
    return end.fds > start.fds + 4 || end.channels !== 0;
  };
  failed = results.some((r) =>
    r.released.errors + r.serverErrors > 0 || r.open.connections < connections || leaked(r)
  );
  if (failed) {
    console.error(
      "soak: errors, missing connections or descriptors/channels left over (see above)",
    );
  }
} finally {
  killChildren();
}
Deno.exit(failed ? 1 : 0);
