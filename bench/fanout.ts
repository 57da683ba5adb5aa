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
import { Lines } from "../scripts/_util/lines.ts";
import { killChildren, trackChild } from "../scripts/_util/children.ts";
import { bin, bundleForNode, cpuTicks, fmt, median, node20, option, root } from "./_harness.ts";

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

let fdLimit = 0;

/** `cmd` pinned to `cpu` (with the raised descriptor limit); the pid is the command's own (exec). */
function spawn(cpu: string, cmd: string[], stdout: "piped" | "null" = "piped"): Deno.ChildProcess {
  const script = `ulimit -n ${fdLimit} 2>/dev/null; exec taskset -c ${cpu} "$@"`;
  const child = new Deno.Command("sh", {
    args: ["-c", script, "sh", ...cmd],
    cwd: root,
    stdin: "null",
    stdout,
    stderr: "inherit",
  }).spawn();
  trackChild(child);
  return child;
}

async function stop(child: Deno.ChildProcess, graceful = false) {
  if (graceful) {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    await child.status;
    clearTimeout(timer);
    return;
  }
  try {
    child.kill("SIGKILL");
  } catch { /* gone */ }
  await child.status;
}

interface Server {
  name: string;
  child: Deno.ChildProcess;
  port: number;
}

async function startServer(name: string, cpu: string, cmd: string[]): Promise<Server> {
  const child = spawn(cpu, cmd);
  const lines = new Lines(child.stdout);
  const match = await lines.until(/^PORT (\d+)/, 30_000, name);
  lines.drain();
  return { name, child, port: Number(match[1]) };
}

/** utime + stime of every thread of the process, in seconds. */
function cpuSeconds(pid: number): number {
  return cpuTicks(pid) / 100;
}

