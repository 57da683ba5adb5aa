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
  median,
  node20,
  option,
  root,
  rssKiB,
} from "./_harness.ts";

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

interface Case {
  size: number;
  connections: number;
  window: number;
}
const caseTable: Record<number, Case> = {
  1024: { size: 1024, connections: 10, window: 16 },
  65536: { size: 65536, connections: 4, window: 4 },
};
const cases = opt("cases", "1024,65536").split(",").map((s) => caseTable[Number(s)]);
if (cases.some((c) => c === undefined)) throw new Error("--cases: only 1024 and 65536 exist");

/** Every child we started and have not seen exit: killed on any way out. */
const children = new Set<Deno.ChildProcess>();

function spawn(cpu: number, cmd: string[], stderr: "inherit" | "piped"): Deno.ChildProcess {
  const child = new Deno.Command("taskset", {
    args: ["-c", String(cpu), ...cmd],
    cwd: root,
    stdout: "piped",
    stderr,
  }).spawn();
  children.add(child);
  child.status.finally(() => children.delete(child));
  return child;
}

async function kill(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
  await child.status;
}

async function killAll(): Promise<void> {
  await Promise.all([...children].map(kill));
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    killAll().finally(() => Deno.exit(130));
  });
}

/** Reads stdout until `pattern` matches or the deadline passes; keeps draining afterwards. */
async function waitFor(
  child: Deno.ChildProcess,
  pattern: RegExp,
  what: string,
  ms: number,
  onText?: (text: string) => void,
): Promise<string> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no ${pattern} within ${ms} ms`)), ms);
  });
  try {
    while (!pattern.test(text)) {
      const { value, done } = await Promise.race([reader.read(), deadline]);
      if (done) throw new Error(`${what} exited before ${pattern}: ${text.slice(-300)}`);
      text += value;
      onText?.(text);
    }
  } finally {
    clearTimeout(timer);
  }
  (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* closed */ }
  })();
  return text;
}

interface Running {
  spec: ServerSpec;
  child: Deno.ChildProcess;
  port: number;
}

async function start(spec: ServerSpec): Promise<Running> {
  const child = spawn(0, spec.cmd, "inherit");
  const text = await waitFor(child, /PORT (\d+)/, spec.name, 20_000);
  return { spec, child, port: Number(/PORT (\d+)/.exec(text)![1]) };
}

/** Nanoseconds the main thread spent waiting on a run queue (field 2 of schedstat). */
function runqueueWaitNs(pid: number): number {
  try {
    return Number(Deno.readTextFileSync(`/proc/${pid}/task/${pid}/schedstat`).split(" ")[1]);
  } catch {
    return NaN; // kernel without schedstats
  }
}

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

async function runClient(server: Running, c: Case): Promise<Sample> {
  const child = spawn(1, [
    node20,
    "bench/peers/client_ws.mjs",
    "--url",
    `ws://127.0.0.1:${server.port}/`,
    "--size",
    String(c.size),
    "--window",
    String(c.window),
    "--connections",
    String(c.connections),
    "--seconds",
    String(seconds),
    "--warmup",
    String(warmup),
    "--json",
    "--deflate",
    "--threshold",
    String(threshold),
  ], "piped");
  const stderr = new Response(child.stderr).text();
  const pid = server.child.pid;
  let startTicks = 0, startTime = 0, endTicks = 0, endTime = 0, clientStart = 0, clientEnd = 0;
  let startWait = 0, endWait = 0;
  try {
    const text = await waitFor(
      child,
      /\{.*\}\n/,
      "client",
      (seconds + warmup) * 1000 + 30_000,
      (text) => {
        if (!startTime && text.includes("COUNTING")) {
          startTicks = cpuTicks(pid);
          startWait = runqueueWaitNs(pid);
          clientStart = cpuTicks(child.pid);
          startTime = performance.now();
        }
        if (!endTime && text.includes("{")) {
          endTicks = cpuTicks(pid);
          endWait = runqueueWaitNs(pid);
          clientEnd = cpuTicks(child.pid);
          endTime = performance.now();
        }
      },
    );
    const status = await child.status;
    if (!status.success) throw new Error(`client exited ${status.code}`);
    const result = JSON.parse(/\{.*\}/.exec(text)![0]);
    if (result.deflate !== c.connections) {
      throw new Error(`only ${result.deflate}/${c.connections} connections agreed on deflate`);
    }
    if (result.messages === 0) throw new Error("no echoes counted");
    const cpuSeconds = (endTicks - startTicks) / 100;
    return {
      rate: result.messages / result.seconds,
      cpuShare: cpuSeconds / ((endTime - startTime) / 1000),
      waitShare: (endWait - startWait) / 1e6 / (endTime - startTime),
      clientCpuShare: (clientEnd - clientStart) / 100 / ((endTime - startTime) / 1000),
      cpuUsPerMessage: (cpuSeconds * 1e6) / result.messages,
      outPerMessage: result.wireOut / result.messages,
      inPerMessage: result.wireIn / result.messages,
      extensions: result.extensions,
    };
  } catch (error) {
    await kill(child);
    throw new Error(
      `${server.spec.name} ${c.size} B: ${(error as Error).message}\n${await stderr}`,
    );
  }
}

const label = (c: Case) =>
  `${
    c.size >= 1024 ? `${c.size >> 10} KiB` : `${c.size} B`
  } JSON text ×${c.connections}c×${c.window}w`;

function bundleNodeServer() {
  return bundleForNode("bench/peers/server_engine.ts", nodeBundle);
}

