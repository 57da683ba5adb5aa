/**
 * Fan-out benchmark: one publish delivered to many subscribers.
 *
 * Part 1, one process (`local`): one server process (pinned to CPU 0) with
 * N subscriber connections from one lean load client (raw TCP, a minimal frame
 * counter; pinned to CPU 1). The server publishes itself: a window of
 * messages, then one more each time the client reports a message delivered to
 * every subscriber, so nothing buffers without bound and every subscriber is
 * checked to get every message. Servers: our `serve()` + `TopicHub` on Node 20,
 * Deno and Bun, our `createBunHandler` + `TopicHub` (Bun's native topics), the
 * `ws` README broadcast loop over `wss.clients` on Node 20, and Bun's own
 * `server.publish`. Reported: delivered messages/s and the server's CPU time
 * per delivered message (from `/proc/<pid>/stat`, all threads, over the
 * counted window), with ratios to the peer measured in the same run.
 *
 * Part 2, several processes through Redis (`redis`): 2 and 3 Node server
 * processes sharing one `redis-server` (started here on a free loopback port,
 * stopped at the end), subscribers spread over them, one publisher per process
 * at a fixed total rate; ours (`TopicHub` + `RedisBackplane`) beside socket.io
 * with `@socket.io/redis-adapter` doing the same room broadcast. Reported:
 * delivered messages/s, publish-to-delivery latency (the payload carries its
 * send time), losses, and CPU per delivered message of the servers.
 *
 * Method: interleaved rounds
 * (each round visits the servers in a rotated order), medians, ratios to peers
 * of the same run. A server far below 100 % CPU means the client or the
 * machine was the limit: then compare the CPU-per-message columns.
 *
 * Usage: `deno run -A bench/fanout.ts [--quick] [--only local,redis]
 *   [--rounds 3] [--subscribers 1000,10000] [--sizes 20,1024] [--seconds 2]
 *   [--warmup 1] [--window auto] [--burst 0] [--servers engine-node,ws,...] [--client bun|node]
 *   [--processes 2,3] [--rate 2000] [--per-process 5] [--redis-seconds 4]
 *   [--cpu-prof DIR]`
 * (`--burst k`: the servers publish at most k messages per event-loop turn,
 * so consecutive publishes cannot share a socket write; `--cpu-prof DIR`:
 * the Node engine server records a V8 CPU profile of each publishing phase
 * (from "go" to "stop", connection setup left out) into DIR, and the top
 * self-time functions of each case are printed, mapped to source lines).
 *
 * @module
 */
import { summarizeProfile } from "./peers/fanout_profile.ts";
import { type RedisServer, startRedisServer } from "../test/_util/redis_server.ts";
import {
  bin,
  bundleForNode,
  cpuSeconds,
  fmt,
  node20,
  option,
  root,
  rotated,
  runText,
  Samples,
  sizeLabel,
  table,
} from "./_harness.ts";
import { countedWindow, Process, type Server, startServer, stopAll } from "./_harness/processes.ts";

const args = Deno.args;
const quick = args.includes("--quick");
const opt = (name: string, fallback: string) => option(args, name, fallback);
const numbers = (text: string) => text.split(",").map(Number);
const rounds = Number(opt("rounds", quick ? "1" : "3"));
const subscriberCounts = numbers(opt("subscribers", quick ? "200" : "1000,10000"));
const sizes = numbers(opt("sizes", "20,1024"));
const seconds = Number(opt("seconds", quick ? "1" : "2"));
const warmup = Number(opt("warmup", quick ? "0.5" : "1"));
const windowOption = opt("window", "auto");
const burst = Number(opt("burst", "0"));
const clientRuntime = opt("client", "bun");
const only = opt("only", "local,redis").split(",");
const processCounts = numbers(opt("processes", "2,3"));
const rate = Number(opt("rate", "2000"));
const perProcess = Number(opt("per-process", "5"));
const redisSeconds = Number(opt("redis-seconds", quick ? "2" : "4"));
const redisRounds = Number(opt("redis-rounds", String(rounds)));
const cpuProfDir = opt("cpu-prof", "");

