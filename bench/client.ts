/**
 * Overhead of the reconnecting client: closed-loop echo throughput through
 * `WebSocketClient` versus the raw `WebSocketChannel` it wraps, in the same
 * run, over the same kind of connection.
 *
 * Transports:
 * - `memory`: an in-memory engine channel pair (`createChannelPair`), server
 *   side echoing in-process; no sockets, so the client's own cost is most
 *   visible.
 * - `ws`: loopback to the `ws` package's echo server in a Node child process,
 *   through `WebSocketChannel.connect` (engine transport).
 *
 * Both sides get the same payload object, the same window and the same
 * reader path (one `reader.read()` of a `ReadableStream` per echo, one
 * `send` call per message), so the difference is the client's own work.
 * Each case keeps `--window` messages in flight until a fixed number of
 * echoes (about `--bytes` of payload, 2 000–50 000 messages) came back after
 * a warm-up. A round runs raw and client back to back, each in two halves
 * in the order raw, client, client, raw in even rounds and client, raw,
 * raw, client in odd ones, so that a load rising or falling through the
 * round weighs on both alike; one unmeasured run of each warms them up,
 * then `--rounds` rounds are measured. Overhead (wall) = 1 − client rate /
 * raw rate of the medians; overhead (CPU) = client CPU per message / raw CPU
 * per message − 1, measured with `process.cpuUsage()` of this process, which
 * a busy machine disturbs less than wall-clock rates. Positive means the
 * client costs more.
 *
 * The verdict uses the paired figure: each round's own CPU ratio (its raw and
 * client runs are back to back, so load that comes and goes on a shared
 * machine between rounds cancels out within the pair), their median, their
 * interquartile range (the spread of the rounds), and a distribution-free 95 %
 * confidence interval of that median. `--target` (default 10 %) is met when
 * the whole interval lies at or below it, missed when it lies above, and
 * undecided otherwise (more rounds narrow it).
 *
 * Usage: `deno run -A bench/client.ts [--rounds 21] [--bytes 134217728] [--window 32]
 *   [--transports memory,ws] [--sizes 64,16384] [--target 10]`; also
 *   `bun bench/client.ts …` and, on Node 24 (which strips the types),
 *   `node bench/client.ts …`. Node 20 runs an esbuild bundle of it
 *   (`esbuild bench/client.ts --bundle --platform=node --format=esm
 *   --outfile=.build/bench/client.mjs`) with `--transports memory`: from
 *   `.build/` the bundle does not find the `ws` server in `bench/peers/`.
 *
 * @module
 */
import process, { cpuUsage } from "node:process";
import { WebSocketChannel } from "../mod.ts";
import { WebSocketClient } from "../src/client/web_socket_client.ts";
import type { ClientChannel, Message } from "../src/client/types.ts";
import { createChannelPair } from "../src/testing/channel_pair.ts";
import { median, medianInterval, node20, option, quantile, rotated, table } from "./_harness.ts";
import { type Server, startServer } from "./_harness/processes.ts";

const argv = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const opt = (name: string, fallback: string) => option(argv, name, fallback);
const rounds = Number(opt("rounds", "21"));
const budget = Number(opt("bytes", String(128 * 1024 * 1024)));
const window = Number(opt("window", "32"));
const transports = opt("transports", "memory,ws").split(",");
const sizes = opt("sizes", "64,16384").split(",").map(Number);
const target = Number(opt("target", "10")) / 100;
const bun = (globalThis as { Bun?: { version: string } }).Bun;
const runtime = typeof Deno !== "undefined"
  ? `deno ${Deno.version.deno}`
  : bun
  ? `bun ${bun.version}`
  : `node ${process.versions.node}`;

interface Endpoint {
  send(message: Message): Promise<void>;
  reader: ReadableStreamDefaultReader<Message>;
  close(): Promise<void>;
}

/**
 * Closed loop: `window` messages in flight; every echo sends the next one.
 * Counts by messages, not by timers: an in-memory pair never yields to the
 * timer queue, so a time-boxed loop would never end. Returns messages/s.
 */
async function measure(endpoint: Endpoint, payload: Message, messages: number): Promise<Sample> {
  const warmup = Math.ceil(messages / 10);
  let received = 0;
  let start = 0;
  let end = 0;
  let cpuStart = cpuUsage();
  let cpu = 0;
  let inFlight = 0;
  const reading = (async () => {
    for (;;) {
      const { done } = await endpoint.reader.read();
      if (done) throw new Error("connection closed during the benchmark");
      received++;
      if (received === warmup) {
        start = performance.now();
        cpuStart = cpuUsage();
      }
      if (received === warmup + messages) {
        end = performance.now();
        const used = cpuUsage(cpuStart);
        cpu = used.user + used.system;
      }
      if (end > 0) {
        if (--inFlight === 0) return;
        continue;
      }
      await endpoint.send(payload);
    }
  })();
  for (let i = 0; i < window; i++) {
    inFlight++;
    await endpoint.send(payload);
  }
  await reading;
  return { rate: (messages / (end - start)) * 1000, cpuPerMessage: cpu / messages };
}

/** Wall-clock rate, and this process's CPU µs per echoed message (robust to a busy machine). */
interface Sample {
  rate: number;
  cpuPerMessage: number;
}

/** Two runs of the same number of messages as one. */
function together(a: Sample, b: Sample): Sample {
  return {
    rate: 2 / (1 / a.rate + 1 / b.rate),
    cpuPerMessage: (a.cpuPerMessage + b.cpuPerMessage) / 2,
  };
}

