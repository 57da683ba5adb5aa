/**
 * Loopback echo benchmark: our engine `serve()` on Deno, Bun and Node beside
 * `Deno.upgradeWebSocket`, `Bun.serve` and `ws` on Node, all driven by the
 * same client in a separate process, in one interleaved run.
 *
 * Method: the server is pinned
 * to CPU 0 and the client to CPU 1; every round visits the servers in a
 * rotated order, so background load hits all of them alike; the table shows
 * the median of the rounds plus the server's CPU use during the window (a
 * server far below 100 % means the client was the limit, not the server).
 * Idle memory: a fresh server per runtime, N raw upgraded connections from a
 * separate process, server RSS delta / N after a settle; then N more beside
 * them, whose delta / N is the cost of a connection once the server is warm
 * (the first figure also holds one-time costs: code compiled and paged in).
 *
 * Our servers' application is an echo through `channel.listen()` (each
 * message handed over synchronously); `engine-node-stream`,
 * `engine-deno-stream` and `engine-bun-stream` (only when named in
 * `--servers`) read through `channel.stream` instead.
 *
 * Load clients (`--client`): `ws` (ws 8 + bufferutil on Node 20, the
 * default), `engine` (our engine client on Bun), or `go` (gorilla/websocket,
 * `bench/peers/go_echo`, a client in no JavaScript runtime; optional: needs
 * `go` on PATH, skipped with a message without it). `--connections` and
 * `--window` replace every case's own.
 *
 * Usage: `deno run -A bench/echo.ts [--rounds 3] [--seconds 3] [--client ws|engine|go]
 *   [--servers ws,bun-native,...] [--cases 20,1024,16384,65536,16777216]
 *   [--connections N] [--window W] [--idle 5000] [--no-throughput] [--no-floors]
 *   [--before DIR] [--gc]`
 *
 * The idle measurement also runs, for each runtime of the servers measured,
 * `bench/peers/server_floor.mjs` (`floor-deno`, `floor-bun`, `floor-node`):
 * the least a server in JavaScript keeps per idle connection on that
 * runtime's own TCP API (the socket and one read pending, no WebSocket
 * state), so the rows read against what the runtime itself costs.
 * `--no-floors` leaves them out.
 *
 * `--gc`: the Node servers count their garbage collections
 * (`bench/peers/gc_counter.mjs` preloaded), and each round's line adds the
 * scavenges and full (mark-compact) collections per 10,000 messages of its
 * window, with the young generation's size and the old generation's use at
 * its end: at 16 KiB × 200 a Node server's rate depends on whether V8 runs a
 * full collection after every scavenge, which these show.
 *
 * `--before DIR` adds `engine-deno-before`, `engine-bun-before` and
 * `engine-node-before` (when named in `--servers`): those servers run from the
 * checkout in DIR (Node's bundled from it), for a change measured against the
 * build before it.
 *
 * @module
 */
import {
  bin,
  bundleForNode,
  cpuTicks,
  fmt,
  goBuild,
  goMissing,
  node20,
  option,
  rotated,
  Samples,
  sizeLabel,
  table,
} from "./_harness.ts";
import {
  type EchoLoad,
  echoLoadArgs,
  runLoadClient,
  type Server,
  serverRss,
  startServer,
  stopAll,
} from "./_harness/processes.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const args = Deno.args;
const opt = (name: string, fallback: string) => option(args, name, fallback);
const rounds = Number(opt("rounds", "3"));
const seconds = Number(opt("seconds", "3"));
const idleConnections = Number(opt("idle", "5000"));
const clientName = opt("client", "ws");

const clients: Record<string, { what: string; cmd: () => string[] }> = {
  ws: {
    what: "ws 8 + bufferutil on Node 20",
    cmd: () => [node20, "bench/peers/client_ws.mjs"],
  },
  engine: {
    what: "our engine client on Bun",
    cmd: () => [bin("bun"), "bench/peers/client_engine.ts"],
  },
  go: {
    what: "gorilla/websocket in Go (bench/peers/go_echo)",
    cmd: () => [goBuild("bench/peers/go_echo", "go_echo")],
  },
};
if (!clients[clientName]) throw new Error(`--client: one of ${Object.keys(clients).join(", ")}`);