// ── processes ────────────────────────────────────────────────────────────

/** Open-file limit for every process started here (raised for N subscribers). */
let fdLimit = 0;

function shell(command: string): string {
  return runText(["sh", "-c", command]);
}

function bundle(entry: string, outfile: string) {
  bundleForNode(entry, outfile, ["--packages=external", "--sourcemap"]);
}

// ── part 1: one process ──────────────────────────────────────────────────

interface LocalSpec {
  name: string;
  what: string;
  /** The peer this server is compared with. */
  peer: string;
  cmd: string[];
}

const nodeBundle = ".build/bench/fanout_server.mjs";
const profiling = cpuProfDir ? ["--cpu-profile", cpuProfDir] : [];
const localSpecs: LocalSpec[] = [
  {
    name: "engine-node",
    what: "ours, `serve()` + `TopicHub`, Node 20",
    peer: "ws",
    cmd: [node20, nodeBundle, ...profiling],
  },
  {
    name: "engine-deno",
    what: "ours, `serve()` + `TopicHub`, Deno",
    peer: "ws",
    cmd: [bin("deno"), "run", "-A", "bench/peers/fanout_server.ts"],
  },
  {
    name: "engine-bun",
    what: "ours, `serve()` + `TopicHub`, Bun",
    peer: "bun-native",
    cmd: [bin("bun"), "bench/peers/fanout_server.ts"],
  },
  {
    name: "bun-handler",
    what: "ours, `createBunHandler` + `TopicHub` (native topics), Bun",
    peer: "bun-native",
    cmd: [bin("bun"), "bench/peers/fanout_server.ts", "--handler"],
  },
  {
    name: "ws",
    what: "`ws` README loop over `wss.clients`, Node 20",
    peer: "ws",
    cmd: [node20, "bench/peers/fanout_server_ws.mjs"],
  },
  {
    name: "bun-native",
    what: "`Bun.serve` + `server.publish`",
    peer: "bun-native",
    cmd: [bin("bun"), "bench/peers/fanout_server_bun_native.ts"],
  },
];
const wantedServers = opt("servers", localSpecs.map((s) => s.name).join(",")).split(",");
const unknownServers = wantedServers.filter((name) => !localSpecs.some((s) => s.name === name));
if (unknownServers.length > 0) throw new Error(`Unknown server(s): ${unknownServers.join(", ")}`);
const servers = localSpecs.filter((s) => wantedServers.includes(s.name));

/** Messages in flight: about 50,000 frames queued at most, between 4 and 64 messages. */
const windowFor = (n: number) =>
  windowOption === "auto" ? Math.min(64, Math.max(4, Math.ceil(50_000 / n))) : Number(windowOption);

interface Sample {
  rate: number;
  cpu: number;
  clientCpu: number;
  nsPerMessage: number;
}
const localResults = new Samples<Sample>();

async function runLocalClient(server: Server, n: number) {
  const what = `client of ${server.name} (${n} subscribers)`;
  const client = new Process(what, [
    clientRuntime === "node" ? node20 : bin("bun"),
    "bench/peers/fanout_client.mjs",
    "--port",
    String(server.port),
    "--connections",
    String(n),
    "--sizes",
    sizes.join(","),
    "--window",
    String(windowFor(n)),
    "--burst",
    String(burst),
    "--seconds",
    String(seconds),
    "--warmup",
    String(warmup),
  ], { cpu: 1, fdLimit });
  const lines = client.lines;
  try {
    await lines.until(/^CONNECTED/, 60_000 + n * 10, what);
    for (let k = 0; k < sizes.length; k++) {
      const window = await countedWindow(
        lines,
        what,
        () => ({ server: cpuSeconds(server.pid), client: cpuSeconds(client.pid) }),
        { end: /^RESULT (.*)/ },
      );
      const result = JSON.parse(window.match[1]);
      const cpu = window.after.server - window.before.server;
      await lines.until(/^DRAINED/, 90_000, what);
      const sample = {
        rate: result.messages / result.seconds,
        cpu: cpu / window.seconds,
        clientCpu: (window.after.client - window.before.client) / window.seconds,
        nsPerMessage: (cpu / Math.max(result.messages, 1)) * 1e9,
      };
      localResults.add(`${server.name}|${n}|${result.size}`, sample);
      console.error(
        `  ${server.name} ${n} subs ${sizeLabel(result.size)}: ${fmt(sample.rate)} msg/s, ` +
          `server cpu ${fmt(sample.cpu * 100)}%, client ${fmt(sample.clientCpu * 100)}%, ` +
          `${fmt(sample.nsPerMessage)} ns/msg`,
      );
    }
    await lines.until(/^DONE/, 60_000, what);
    await client.succeeded();
  } finally {
    await client.stop();
  }
}