/** The raw side sends with `channel.send()`, its cheapest way (no sink is made), as the client does. */
function rawEndpoint(channel: ClientChannel & { send(message: Message): Promise<void> }): Endpoint {
  return {
    send: (m) => channel.send(m),
    reader: channel.stream.getReader(),
    close: () => channel.sink.close(1000),
  };
}

async function clientEndpoint(url: string, connector?: () => ClientChannel): Promise<Endpoint> {
  const client = new WebSocketClient(url, {
    connector: connector ? () => connector() : undefined,
    connectOptions: { transport: "engine" },
    heartbeat: false,
  });
  await client.connect();
  return {
    send: (m) => client.send(m),
    reader: client.stream.getReader(),
    close: () => client.close(),
  };
}

function memoryChannel(): WebSocketChannel {
  const [client, server] = createChannelPair({ bufferSize: 1 << 20 });
  void (async () => {
    const reader = server.stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      await server.sink.add(value);
    }
  })().catch(() => {});
  return client;
}

function payloadOf(size: number): Message {
  if (size <= 1024) return "x".repeat(size);
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31) & 0xff;
  return bytes;
}

const pct0 = (x: number) => (x * 100).toFixed(0);
const rows: string[][] = [];
const debug = (...a: unknown[]) => argv.includes("--debug") && console.error(...a);
for (const transport of transports) {
  // The ws echo server, unpinned: this process is the one measured.
  const server: Server | undefined = transport === "ws"
    ? await startServer("ws", [node20, "bench/peers/server_ws.mjs"], { cpu: undefined })
    : undefined;
  const url = server ? `ws://127.0.0.1:${server.port}/` : "memory://";
  try {
    for (const size of sizes) {
      const payload = payloadOf(size);
      const count = Math.max(2000, Math.min(50_000, Math.floor(budget / size)));
      const raw = rawEndpoint(
        transport === "memory"
          ? memoryChannel()
          : WebSocketChannel.connect(url, { transport: "engine" }),
      );
      debug("raw created");
      await (raw as unknown as { ready?: Promise<void> }).ready;
      debug("raw ready");
      const client = await clientEndpoint(
        url,
        transport === "memory" ? memoryChannel : undefined,
      );
      debug("client ready");
      const rawRates: Sample[] = [];
      const clientRates: Sample[] = [];
      const sides: [Endpoint, Sample[]][] = [[raw, rawRates], [client, clientRates]];
      for (const [endpoint] of sides) await measure(endpoint, payload, count);
      const half = Math.ceil(count / 2);
      for (let round = 0; round < rounds; round++) {
        // Each side runs twice, in the order raw, client, client, raw in even
        // rounds and client, raw, raw, client in odd ones: a load that rises
        // or falls steadily through the round weighs on both sides alike,
        // and so does what one side leaves behind (garbage).
        const [first, second] = rotated(sides, round);
        const halves = new Map<Endpoint, Sample>();
        for (const [endpoint] of [first, second, second, first]) {
          const sample = await measure(endpoint, payload, half);
          const earlier = halves.get(endpoint);
          halves.set(endpoint, earlier ? together(earlier, sample) : sample);
        }
        for (const [endpoint, samples] of sides) samples.push(halves.get(endpoint)!);
      }
      await raw.close().catch(() => {});
      await client.close().catch(() => {});
      const r = median(rawRates.map((s) => s.rate));
      const c = median(clientRates.map((s) => s.rate));
      const rCpu = median(rawRates.map((s) => s.cpuPerMessage));
      const cCpu = median(clientRates.map((s) => s.cpuPerMessage));
      const ratios = rawRates.map((raw, i) => clientRates[i].cpuPerMessage / raw.cpuPerMessage - 1);
      const paired = median(ratios);
      const [low, high] = medianInterval(ratios);
      const verdict = high <= target ? "met" : low > target ? "missed" : "undecided";
      const pct = (x: number) => Number.isNaN(x) ? "–" : `${(x * 100).toFixed(1)}`;
      const mb = (rate: number) => ((rate * size) / 1e6).toFixed(1);
      rows.push([
        transport,
        String(size),
        String(Math.round(r)),
        mb(r),
        String(Math.round(c)),
        mb(c),
        `${((1 - c / r) * 100).toFixed(1)} %`,
        rCpu.toFixed(1),
        cCpu.toFixed(1),
        `${((cCpu / rCpu - 1) * 100).toFixed(1)} %`,
        `${pct(paired)} %`,
        `${pct(quantile(ratios, 0.25))} … ${pct(quantile(ratios, 0.75))} %`,
        `${pct(low)} … ${pct(high)} %`,
        verdict,
      ]);
      const each = (samples: Sample[]) =>
        samples.map((s) => `${Math.round(s.rate)}/${s.cpuPerMessage.toFixed(2)}`).join(" ");
      console.error(
        `${transport} ${size} msg/s / CPU µs per message, per round: raw ${
          each(rawRates)
        }; client ${each(clientRates)}`,
      );
    }
  } finally {
    await server?.stop();
  }
}
console.log(
  `\nClient overhead, ${runtime}, window ${window}, ${rounds} rounds (medians); ` +
    `target ≤ ${pct0(target)} % CPU (paired)\n`,
);
console.log(table(
  [
    "transport",
    "bytes",
    "raw msg/s",
    "raw MB/s",
    "client msg/s",
    "client MB/s",
    "overhead (wall)",
    "raw CPU µs/msg",
    "client CPU µs/msg",
    "overhead (CPU)",
    "overhead (CPU, paired)",
    "IQR (paired)",
    "95 % CI (paired)",
    "target",
  ],
  rows,
));