interface ServerSpec {
  name: string;
  cmd: string[];
}
const allServers: ServerSpec[] = [
  { name: "ws", cmd: [node20, "bench/peers/server_ws.mjs"] },
  { name: "bun-native", cmd: [bin("bun"), "bench/peers/server_bun_native.ts"] },
  { name: "deno-native", cmd: [bin("deno"), "run", "-A", "bench/peers/server_deno_native.ts"] },
  { name: "engine-deno", cmd: [bin("deno"), "run", "-A", "bench/peers/server_engine.ts"] },
  { name: "engine-bun", cmd: [bin("bun"), "bench/peers/server_engine.ts"] },
  { name: "engine-node", cmd: [node20, ".build/bench/server_engine.mjs"] },
  // The same servers reading through `stream` (a promise per message) instead of `listen()`.
  {
    name: "engine-deno-stream",
    cmd: [bin("deno"), "run", "-A", "bench/peers/server_engine.ts", "--stream"],
  },
  { name: "engine-bun-stream", cmd: [bin("bun"), "bench/peers/server_engine.ts", "--stream"] },
  { name: "engine-node-stream", cmd: [node20, ".build/bench/server_engine.mjs", "--stream"] },
];
// Idle memory only: the runtime's own cost of an idle connection (see the module doc).
const floorServers: (ServerSpec & { runtime: string })[] = [
  {
    name: "floor-deno",
    runtime: "deno",
    cmd: [bin("deno"), "run", "-A", "bench/peers/server_floor.mjs"],
  },
  { name: "floor-bun", runtime: "bun", cmd: [bin("bun"), "bench/peers/server_floor.mjs"] },
  { name: "floor-node", runtime: "node", cmd: [node20, "bench/peers/server_floor.mjs"] },
];
// `--before DIR`: our Deno and Bun servers from another checkout (the build before a
// change) as `NAME-before`, measured in the same rounds when named in `--servers`.
const before = opt("before", "");
const NODE_BEFORE_BUNDLE = ".build/bench/server_engine_before.mjs";
if (before) {
  for (const spec of allServers.filter((s) => s.cmd.includes("bench/peers/server_engine.ts"))) {
    const cmd = spec.cmd.map((part) => part.startsWith("bench/") ? `${before}/${part}` : part);
    allServers.push({ name: `${spec.name}-before`, cmd });
  }
  allServers.push({ name: "engine-node-before", cmd: [node20, NODE_BEFORE_BUNDLE] });
}
// The stream and before variants only when asked for.
const defaultServers = allServers.filter((s) => !/-(stream|before)$/.test(s.name));
const wanted = opt("servers", defaultServers.map((s) => s.name).join(",")).split(",");
const servers = allServers.filter((s) => wanted.includes(s.name));

type Case = EchoLoad;
const caseTable: Record<number, Case> = {
  20: { size: 20, connections: 10, window: 16 },
  1024: { size: 1024, connections: 10, window: 16 },
  16384: { size: 16384, connections: 200, window: 1 },
  65536: { size: 65536, connections: 4, window: 4 },
  16777216: { size: 16777216, connections: 1, window: 1 },
};
const cases: Case[] = opt("cases", "20,1024,16384,65536,16777216").split(",").map((s) => {
  const c = caseTable[Number(s)];
  if (!c) throw new Error(`--cases: one of ${Object.keys(caseTable).join(", ")}`);
  return {
    ...c,
    connections: Number(opt("connections", String(c.connections))),
    window: Number(opt("window", String(c.window))),
  };
});

interface Sample {
  rate: number;
  cpu: number;
  /** With `--gc`, on Node servers: what the collections counter saw. */
  gc?: string;
}

/** `--gc`: where the Node servers' collection counts are written (one file per pid). */
const gcDir = args.includes("--gc") ? mkdtempSync(`${tmpdir()}/echo-gc-`) : undefined;

/** A server's command, with the collections counter preloaded when it runs on Node 20 and `--gc` is on. */
function withGcCounter(cmd: string[]): string[] {
  if (gcDir === undefined || cmd[0] !== node20) return cmd;
  return [cmd[0], "--import", "./bench/peers/gc_counter.mjs", ...cmd.slice(1)];
}

interface GcCounts {
  scavenges: number;
  full: number;
  newSpace: number;
  oldGeneration: number;
}

function gcCounts(pid: number): GcCounts | undefined {
  try {
    return JSON.parse(readFileSync(`${gcDir}/${pid}`, "utf8"));
  } catch {
    return undefined; // not a Node server, or no collection counted yet
  }
}

/** The collections of a window, per 10,000 messages, and the heap at its end. */
function gcNote(before: GcCounts | undefined, after: GcCounts | undefined, messages: number) {
  if (!before || !after || messages === 0) return undefined;
  const per = (n: number) => fmt((n * 10_000) / messages, 1);
  const mb = (bytes: number) => fmt(bytes / 1048576, 1);
  return `GC per 10k messages: ${per(after.scavenges - before.scavenges)} scavenges, ${
    per(after.full - before.full)
  } full; young ${mb(after.newSpace)} MB, old ${mb(after.oldGeneration)} MB`;
}

/**
 * Runs the load client against one server; the server's CPU time is read
 * when the client starts counting and when it prints its result, so the CPU
 * share covers exactly the measured window.
 */