async function local() {
  if (servers.some((s) => s.name === "engine-node")) {
    bundle("bench/peers/fanout_server.ts", nodeBundle);
  }
  const running: Server[] = [];
  try {
    for (const spec of servers) running.push(await startServer(spec.name, spec.cmd, { fdLimit }));
    for (let round = 0; round < rounds; round++) {
      for (const n of subscriberCounts) {
        console.error(`round ${round + 1}/${rounds}, ${n} subscribers, window ${windowFor(n)}`);
        for (const server of rotated(running, round)) await runLocalClient(server, n);
      }
    }
  } finally {
    await Promise.all(running.map((server) => server.stop()));
  }
  printLocal();
}

function printLocal() {
  console.log(
    `\n### One process: delivered messages/s, median of ${rounds} interleaved rounds × ${seconds} s\n`,
  );
  console.log(
    `Server pinned to CPU 0, load client (${
      clientRuntime === "node" ? "Node 20" : "Bun"
    }, raw TCP, counts frames) to CPU 1; the server publishes binary messages with a window of ` +
      `in-flight messages (50,000 / N, 4–64${
        burst > 0 ? `, at most ${burst} per event-loop turn` : ""
      }) and every subscriber is checked to get every message. ` +
      `"CPU ns/msg": server CPU time (all threads) per delivered message; "× peer": this server ÷ ` +
      `the peer (ws for Node and Deno, Bun's server.publish for Bun) in messages/s and in messages ` +
      `per CPU-second.\n`,
  );
  const rate = (s: Sample) => s.rate;
  const ns = (s: Sample) => s.nsPerMessage;
  for (const n of subscriberCounts) {
    for (const size of sizes) {
      console.log(`#### ${fmt(n)} subscribers, ${sizeLabel(size)}\n`);
      const rows = servers.filter((spec) => localResults.of(`${spec.name}|${n}|${size}`).length)
        .map((spec) => {
          const key = `${spec.name}|${n}|${size}`;
          const peer = `${spec.peer}|${n}|${size}`;
          return [
            spec.name,
            fmt(localResults.median(key, rate)),
            localResults.range(key, rate),
            `${fmt(localResults.median(key, (s) => s.cpu) * 100)}%`,
            `${fmt(localResults.median(key, (s) => s.clientCpu) * 100)}%`,
            fmt(localResults.median(key, ns)),
            spec.peer,
            fmt(localResults.median(key, rate) / localResults.median(peer, rate), 2),
            fmt(localResults.median(peer, ns) / localResults.median(key, ns), 2),
          ];
        });
      console.log(table(
        [
          "server",
          "delivered msg/s",
          "min–max",
          "server CPU",
          "client CPU",
          "CPU ns/msg",
          "peer",
          "× peer msg/s",
          "× peer msg/CPU-s",
        ],
        rows,
        "lrrrrrlrr",
      ));
      console.log("");
    }
  }
  const targets: [string, string, number][] = [
    ["engine-node", "ws", 2],
    ["engine-bun", "bun-native", 0.5],
    ["bun-handler", "bun-native", 1],
  ];
  const rows: string[][] = [];
  for (const [ours, peer, target] of targets) {
    for (const n of subscriberCounts) {
      for (const size of sizes) {
        const a = `${ours}|${n}|${size}`;
        const b = `${peer}|${n}|${size}`;
        if (!localResults.of(a).length || !localResults.of(b).length) continue;
        const mark = (x: number) => `${fmt(x, 2)} ${x >= target ? "✓" : "✗"}`;
        rows.push([
          `${ours} ÷ ${peer}`,
          `≥ ${target}`,
          fmt(n),
          sizeLabel(size),
          mark(localResults.median(a, rate) / localResults.median(b, rate)),
          mark(localResults.median(b, ns) / localResults.median(a, ns)),
        ]);
      }
    }
  }
  console.log("#### Targets\n");
  console.log(table(["ratio", "target", "N", "size", "msg/s", "msg/CPU-s"], rows));
  console.log("");
}

