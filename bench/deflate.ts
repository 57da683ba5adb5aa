/**
 * permessage-deflate echo benchmark: our engine `serve()` with `compression`
 * on Node 20, Deno and Bun beside `ws` (Node 20) with `perMessageDeflate`,
 * all driven by the same client — `ws` 8 on Node 20 with `perMessageDeflate`
 * (bench/peers/client_ws.mjs) — in a separate process over loopback, in one
 * interleaved run.
 *
 * Cases: (a) 1 KiB JSON-like text (a pool of 64 distinct seeded messages,
 * bench/peers/json_payload.mjs), 10 connections × 16 in flight; (b) 64 KiB
 * JSON-like text, 4 connections × 4 in flight. Every echo is checked byte for
 * byte. Both sides use the same compression threshold (`--threshold`,
 * default 512 B, so 1 KiB messages are compressed by every sender).
 *
 * Method: server pinned to CPU 0, client to CPU 1; each
 * round visits the servers in a rotated order; medians of the rounds. Server
 * CPU is read from /proc over exactly the counted window, so "server CPU µs
 * per message" stays meaningful on a noisy machine. Wire bytes are the
 * client sockets' bytesWritten/bytesRead over the same window (frame headers
 * and masks included). "server waits for CPU" is the share of the window the
 * server's main thread was runnable but not running (/proc schedstat): on a
 * shared machine a single-threaded server (Deno, Bun) that shows low CPU with
 * a high wait is starved by other processes on CPU 0, not idle; zlib on Node's 4 pool
 * threads (`ws`; our codec only past 16 KiB) wins a bigger share of the same CPU. Memory: a fresh server per target, N connections that
 * each echoed one compressed 1 KiB message, server RSS delta / N after a settle.
 *
 * Usage: `deno run -A bench/deflate.ts [--quick] [--rounds 3] [--seconds 3]
 *   [--servers ws,ws-nct,engine-node,...] [--cases 1024,65536] [--threshold 512]
 *   [--connections 1000] [--no-throughput] [--no-memory] [--no-baseline]`
 *
 * @module
 */
