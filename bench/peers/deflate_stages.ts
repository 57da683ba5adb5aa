// In-process compressed echo over engine channel pairs (src/testing byte-stream pairs, no sockets),
// to tell CPU-bound from waiting: per-stage wall time (inflate, deliver, encode, write) and the
// main thread's split between running, waiting for a CPU and sleeping (Linux schedstat).
// "sleeping" > 0 with work in flight would mean an idle wait somewhere in the channel/deflate path.
// Usage: deno run -A bench/peers/deflate_stages.ts | bun bench/peers/deflate_stages.ts
//        [--pairs 10] [--window 16] [--seconds 3] [--client-context-takeover] [--max-concurrency 10]
import process from "node:process";
import { readFileSync } from "node:fs";
import { createByteStreamPair } from "../../src/testing/byte_stream_pair.ts";
import { fromStreams } from "../../src/channel/stream_channel.ts";
import { PerMessageDeflate } from "../../src/deflate/permessage_deflate.ts";
import { jsonMessages } from "./json_payload.mjs";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const pairs = Number(arg("pairs", "10"));
const window = Number(arg("window", "16"));
const seconds = Number(arg("seconds", "3"));
const maxConcurrency = Number(arg("max-concurrency", "10"));
const serverSettings = {
  threshold: 512,
  maxConcurrency,
  clientNoContextTakeover: process.argv.includes("--client-context-takeover") ? false : undefined,
};
const messages: string[] = jsonMessages(1024, 64, 1);

// Stage timing: wall time from call to settlement, per role.
const stages = new Map<string, { n: number; ms: number }>();
const record = (name: string, start: number) => {
  const s = stages.get(name) ?? { n: 0, ms: 0 };
  s.n++;
  s.ms += performance.now() - start;
  stages.set(name, s);
};
const proto = PerMessageDeflate.prototype;
const decompress = proto.decompress;
const encode = proto.encode;
proto.decompress = function (this: PerMessageDeflate, ...args: Parameters<typeof decompress>) {
  const start = performance.now();
  const result = decompress.apply(this, args);
  result.then(() => record(`${this.role} inflate`, start), () => {});
  return result;
};
proto.encode = function (this: PerMessageDeflate, ...args: Parameters<typeof encode>) {
  const start = performance.now();
  const result = encode.apply(this, args);
  result.then(() => record(`${this.role} encode`, start), () => {});
  return result;
};

function schedstat(): number[] {
  try {
    return readFileSync("/proc/thread-self/schedstat", "utf8").split(" ").map(Number);
  } catch {
    return [NaN, NaN];
  }
}

// Everything here settles through microtasks (no sockets), so timers may never fire while
// echoes are in flight: the phases follow the clock, checked on every echo.
const warmupEnd = performance.now() + 1000;
const end = warmupEnd + seconds * 1000;
let echoed = 0;
let cpu0 = process.cpuUsage();
let sched0 = schedstat();
let t0 = 0;
let cpu = cpu0;
let sched1 = sched0;
let wallMs = 0;
const tick = () => {
  const now = performance.now();
  if (t0 === 0 && now >= warmupEnd) {
    stages.clear();
    cpu0 = process.cpuUsage();
    sched0 = schedstat();
    t0 = now;
  } else if (t0 > 0 && wallMs === 0 && now >= end) {
    wallMs = now - t0;
    cpu = process.cpuUsage(cpu0);
    sched1 = schedstat();
  }
  if (t0 > 0 && wallMs === 0) echoed++;
  return wallMs > 0;
};
const offer = PerMessageDeflate.createOffer({ threshold: 512 });
const running: Promise<void>[] = [];
for (let p = 0; p < pairs; p++) {
  const accepted = PerMessageDeflate.acceptOffer(offer, serverSettings)!;
  const clientDeflate = PerMessageDeflate.acceptResponse(accepted.response, {
    threshold: 512,
    maxConcurrency,
  })!;
  const [a, b] = createByteStreamPair();
  const client = fromStreams(a, { role: "client", deflate: clientDeflate });
  const server = fromStreams(b, { role: "server", deflate: accepted.deflate });
  (async () => {
    for await (const message of server.stream) {
      const start = performance.now();
      server.sink.add(message).then(
        () => record("server write (encode → accepted)", start),
        () => {},
      );
    }
  })().catch(() => {});
  running.push((async () => {
    const reader = client.stream.getReader();
    let next = p;
    const sent: number[] = [];
    const send = () => {
      sent.push(performance.now());
      client.sink.add(messages[next++ & 63]).catch(() => {});
    };
    for (let i = 0; i < window; i++) send();
    for (;;) {
      const { done } = await reader.read();
      if (done) return;
      record("round trip", sent.shift()!);
      if (tick()) break;
      send();
    }
  })());
}
await Promise.all(running);

const cpuUs = cpu.user + cpu.system;
const running_ = (sched1[0] - sched0[0]) / 1e6 / wallMs;
const waiting = (sched1[1] - sched0[1]) / 1e6 / wallMs;
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
console.log(
  `${runtime} ${pairs} pairs × ${window} in flight, clientNoContextTakeover ${
    serverSettings.clientNoContextTakeover ?? "default"
  }: ${(echoed / (wallMs / 1000)).toFixed(0)} echoes/s, ${
    (cpuUs / echoed).toFixed(1)
  } µs CPU per echo ` +
    `(both ends), main thread running ${(running_ * 100).toFixed(0)}% / waiting for a CPU ${
      (waiting * 100).toFixed(0)
    }% / sleeping ${((1 - running_ - waiting) * 100).toFixed(0)}%`,
);
for (const [name, s] of stages) {
  console.log(`  ${name.padEnd(36)} ${(s.ms / s.n).toFixed(3)} ms mean wall (${s.n} calls)`);
}
process.exit(0);
