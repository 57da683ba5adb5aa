/**
 * Masking microbenchmark (RFC 6455 §5.3): the WebAssembly SIMD kernel
 * (`maskRangeInKernel`, data copied through the kernel's 64 KiB memory)
 * against the JavaScript loop (`maskRangeInJs`, 32-bit words over the
 * aligned middle), in place, from 64 B to 16 MiB, on Node 20, Deno and Bun.
 * The result sets `KERNEL_MASK_THRESHOLD` in src/engine/mask.ts: the
 * smallest size from which the kernel wins on every runtime.
 *
 * Method: one process per runtime and round, pinned to one core; inside, the
 * two variants alternate size by size (their order flips every round), and
 * the runtimes' order rotates between rounds, so background load hits all
 * alike. Each measurement masks the same buffer repeatedly for `--ms`
 * milliseconds after a third of that in warm-up; the table shows the median
 * GB/s of the rounds and kernel ÷ JS.
 *
 * Usage: `deno run -A bench/mask.ts [--rounds 5] [--ms 150] [--cpu 0]`
 *
 * @module
 */

import process from "node:process";
import { maskRangeInJs, maskRangeInKernel } from "../src/engine/mask.ts";
import {
  bin,
  bundleForNode,
  median,
  node20,
  option,
  perSecond,
  root,
  rotated,
  runJson,
  sizeLabel,
  table,
} from "./_harness.ts";

const SIZES = [64, 256, 512, 1024, 2048, 4096, 16384, 65536, 1 << 20, 16 << 20];
const VARIANTS = ["js", "kernel"] as const;

interface Result {
  runtime: string;
  variant: string;
  size: number;
  gbps: number;
}

const argument = (name: string, fallback: string) => option(process.argv, name, fallback);

function measure(size: number, variant: string, ms: number): number {
  // Offset 1 into the buffer: received frames rarely start at an aligned address.
  const data = new Uint8Array(size + 1).fill(0x5a).subarray(1);
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const pass = variant === "js" ? () => maskRangeInJs(data, 0, size, key, 0) : () => {
    if (!maskRangeInKernel(data, 0, size, key, 0)) throw new Error("no WebAssembly kernel");
  };
  // Enough calls per clock read that reading the clock does not dominate small sizes.
  const calls = Math.max(1, Math.floor((1 << 20) / size));
  const batch = () => {
    for (let i = 0; i < calls; i++) pass();
  };
  return perSecond(batch, calls * size, ms) / 1e9;
}

function worker(ms: number, round: number): void {
  const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
  const results: Result[] = [];
  for (const size of SIZES) {
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) {
      results.push({ runtime, variant, size, gbps: measure(size, variant, ms) });
    }
  }
  console.log(JSON.stringify(results));
}

function orchestrate(): void {
  const rounds = Number(argument("rounds", "5"));
  const ms = argument("ms", "150");
  const cpu = argument("cpu", "0");
  const bundle = ".build/bench_mask.mjs";
  bundleForNode("bench/mask.ts", bundle);
  const self = `${root}/bench/mask.ts`;
  const runs = [
    { name: "node", cmd: [node20, bundle] },
    { name: "deno", cmd: [bin("deno"), "run", "-A", self] },
    { name: "bun", cmd: [bin("bun"), self] },
  ];
  const all: Result[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const run of rotated(runs, round)) {
      const worker = ["--worker", "--ms", ms, "--round", String(round)];
      all.push(...runJson<Result[]>(["taskset", "-c", cpu, ...run.cmd, ...worker]));
      console.error(`round ${round + 1}/${rounds}: ${run.name} done`);
    }
  }
  const cell = (runtime: string, variant: string, size: number) =>
    median(
      all.filter((r) => r.runtime === runtime && r.variant === variant && r.size === size)
        .map((r) => r.gbps),
    );
  console.log(
    `Masking in place, GB/s, median of ${rounds} interleaved rounds × ${ms} ms, pinned to CPU ${cpu}\n`,
  );
  const names = runs.map((r) => r.name);
  const rows = SIZES.map((size) => [
    sizeLabel(size),
    ...names.flatMap((n) => {
      const js = cell(n, "js", size), kernel = cell(n, "kernel", size);
      return [js.toFixed(2), kernel.toFixed(2), (kernel / js).toFixed(2)];
    }),
  ]);
  console.log(table(["size", ...names.flatMap((n) => [`${n} JS`, `${n} kernel`, `${n} ×`])], rows));
}

if (process.argv.includes("--worker")) {
  worker(Number(argument("ms", "150")), Number(argument("round", "0")));
} else {
  orchestrate();
}