// ── part 2: processes through Redis ──────────────────────────────────────

interface RedisSample {
  delivered: number;
  expected: number;
  received: number;
  p50: number;
  p99: number;
  p999: number;
  serverCpu: number;
  nsPerMessage: number;
  redisCpu: number;
  clientCpu: number;
}
const redisResults = new Samples<RedisSample>();

async function redisCell(system: string, processes: number, redis: RedisServer) {
  const cmd = system === "ours"
    ? [node20, ".build/bench/fanout_redis_server.mjs", "--redis", redis.url]
    : [node20, "bench/peers/fanout_redis_server_sio.mjs", "--redis", redis.url];
  const started: Server[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      started.push(await startServer(`${system}-${i}`, cmd, { fdLimit }));
    }
    const what = `${system} client (${processes} processes)`;
    const client = new Process(what, [
      node20,
      "bench/peers/fanout_redis_client.mjs",
      "--system",
      system,
      "--ports",
      started.map((s) => s.port).join(","),
      "--subscribers",
      String(perProcess),
      "--rate",
      String(rate),
      "--seconds",
      String(redisSeconds),
      "--warmup",
      String(warmup),
    ], { cpu: 1, fdLimit });
    try {
      const window = await countedWindow(client.lines, what, () => ({
        servers: started.reduce((sum, server) => sum + cpuSeconds(server.pid), 0),
        redis: cpuSeconds(redis.pid),
        client: cpuSeconds(client.pid),
      }), { end: /^WINDOW_END/, ms: 120_000 });
      const result = JSON.parse((await client.lines.until(/^RESULT (.*)/, 60_000, what))[1]);
      const { before: a, after: b, seconds: wall } = window;
      const s: RedisSample = {
        delivered: result.delivered / result.seconds,
        expected: result.expected,
        received: result.received,
        p50: result.p50,
        p99: result.p99,
        p999: result.p999,
        serverCpu: (b.servers - a.servers) / wall,
        nsPerMessage: ((b.servers - a.servers) / Math.max(result.delivered, 1)) * 1e9,
        redisCpu: (b.redis - a.redis) / wall,
        clientCpu: (b.client - a.client) / wall,
      };
      redisResults.add(`${system}|${processes}`, s);
      console.error(
        `  ${system} ×${processes}: ${fmt(s.delivered)} msg/s, p50 ${fmt(s.p50, 2)} ms, p99 ${
          fmt(s.p99, 2)
        } ms, lost ${s.expected - s.received}, servers ${fmt(s.serverCpu * 100)}% cpu, ${
          fmt(s.nsPerMessage)
        } ns/msg`,
      );
      await client.succeeded();
    } finally {
      await client.stop();
    }
  } finally {
    await Promise.all(started.map((server) => server.stop()));
  }
}

async function redisPart() {
  bundle("bench/peers/fanout_redis_server.ts", ".build/bench/fanout_redis_server.mjs");
  const redis = await startRedisServer({ cpu: "1" });
  try {
    for (let round = 0; round < redisRounds; round++) {
      for (const processes of processCounts) {
        console.error(`redis round ${round + 1}/${redisRounds}, ${processes} processes`);
        for (const system of rotated(["ours", "sio"], round)) {
          await redisCell(system, processes, redis);
        }
      }
    }
  } finally {
    await redis.stop();
  }
  printRedis();
}

