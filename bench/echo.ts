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
 * separate process, server RSS delta / N after a settle.
 *
 * Usage: `deno run -A bench/echo.ts [--rounds 3] [--seconds 3]
 *   [--servers ws,bun-native,...] [--cases 20,1024,16384,65536,16777216] [--idle 5000] [--no-throughput]`
 *
 * @module
 */
import {
  bin,
  bundleForNode,
  cpuTicks,
  fmt,
  median,
  node20,
  option,
  root,
  rssKiB,
} from "./_harness.ts";

const args = Deno.args;
const opt = (name: string, fallback: string) => option(args, name, fallback);
const rounds = Number(opt("rounds", "3"));
const seconds = Number(opt("seconds", "3"));
const idleConnections = Number(opt("idle", "5000"));
const clientCmd = opt("client", "ws");

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
];
const wanted = opt("servers", allServers.map((s) => s.name).join(",")).split(",");
const servers = allServers.filter((s) => wanted.includes(s.name));

interface Case {
  size: number;
  connections: number;
  window: number;
}
const caseTable: Record<number, Case> = {
  20: { size: 20, connections: 10, window: 16 },
  1024: { size: 1024, connections: 10, window: 16 },
  16384: { size: 16384, connections: 200, window: 1 },
  65536: { size: 65536, connections: 4, window: 4 },
  16777216: { size: 16777216, connections: 1, window: 1 },
};
const cases = opt("cases", "20,1024,16384,65536,16777216").split(",").map((s) =>
  caseTable[Number(s)]
);

interface Running {
  spec: ServerSpec;
  child: Deno.ChildProcess;
  port: number;
}

async function start(spec: ServerSpec): Promise<Running> {
  const child = new Deno.Command("taskset", {
    args: ["-c", "0", ...spec.cmd],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const end = Date.now() + 20_000;
  while (!/PORT (\d+)/.test(text)) {
    if (Date.now() > end) throw new Error(`${spec.name} did not print its port`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`${spec.name} exited before listening`);
    text += value;
  }
  // Keep draining stdout so the server never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* closed */ }
  })();
  return { spec, child, port: Number(/PORT (\d+)/.exec(text)![1]) };
}

async function stopServer(server: Running) {
  try {
    server.child.kill("SIGKILL");
  } catch { /* gone */ }
  await server.child.status;
}

/**
 * Runs the load client; the server's CPU time is sampled when the client
 * starts counting ("COUNTING" on stdout) and when it prints its result, so
 * the CPU share covers exactly the measured window.
 */