async function throughput() {
  const running: Running[] = [];
  const results = new Map<string, Sample[]>();
  try {
    for (const spec of servers) running.push(await start(spec));
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        for (let i = 0; i < running.length; i++) {
          const server = running[(i + round) % running.length];
          const sample = await runClient(server, c);
          const key = `${server.spec.name}|${c.size}`;
          results.set(key, [...(results.get(key) ?? []), sample]);
          console.error(
            `round ${round + 1} ${label(c)} ${server.spec.name}: ${fmt(sample.rate)} msg/s, ` +
              `server cpu ${fmt(sample.cpuShare * 100)}% (waits for CPU ${
                fmt(sample.waitShare * 100)
              }%), client cpu ${fmt(sample.clientCpuShare * 100)}%, ` +
              `${fmt(sample.cpuUsPerMessage, 1)} µs/msg`,
          );
        }
      }
    }
  } finally {
    await Promise.all(running.map((r) => kill(r.child)));
  }
  console.log(
    `\n## Compressed echo, median of ${rounds} round(s) × ${seconds} s (threshold ${threshold} B on ` +
      `both sides; client: ws ${wsVersion()} + bufferutil on Node 20, perMessageDeflate ` +
      `{ threshold: ${threshold} }, offers client_max_window_bits); server on CPU 0, client on CPU 1\n`,
  );
  for (const c of cases) {
    console.log(`### ${label(c)}\n`);
    console.log(
      "| server | msg/s (median) | min–max | × ws | server CPU | server waits for CPU | client CPU | " +
        "server CPU µs/msg | × ws CPU/msg | " +
        "client→server B/msg | server→client B/msg | server ratio | agreed extension |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    const ws = results.get(`ws|${c.size}`);
    const wsRate = ws ? median(ws.map((s) => s.rate)) : NaN;
    const wsCpu = ws ? median(ws.map((s) => s.cpuUsPerMessage)) : NaN;
    for (const spec of servers) {
      const samples = results.get(`${spec.name}|${c.size}`)!;
      const m = (f: (s: Sample) => number) => median(samples.map(f));
      const rates = samples.map((s) => s.rate);
      const rate = m((s) => s.rate);
      const cpu = m((s) => s.cpuUsPerMessage);
      const serverOut = m((s) => s.inPerMessage);
      console.log(
        `| ${spec.name} | ${fmt(rate)} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ` +
          `${fmt(rate / wsRate, 2)} | ${fmt(m((s) => s.cpuShare) * 100)}% | ` +
          `${fmt(m((s) => s.waitShare) * 100)}% | ` +
          `${fmt(m((s) => s.clientCpuShare) * 100)}% | ${fmt(cpu, 1)} | ` +
          `${fmt(cpu / wsCpu, 2)} | ${fmt(m((s) => s.outPerMessage))} | ${fmt(serverOut)} | ` +
          `${fmt(serverOut / c.size, 3)} | \`${samples[0].extensions}\` |`,
      );
    }
    console.log("");
  }
}

/** Server RSS delta per connection for N held connections; `deflate`: the client offers it. */
async function rssPerConnection(spec: ServerSpec, deflate: boolean) {
  const server = await start(spec);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssKiB(server.child.pid);
    const client = spawn(1, [
      node20,
      "bench/peers/client_ws.mjs",
      "--url",
      `ws://127.0.0.1:${server.port}/`,
      "--size",
      "1024",
      "--connections",
      String(memoryConnections),
      "--json",
      ...(deflate ? ["--deflate"] : []),
      "--threshold",
      String(threshold),
      "--hold",
    ], "inherit");
    try {
      const text = await waitFor(
        client,
        /READY \d+ deflate=\d+/,
        `${spec.name} memory client`,
        120_000,
      );
      const [, ready, agreed] = /READY (\d+) deflate=(\d+)/.exec(text)!.map(Number);
      if (ready !== memoryConnections || agreed !== (deflate ? memoryConnections : 0)) {
        throw new Error(`${spec.name}: ${ready} connections, ${agreed} with deflate`);
      }
      await new Promise((r) => setTimeout(r, settleMs));
      const after = rssKiB(server.child.pid);
      return { before, after, perConnection: (after - before) / memoryConnections };
    } finally {
      await kill(client);
    }
  } finally {
    await kill(server.child);
  }
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
  console.log(
    "| server | RSS before (MiB) | RSS after (MiB) | KiB / connection | × ws |" +
      (baseline ? " baseline KiB / connection | added by deflate |" : ""),
  );
  console.log("|---|---:|---:|---:|---:|" + (baseline ? "---:|---:|" : ""));
  let wsPerConnection = NaN;
  for (const spec of servers) {
    const { before, after, perConnection } = await rssPerConnection(spec, true);
    if (spec.name === "ws") wsPerConnection = perConnection;
    let extra = "";
    if (baseline) {
      const plain = (await rssPerConnection(spec, false)).perConnection;
      extra = ` ${fmt(plain, 1)} | ${fmt(perConnection - plain, 1)} |`;
    }
    console.log(
      `| ${spec.name} | ${fmt(before / 1024, 1)} | ${fmt(after / 1024, 1)} | ` +
        `${fmt(perConnection, 1)} | ${fmt(perConnection / wsPerConnection, 2)} |${extra}`,
    );
  }
}

function wsVersion(): string {
  return JSON.parse(Deno.readTextFileSync(`${root}/node_modules/ws/package.json`)).version;
}

let failed = false;
try {
  if (servers.some((s) => s.cmd.includes(nodeBundle))) await bundleNodeServer();
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
  await killAll();
}
Deno.exit(failed ? 1 : 0);