function printRedis() {
  console.log(
    `\n### Processes through one Redis: median of ${redisRounds} interleaved rounds × ${redisSeconds} s\n`,
  );
  console.log(
    `${fmt(rate)} publishes/s in total (one publisher per process, taking turns), ${perProcess} ` +
      `subscribers per process, 100 B text messages carrying their send time; all clients in one ` +
      `Node 20 process (ours: \`ws\` client; socket.io: socket.io-client, websocket transport), so ` +
      `send and receive times share a clock. Servers on CPU 0 (sharing it), redis-server and the ` +
      `client on CPU 1: with 2 cores the pinning is approximate. "lost": messages sent in the ` +
      `window that some subscriber never got. "CPU ns/msg": CPU of all server processes per ` +
      `delivered message.\n`,
  );
  const rows: string[][] = [];
  for (const processes of processCounts) {
    for (const system of ["ours", "sio"]) {
      const key = `${system}|${processes}`;
      const samples = redisResults.of(key);
      if (samples.length === 0) continue;
      const m = (pick: (s: RedisSample) => number) => redisResults.median(key, pick);
      const sioNs = redisResults.median(`sio|${processes}`, (s) => s.nsPerMessage);
      const lost = samples.reduce((sum, s) => sum + (s.expected - s.received), 0);
      rows.push([
        system === "ours" ? "ours (TopicHub + RedisBackplane)" : "socket.io + redis-adapter",
        String(processes),
        fmt(m((s) => s.delivered)),
        fmt(rate * perProcess * processes),
        fmt(m((s) => s.p50), 2),
        fmt(m((s) => s.p99), 2),
        fmt(m((s) => s.p999), 2),
        String(lost),
        `${fmt(m((s) => s.serverCpu) * 100)}%`,
        fmt(m((s) => s.nsPerMessage)),
        fmt(sioNs / m((s) => s.nsPerMessage), 2),
        `${fmt(m((s) => s.redisCpu) * 100)}%`,
        `${fmt(m((s) => s.clientCpu) * 100)}%`,
      ]);
    }
  }
  console.log(table(
    [
      "system",
      "processes",
      "delivered msg/s",
      "expected msg/s",
      "p50 ms",
      "p99 ms",
      "p99.9 ms",
      "lost",
      "servers CPU",
      "CPU ns/msg",
      "× socket.io msg/CPU-s",
      "redis CPU",
      "client CPU",
    ],
    rows,
  ));
  console.log("");
}

// ── main ─────────────────────────────────────────────────────────────────

function raiseFdLimit() {
  const soft = Number(shell("ulimit -n"));
  const hardText = shell("ulimit -Hn");
  const hard = hardText === "unlimited" ? Infinity : Number(hardText);
  const needed = Math.max(...subscriberCounts) + 256;
  if (hard < needed) {
    throw new Error(
      `${needed} file descriptors needed (${Math.max(...subscriberCounts)} subscribers), but the ` +
        `hard limit is ${hard}: raise it (ulimit -Hn as root, or limits.conf) or lower --subscribers`,
    );
  }
  fdLimit = Math.max(soft, needed);
}

try {
  raiseFdLimit();
  if (cpuProfDir) await Deno.mkdir(cpuProfDir, { recursive: true });
  const started = performance.now();
  console.log(
    `\n## Fan-out (${shell("nproc")} cores, ${
      shell(
        "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2",
      )
    }; load average at start: ${shell("cut -d' ' -f1-3 /proc/loadavg")})\n`,
  );
  if (only.includes("local")) await local();
  if (only.includes("redis")) await redisPart();
  if (cpuProfDir && only.includes("local") && servers.some((s) => s.name === "engine-node")) {
    for (const n of subscriberCounts) {
      for (const size of sizes) {
        console.log(
          `### CPU profile of engine-node, ${fmt(n)} subscribers, ${sizeLabel(size)} (self time)\n`,
        );
        console.log(
          await summarizeProfile(cpuProfDir, `${root}/${nodeBundle}.map`, 20, `n${n}-${size}b-`),
        );
      }
    }
  }
  console.error(`(fan-out benchmark done in ${fmt((performance.now() - started) / 1000)} s)`);
} finally {
  await stopAll();
}