import {
  bin,
  bundleForNode,
  cpuTicks,
  fmt,
  node20,
  option,
  root,
  rotated,
  runqueueWaitNs,
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

const args = Deno.args;
const quick = args.includes("--quick");
const opt = (name: string, fallback: string) => option(args, name, fallback);
const rounds = Number(opt("rounds", quick ? "1" : "3"));
const seconds = Number(opt("seconds", quick ? "1" : "3"));
const warmup = quick ? 0.5 : 1;
const threshold = Number(opt("threshold", "512"));
const memoryConnections = Number(opt("connections", quick ? "100" : "1000"));
const settleMs = quick ? 1000 : 3000;
const nodeBundle = ".build/bench/server_engine_deflate.mjs";

interface ServerSpec {
  name: string;
  settings: string;
  cmd: string[];
}
const t = ["--threshold", String(threshold)];
const allServers: ServerSpec[] = [
  {
    name: "ws",
    settings:
      "ws defaults: context takeover both ways, zlib defaults (level 6, memLevel 8, 15-bit windows), concurrencyLimit 10",
    cmd: [node20, "bench/peers/server_ws.mjs", "--deflate", ...t],
  },
  {
    name: "ws-nct",
    settings: "ws, serverNoContextTakeover + clientNoContextTakeover",
    cmd: [node20, "bench/peers/server_ws.mjs", "--deflate", "--no-context-takeover", ...t],
  },
  ...(["node", "deno", "bun"] as const).flatMap((runtime) => {
    const cmd = runtime === "node"
      ? [node20, nodeBundle]
      : runtime === "deno"
      ? [bin("deno"), "run", "-A", "bench/peers/server_engine.ts"]
      : [bin("bun"), "bench/peers/server_engine.ts"];
    return [
      {
        name: `engine-${runtime}`,
        settings:
          "compression { threshold }: the node:zlib codec the adapters supply, context takeover both ways",
        cmd: [...cmd, "--compression", ...t],
      },
      {
        name: `engine-${runtime}-stream`,
        settings:
          "compression { threshold, codec: null }: CompressionStream, a fresh stream per message (the response carries client_no_context_takeover)",
        cmd: [...cmd, "--compression", "--platform-codec", ...t],
      },
    ];
  }),
];
const wanted = opt("servers", allServers.map((s) => s.name).join(",")).split(",");
const servers = allServers.filter((s) => wanted.includes(s.name));

type Case = EchoLoad;
const caseTable: Record<number, Case> = {
  1024: { size: 1024, connections: 10, window: 16 },
  65536: { size: 65536, connections: 4, window: 4 },
};
const cases = opt("cases", "1024,65536").split(",").map((s) => caseTable[Number(s)]);
if (cases.some((c) => c === undefined)) throw new Error("--cases: only 1024 and 65536 exist");

interface Sample {
  rate: number;
  cpuShare: number;
  /** Share of the window the server's main thread was runnable but not running. */
  waitShare: number;
  clientCpuShare: number;
  cpuUsPerMessage: number;
  outPerMessage: number;
  inPerMessage: number;
  extensions: string;
}

async function runClient(server: Server, c: Case): Promise<Sample> {
  const pid = server.pid;
  const run = await runLoadClient(
    `${server.name} ${c.size} B client`,
    [
      node20,
      "bench/peers/client_ws.mjs",
      ...echoLoadArgs(server.port, c, seconds, warmup),
      "--json",
      "--deflate",
      "--threshold",
      String(threshold),
    ],
    (client) => ({ server: cpuTicks(pid), wait: runqueueWaitNs(pid), client: cpuTicks(client) }),
    (seconds + warmup) * 1000 + 60_000,
  );
  const result = run.result as typeof run.result & {
    deflate: number;
    wireOut: number;
    wireIn: number;
    extensions: string;
  };
  if (result.deflate !== c.connections) {
    throw new Error(
      `${server.name} ${c.size} B: only ${result.deflate}/${c.connections} connections agreed on deflate`,
    );
  }
  if (result.messages === 0) throw new Error(`${server.name} ${c.size} B: no echoes counted`);
  const cpuSeconds = (run.after.server - run.before.server) / 100;
  return {
    rate: result.messages / result.seconds,
    cpuShare: cpuSeconds / run.seconds,
    waitShare: (run.after.wait - run.before.wait) / 1e9 / run.seconds,
    clientCpuShare: (run.after.client - run.before.client) / 100 / run.seconds,
    cpuUsPerMessage: (cpuSeconds * 1e6) / result.messages,
    outPerMessage: result.wireOut / result.messages,
    inPerMessage: result.wireIn / result.messages,
    extensions: result.extensions,
  };
}

const label = (c: Case) => `${sizeLabel(c.size)} JSON text ×${c.connections}c×${c.window}w`;

async function throughput() {
  const running: Server[] = [];
  const results = new Samples<Sample>();
  try {
    for (const spec of servers) running.push(await startServer(spec.name, spec.cmd));
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        for (const server of rotated(running, round)) {
          const sample = await runClient(server, c);
          results.add(`${server.name}|${c.size}`, sample);
          console.error(
            `round ${round + 1} ${label(c)} ${server.name}: ${fmt(sample.rate)} msg/s, ` +
              `server cpu ${fmt(sample.cpuShare * 100)}% (waits for CPU ${
                fmt(sample.waitShare * 100)
              }%), client cpu ${fmt(sample.clientCpuShare * 100)}%, ` +
              `${fmt(sample.cpuUsPerMessage, 1)} µs/msg`,
          );
        }
      }
    }
  } finally {
    await Promise.all(running.map((server) => server.stop()));
  }
  console.log(
    `\n## Compressed echo, median of ${rounds} round(s) × ${seconds} s (threshold ${threshold} B on ` +
      `both sides; client: ws ${wsVersion()} + bufferutil on Node 20, perMessageDeflate ` +
      `{ threshold: ${threshold} }, offers client_max_window_bits); server on CPU 0, client on CPU 1\n`,
  );
  for (const c of cases) {
    console.log(`### ${label(c)}\n`);
    const ws = `ws|${c.size}`;
    const rows = servers.map((spec) => {
      const key = `${spec.name}|${c.size}`;
      const m = (f: (s: Sample) => number) => results.median(key, f);
      const rate = m((s) => s.rate);
      const cpu = m((s) => s.cpuUsPerMessage);
      const serverOut = m((s) => s.inPerMessage);
      return [
        spec.name,
        fmt(rate),
        results.range(key, (s) => s.rate),
        fmt(rate / results.median(ws, (s) => s.rate), 2),
        `${fmt(m((s) => s.cpuShare) * 100)}%`,
        `${fmt(m((s) => s.waitShare) * 100)}%`,
        `${fmt(m((s) => s.clientCpuShare) * 100)}%`,
        fmt(cpu, 1),
        fmt(cpu / results.median(ws, (s) => s.cpuUsPerMessage), 2),
        fmt(m((s) => s.outPerMessage)),
        fmt(serverOut),
        fmt(serverOut / c.size, 3),
        `\`${results.of(key)[0].extensions}\``,
      ];
    });
    console.log(table(
      [
        "server",
        "msg/s (median)",
        "min–max",
        "× ws",
        "server CPU",
        "server waits for CPU",
        "client CPU",
        "server CPU µs/msg",
        "× ws CPU/msg",
        "client→server B/msg",
        "server→client B/msg",
        "server ratio",
        "agreed extension",
      ],
      rows,
      "lrrrrrrrrrrrl",
    ));
    console.log("");
  }
}