async function runClient(client: string[], server: Server, c: Case): Promise<Sample> {
  const run = await runLoadClient(
    `${clientName} client of ${server.name}`,
    [...client, ...echoLoadArgs(server.port, c, seconds, 1)],
    () => ({ ticks: cpuTicks(server.pid), gc: gcDir ? gcCounts(server.pid) : undefined }),
    (seconds + 1) * 1000 + 60_000,
  );
  return {
    rate: run.result.messages / run.result.seconds,
    cpu: (run.after.ticks - run.before.ticks) / 100 / run.seconds,
    gc: gcNote(run.before.gc, run.after.gc, run.result.messages),
  };
}

const label = (c: Case) => `${sizeLabel(c.size)} ×${c.connections}c×${c.window}w`;

async function throughput(client: string[]) {
  const running: Server[] = [];
  for (const spec of servers) {
    const env = gcDir ? { GC_COUNTS_DIR: gcDir } : undefined;
    running.push(await startServer(spec.name, withGcCounter(spec.cmd), { env }));
  }
  const results = new Samples<Sample>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        for (const server of rotated(running, round)) {
          const sample = await runClient(client, server, c);
          results.add(`${server.name}|${c.size}`, sample);
          console.error(
            `round ${round + 1} ${label(c)} ${server.name}: ${fmt(sample.rate)} msg/s (server cpu ${
              fmt(sample.cpu * 100)
            }%)${sample.gc ? ` ${sample.gc}` : ""}`,
          );
        }
      }
    }
  } finally {
    await Promise.all(running.map((server) => server.stop()));
  }
  console.log(
    `\nEcho throughput, median of ${rounds} rounds × ${seconds} s (client: ${
      clients[clientName].what
    }), server pinned to CPU 0, client to CPU 1\n`,
  );
  const rate = (s: Sample) => s.rate;
  const perCpu = (s: Sample) => s.rate / Math.max(s.cpu, 0.01);
  for (const c of cases) {
    console.log(`### ${label(c)}\n`);
    const ws = `ws|${c.size}`;
    const rows = servers.map((spec) => {
      const key = `${spec.name}|${c.size}`;
      const m = results.median(key, rate);
      const cpuRate = results.median(key, perCpu);
      return [
        spec.name,
        fmt(m),
        results.range(key, rate),
        fmt((m * c.size) / 1e6, 1),
        fmt(m / results.median(ws, rate), 2),
        `${fmt(results.median(key, (s) => s.cpu) * 100)}%`,
        fmt(cpuRate),
        fmt(cpuRate / results.median(ws, perCpu), 2),
      ];
    });
    console.log(table(
      [
        "server",
        "msg/s (median)",
        "min–max",
        "MB/s",
        "× ws",
        "server CPU",
        "msg per server CPU-s",
        "× ws per CPU",
      ],
      rows,
    ));
    console.log("");
  }
}

async function idleMemory() {
  console.log(
    `\nIdle memory, ${idleConnections} upgraded connections (server RSS delta / connections, after 5 s settle), then ${idleConnections} more\n`,
  );
  const rows: string[][] = [];
  const floors = args.includes("--no-floors")
    ? []
    : floorServers.filter((f) => servers.some((s) => s.cmd[0] === f.cmd[0]));
  for (const spec of [...servers, ...floors]) {
    const { before, after, second } = await serverRss(
      spec.name,
      spec.cmd,
      (port) => [
        node20,
        "bench/peers/client_idle.mjs",
        "--port",
        String(port),
        "--connections",
        String(idleConnections),
      ],
      /^READY/,
      5000,
      true,
    );
    rows.push([
      spec.name,
      fmt(before / 1024, 1),
      fmt(after / 1024, 1),
      fmt((after - before) / idleConnections, 1),
      fmt((second! - after) / idleConnections, 1),
    ]);
  }
  console.log(
    table([
      "server",
      "RSS before (MiB)",
      `RSS after ${idleConnections} (MiB)`,
      "KiB / connection",
      `KiB / connection, next ${idleConnections}`,
    ], rows),
  );
}

try {
  // Both measurements start the Node server from this bundle: build it from the
  // current source first, whichever of them runs.
  if (servers.some((s) => s.name.startsWith("engine-node"))) {
    bundleForNode("bench/peers/server_engine.ts", ".build/bench/server_engine.mjs");
  }
  if (servers.some((s) => s.name === "engine-node-before")) {
    bundleForNode(`${before}/bench/peers/server_engine.ts`, NODE_BEFORE_BUNDLE);
  }
  if (!args.includes("--no-throughput")) {
    const missing = clientName === "go" && goMissing();
    if (missing) console.log(`Echo throughput with --client go skipped: ${missing}.`);
    else await throughput(clients[clientName].cmd());
  }
  if (idleConnections > 0) await idleMemory();
} finally {
  await stopAll();
  if (gcDir) rmSync(gcDir, { recursive: true, force: true });
}