async function shell(command: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", command] }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

function bundle(entry: string, outfile: string) {
  return bundleForNode(entry, outfile, ["--packages=external", "--sourcemap"]);
}

// ── formatting ───────────────────────────────────────────────────────────

const sizeLabel = (size: number) => size >= 1024 ? `${size / 1024} KiB` : `${size} B`;

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
const localResults = new Map<string, Sample[]>();

async function runLocalClient(server: Server, n: number) {
  const client = spawn("1", [
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
  ]);
  const lines = new Lines(client.stdout);
  const what = `client of ${server.name} (${n} subscribers)`;
  const pid = server.child.pid;
  try {
    await lines.until(/^CONNECTED/, 60_000 + n * 10, what);
    for (let k = 0; k < sizes.length; k++) {
      await lines.until(/^COUNTING/, 60_000, what);
      const cpu0 = cpuSeconds(pid);
      const clientCpu0 = cpuSeconds(client.pid);
      const t0 = performance.now();
      const result = JSON.parse((await lines.until(/^RESULT (.*)/, 60_000, what))[1]);
      const cpu = cpuSeconds(pid) - cpu0;
      const clientCpu = cpuSeconds(client.pid) - clientCpu0;
      const wall = (performance.now() - t0) / 1000;
      await lines.until(/^DRAINED/, 90_000, what);
      const sample = {
        rate: result.messages / result.seconds,
        cpu: cpu / wall,
        clientCpu: clientCpu / wall,
        nsPerMessage: (cpu / Math.max(result.messages, 1)) * 1e9,
      };
      const key = `${server.name}|${n}|${result.size}`;
      localResults.set(key, [...(localResults.get(key) ?? []), sample]);
      console.error(
        `  ${server.name} ${n} subs ${sizeLabel(result.size)}: ${fmt(sample.rate)} msg/s, ` +
          `server cpu ${fmt(sample.cpu * 100)}%, client ${fmt(sample.clientCpu * 100)}%, ` +
          `${fmt(sample.nsPerMessage)} ns/msg`,
      );
    }
    await lines.until(/^DONE/, 60_000, what);
    const status = await client.status;
    if (!status.success) throw new Error(`${what} exited with ${status.code}`);
  } finally {
    await stop(client);
  }
}

async function local() {
  if (servers.some((s) => s.name === "engine-node")) {
    await bundle("bench/peers/fanout_server.ts", nodeBundle);
  }
  const running: Server[] = [];
  try {
    for (const spec of servers) running.push(await startServer(spec.name, "0", spec.cmd));
    for (let round = 0; round < rounds; round++) {
      for (const n of subscriberCounts) {
        console.error(`round ${round + 1}/${rounds}, ${n} subscribers, window ${windowFor(n)}`);
        for (let i = 0; i < running.length; i++) {
          await runLocalClient(running[(i + round) % running.length], n);
        }
      }
    }
  } finally {
    for (const server of running) await stop(server.child);
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
  for (const n of subscriberCounts) {
    for (const size of sizes) {
      console.log(`#### ${fmt(n)} subscribers, ${sizeLabel(size)}\n`);
      console.log(
        "| server | delivered msg/s | min–max | server CPU | client CPU | CPU ns/msg | peer | × peer msg/s | × peer msg/CPU-s |",
      );
      console.log("|---|---:|---:|---:|---:|---:|---|---:|---:|");
      for (const spec of servers) {
        const samples = localResults.get(`${spec.name}|${n}|${size}`) ?? [];
        if (samples.length === 0) continue;
        const rates = samples.map((s) => s.rate);
        const ns = median(samples.map((s) => s.nsPerMessage));
        const peer = localResults.get(`${spec.peer}|${n}|${size}`) ?? [];
        const peerRate = peer.length ? median(peer.map((s) => s.rate)) : NaN;
        const peerNs = peer.length ? median(peer.map((s) => s.nsPerMessage)) : NaN;
        console.log(
          `| ${spec.name} | ${fmt(median(rates))} | ${fmt(Math.min(...rates))}–${
            fmt(Math.max(...rates))
          } | ${fmt(median(samples.map((s) => s.cpu)) * 100)}% | ${
            fmt(median(samples.map((s) => s.clientCpu)) * 100)
          }% | ${fmt(ns)} | ${spec.peer} | ${fmt(median(rates) / peerRate, 2)} | ${
            fmt(peerNs / ns, 2)
          } |`,
        );
      }
      console.log("");
    }
  }
  const targets: [string, string, number][] = [
    ["engine-node", "ws", 2],
    ["engine-bun", "bun-native", 0.5],
    ["bun-handler", "bun-native", 1],
  ];
  console.log("#### Targets\n");
  console.log("| ratio | target | N | size | msg/s | msg/CPU-s |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [ours, peer, target] of targets) {
    for (const n of subscriberCounts) {
      for (const size of sizes) {
        const a = localResults.get(`${ours}|${n}|${size}`);
        const b = localResults.get(`${peer}|${n}|${size}`);
        if (!a || !b) continue;
        const rate = median(a.map((s) => s.rate)) / median(b.map((s) => s.rate));
        const perCpu = median(b.map((s) => s.nsPerMessage)) / median(a.map((s) => s.nsPerMessage));
        const mark = (x: number) => `${fmt(x, 2)} ${x >= target ? "✓" : "✗"}`;
        console.log(
          `| ${ours} ÷ ${peer} | ≥ ${target} | ${fmt(n)} | ${sizeLabel(size)} | ${mark(rate)} | ${
            mark(perCpu)
          } |`,
        );
      }
    }
  }
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
const redisResults = new Map<string, RedisSample[]>();

async function startRedis(): Promise<{ child: Deno.ChildProcess; url: string }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = spawn("1", [
    "/usr/bin/redis-server",
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ], "null");
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(16);
      const n = await conn.read(buffer);
      conn.close();
      if (n && new TextDecoder().decode(buffer.subarray(0, n)).startsWith("+PONG")) break;
    } catch { /* not up yet */ }
    if (Date.now() > end) throw new Error("redis-server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: `redis://127.0.0.1:${port}` };
}

async function redisCell(
  system: string,
  processes: number,
  redis: { child: Deno.ChildProcess; url: string },
) {
  const cmd = system === "ours"
    ? [node20, ".build/bench/fanout_redis_server.mjs", "--redis", redis.url]
    : [node20, "bench/peers/fanout_redis_server_sio.mjs", "--redis", redis.url];
  const started: Server[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      started.push(await startServer(`${system}-${i}`, "0", cmd));
    }
    const client = spawn("1", [
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
    ]);
    try {
      const lines = new Lines(client.stdout);
      const what = `${system} client (${processes} processes)`;
      const pids = [...started.map((s) => s.child.pid)];
      const sample = () => ({
        servers: pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
        redis: cpuSeconds(redis.child.pid),
        client: cpuSeconds(client.pid),
        time: performance.now(),
      });
      await lines.until(/^COUNTING/, 120_000, what);
      const a = sample();
      await lines.until(/^WINDOW_END/, 60_000, what);
      const b = sample();
      const result = JSON.parse((await lines.until(/^RESULT (.*)/, 60_000, what))[1]);
      const wall = (b.time - a.time) / 1000;
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
      const key = `${system}|${processes}`;
      redisResults.set(key, [...(redisResults.get(key) ?? []), s]);
      console.error(
        `  ${system} ×${processes}: ${fmt(s.delivered)} msg/s, p50 ${fmt(s.p50, 2)} ms, p99 ${
          fmt(s.p99, 2)
        } ms, lost ${s.expected - s.received}, servers ${fmt(s.serverCpu * 100)}% cpu, ${
          fmt(s.nsPerMessage)
        } ns/msg`,
      );
      const status = await client.status;
      if (!status.success) throw new Error(`${what} exited with ${status.code}`);
    } finally {
      await stop(client);
    }
  } finally {
    for (const server of started) await stop(server.child);
  }
}

async function redisPart() {
  await bundle("bench/peers/fanout_redis_server.ts", ".build/bench/fanout_redis_server.mjs");
  const redis = await startRedis();
  try {
    for (let round = 0; round < redisRounds; round++) {
      for (const processes of processCounts) {
        console.error(`redis round ${round + 1}/${redisRounds}, ${processes} processes`);
        const systems = round % 2 ? ["sio", "ours"] : ["ours", "sio"];
        for (const system of systems) await redisCell(system, processes, redis);
      }
    }
  } finally {
    await stop(redis.child);
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
  console.log(
    "| system | processes | delivered msg/s | expected msg/s | p50 ms | p99 ms | p99.9 ms | lost | servers CPU | CPU ns/msg | × socket.io msg/CPU-s | redis CPU | client CPU |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const processes of processCounts) {
    for (const system of ["ours", "sio"]) {
      const samples = redisResults.get(`${system}|${processes}`) ?? [];
      if (samples.length === 0) continue;
      const m = (pick: (s: RedisSample) => number) => median(samples.map(pick));
      const sio = redisResults.get(`sio|${processes}`) ?? [];
      const sioNs = sio.length ? median(sio.map((s) => s.nsPerMessage)) : NaN;
      const lost = samples.reduce((sum, s) => sum + (s.expected - s.received), 0);
      const name = system === "ours"
        ? "ours (TopicHub + RedisBackplane)"
        : "socket.io + redis-adapter";
      console.log(
        `| ${name} | ${processes} | ${fmt(m((s) => s.delivered))} | ${
          fmt(rate * perProcess * processes)
        } | ${fmt(m((s) => s.p50), 2)} | ${fmt(m((s) => s.p99), 2)} | ${
          fmt(m((s) => s.p999), 2)
        } | ${lost} | ${fmt(m((s) => s.serverCpu) * 100)}% | ${fmt(m((s) => s.nsPerMessage))} | ${
          fmt(sioNs / m((s) => s.nsPerMessage), 2)
        } | ${fmt(m((s) => s.redisCpu) * 100)}% | ${fmt(m((s) => s.clientCpu) * 100)}% |`,
      );
    }
  }
  console.log("");
}

// ── main ─────────────────────────────────────────────────────────────────

async function raiseFdLimit() {
  const soft = Number(await shell("ulimit -n"));
  const hardText = await shell("ulimit -Hn");
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
  await raiseFdLimit();
  if (cpuProfDir) await Deno.mkdir(cpuProfDir, { recursive: true });
  const started = performance.now();
  console.log(
    `\n## Fan-out (${await shell("nproc")} cores, ${await shell(
      "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2",
    )}; load average at start: ${await shell("cut -d' ' -f1-3 /proc/loadavg")})\n`,
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
  killChildren();
}