/** Server RSS delta per connection for N held connections; `deflate`: the client offers it. */
async function rssPerConnection(spec: ServerSpec, deflate: boolean) {
  const { before, after, ready } = await serverRss(
    spec.name,
    spec.cmd,
    (port) => [
      node20,
      "bench/peers/client_ws.mjs",
      "--url",
      `ws://127.0.0.1:${port}/`,
      "--size",
      "1024",
      "--connections",
      String(memoryConnections),
      "--json",
      ...(deflate ? ["--deflate"] : []),
      "--threshold",
      String(threshold),
      "--hold",
    ],
    /^READY (\d+) deflate=(\d+)/,
    settleMs,
  );
  const [connected, agreed] = [Number(ready[1]), Number(ready[2])];
  if (connected !== memoryConnections || agreed !== (deflate ? memoryConnections : 0)) {
    throw new Error(`${spec.name}: ${connected} connections, ${agreed} with deflate`);
  }
  return { before, after, perConnection: (after - before) / memoryConnections };
}

async function memory() {
  const baseline = !args.includes("--no-baseline");
  console.log(
    `\n## Server RSS, ${memoryConnections} connections with permessage-deflate agreed, each after ` +
      `echoing one compressed 1 KiB JSON message (RSS delta / connections, ${
        settleMs / 1000
      } s settle, no forced GC)` +
      (baseline ? "; baseline: the same without the client offering deflate" : "") + "\n",
  );
  const rows: string[][] = [];
  let wsPerConnection = NaN;
  for (const spec of servers) {
    const { before, after, perConnection } = await rssPerConnection(spec, true);
    if (spec.name === "ws") wsPerConnection = perConnection;
    const row = [
      spec.name,
      fmt(before / 1024, 1),
      fmt(after / 1024, 1),
      fmt(perConnection, 1),
      fmt(perConnection / wsPerConnection, 2),
    ];
    if (baseline) {
      const plain = (await rssPerConnection(spec, false)).perConnection;
      row.push(fmt(plain, 1), fmt(perConnection - plain, 1));
    }
    rows.push(row);
  }
  console.log(table(
    [
      "server",
      "RSS before (MiB)",
      "RSS after (MiB)",
      "KiB / connection",
      "× ws",
      ...(baseline ? ["baseline KiB / connection", "added by deflate"] : []),
    ],
    rows,
  ));
}

function wsVersion(): string {
  return JSON.parse(Deno.readTextFileSync(`${root}/node_modules/ws/package.json`)).version;
}

let failed = false;
try {
  if (servers.some((s) => s.cmd.includes(nodeBundle))) {
    bundleForNode("bench/peers/server_engine.ts", nodeBundle);
  }
  console.log(
    `websocket-channel permessage-deflate benchmark — nproc ${navigator.hardwareConcurrency}, ` +
      `Deno ${Deno.version.deno}; command: deno run -A bench/deflate.ts ${args.join(" ")}`,
  );
  for (const spec of servers) console.log(`- ${spec.name}: ${spec.settings}`);
  if (!args.includes("--no-throughput")) await throughput();
  if (!args.includes("--no-memory") && memoryConnections > 0) await memory();
} catch (error) {
  failed = true;
  console.error(error instanceof Error ? error.message : error);
} finally {
  await stopAll();
}
Deno.exit(failed ? 1 : 0);