async function runClient(
  port: number,
  pid: number,
  c: Case,
): Promise<{ rate: number; cpu: number }> {
  const clientArgs = [
    "--url",
    `ws://127.0.0.1:${port}/`,
    "--size",
    String(c.size),
    "--window",
    String(c.window),
    "--connections",
    String(c.connections),
    "--seconds",
    String(seconds),
    "--warmup",
    "1",
  ];
  const cmd = clientCmd === "engine"
    ? [bin("bun"), "bench/peers/client_engine.ts", ...clientArgs]
    : [node20, "bench/peers/client_ws.mjs", ...clientArgs];
  const child = new Deno.Command("taskset", {
    args: ["-c", "1", ...cmd],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let startTicks = 0;
  let startTime = 0;
  let endTicks = 0;
  let endTime = 0;
  for (;;) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
    if (!startTime && text.includes("COUNTING")) {
      startTicks = cpuTicks(pid);
      startTime = performance.now();
    }
    if (!endTime && text.includes("{")) {
      endTicks = cpuTicks(pid);
      endTime = performance.now();
    }
  }
  const status = await child.status;
  if (!status.success || !endTime) throw new Error(`client failed: ${await stderr}`);
  const result = JSON.parse(text.slice(text.indexOf("{")).split("\n")[0]);
  const cpu = (endTicks - startTicks) / 100 / ((endTime - startTime) / 1000);
  return { rate: result.messages / result.seconds, cpu };
}

const label = (c: Case) =>
  `${
    c.size >= 1 << 20
      ? `${c.size >> 20} MiB`
      : c.size >= 1024
      ? `${c.size >> 10} KiB`
      : `${c.size} B`
  } ×${c.connections}c×${c.window}w`;

function bundleNodeServer() {
  return bundleForNode("bench/peers/server_engine.ts", ".build/bench/server_engine.mjs");
}

async function throughput() {
  if (servers.some((s) => s.name === "engine-node")) await bundleNodeServer();
  const running: Running[] = [];
  for (const spec of servers) running.push(await start(spec));
  const results = new Map<string, { rates: number[]; cpus: number[] }>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        for (let i = 0; i < running.length; i++) {
          const server = running[(i + round) % running.length];
          const pid = server.child.pid;
          const { rate, cpu } = await runClient(server.port, pid, c);
          const key = `${server.spec.name}|${c.size}`;
          const entry = results.get(key) ?? { rates: [], cpus: [] };
          entry.rates.push(rate);
          entry.cpus.push(cpu);
          results.set(key, entry);
          console.error(
            `round ${round + 1} ${label(c)} ${server.spec.name}: ${fmt(rate)} msg/s (server cpu ${
              fmt(cpu * 100)
            }%)`,
          );
        }
      }
    }
  } finally {
    for (const server of running) await stopServer(server);
  }
  console.log(
    `\nEcho throughput, median of ${rounds} rounds × ${seconds} s (client: ${
      clientCmd === "engine" ? "our engine client on Bun" : "ws 8 + bufferutil on Node 20"
    }), server pinned to CPU 0, client to CPU 1\n`,
  );
  for (const c of cases) {
    console.log(`### ${label(c)}\n`);
    console.log(
      "| server | msg/s (median) | min–max | MB/s | × ws | server CPU | msg per server CPU-s | × ws per CPU |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
    const perCpu = (entry: { rates: number[]; cpus: number[] }) =>
      median(entry.rates.map((rate, i) => rate / Math.max(entry.cpus[i], 0.01)));
    const ws = results.get(`ws|${c.size}`);
    const wsMedian = ws ? median(ws.rates) : NaN;
    const wsPerCpu = ws ? perCpu(ws) : NaN;
    for (const spec of servers) {
      const entry = results.get(`${spec.name}|${c.size}`)!;
      const m = median(entry.rates);
      const cpuRate = perCpu(entry);
      const range = `${fmt(Math.min(...entry.rates))}–${fmt(Math.max(...entry.rates))}`;
      console.log(
        `| ${spec.name} | ${fmt(m)} | ${range} | ${fmt((m * c.size) / 1e6, 1)} | ${
          fmt(m / wsMedian, 2)
        } | ` +
          `${fmt(median(entry.cpus) * 100)}% | ${fmt(cpuRate)} | ${fmt(cpuRate / wsPerCpu, 2)} |`,
      );
    }
    console.log("");
  }
}

async function idleMemory() {
  console.log(
    `\nIdle memory, ${idleConnections} upgraded connections (server RSS delta / connections, after 5 s settle)\n`,
  );
  console.log("| server | RSS before (MiB) | RSS after (MiB) | KiB / connection |");
  console.log("|---|---:|---:|---:|");
  for (const spec of servers) {
    const server = await start(spec);
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const before = rssKiB(server.child.pid);
      const client = new Deno.Command("taskset", {
        args: [
          "-c",
          "1",
          node20,
          "bench/peers/client_idle.mjs",
          "--port",
          String(server.port),
          "--connections",
          String(idleConnections),
        ],
        cwd: root,
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("READY")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`idle client failed against ${spec.name}`);
        text += value;
      }
      await new Promise((r) => setTimeout(r, 5000));
      const after = rssKiB(server.child.pid);
      client.kill("SIGKILL");
      await client.status;
      console.log(
        `| ${spec.name} | ${fmt(before / 1024, 1)} | ${fmt(after / 1024, 1)} | ${
          fmt((after - before) / idleConnections, 1)
        } |`,
      );
    } finally {
      await stopServer(server);
    }
  }
}

if (!args.includes("--no-throughput")) await throughput();
if (idleConnections > 0) await idleMemory();
