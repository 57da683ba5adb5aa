/**
 * Masking microbenchmark (RFC 6455 §5.3): the WebAssembly SIMD kernel
 * (data copied through the kernel's memory one `MASK_KERNEL_BLOCK` at a
 * time) against the JavaScript loop (32-bit words over the aligned middle),
 * from 64 B to 16 MiB, on Node 20, Deno and Bun, in two forms: in place
 * (`maskRangeInKernel` against `maskRangeInJs`, as a server unmasks a frame
 * that arrived in one read) and the fused copy (`maskCopyInKernel` against
 * `set` then `maskRangeInJs`, as the frame decoder unmasks a payload into
 * the buffer that gathers it, and a client masks into its frame). The result
 * sets `KERNEL_MASK_THRESHOLD` in src/engine/mask.ts: the smallest size from
 * which the kernel wins on every runtime.
 *
 * Method: one process per runtime and round, pinned to one core; inside, the
 * two variants alternate size by size (their order flips every round), and
 * the runtimes' order rotates between rounds, so background load hits all
 * alike. Each measurement masks the same buffer repeatedly for `--ms`
 * milliseconds after a third of that in warm-up; the table shows the median
 * GB/s of the rounds and kernel ÷ JS.
 *
 * Usage: `deno run -A bench/mask.ts [--rounds 5] [--ms 150] [--cpu 0]
 * [--sizes 65536,16777216]` (the orchestrator bundles itself for Node 20 and
 * starts Node, Deno and Bun itself; `--sizes` picks byte sizes for a short run).
 *
 * @module
 */

import process from "node:process";
import { maskCopyInKernel, maskRangeInJs, maskRangeInKernel } from "../src/engine/mask.ts";
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

const SIZES = [64, 256, 512, 1024, 2048, 4096, 16384, 65536, 1 << 20, 4 << 20, 16 << 20];
const VARIANTS = ["js", "kernel", "copy-js", "copy-kernel"] as const;
// Each table: its title, the JavaScript variant and the kernel variant.
const FORMS = [["in place", "js", "kernel"], ["fused copy", "copy-js", "copy-kernel"]] as const;

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
  // The fused copy writes after a 6-byte gap, as behind a frame header.
  const target = variant.startsWith("copy") ? new Uint8Array(size + 6) : data;
  const passes: Record<string, () => void> = {
    js: () => maskRangeInJs(data, 0, size, key, 0),
    kernel: () => {
      if (!maskRangeInKernel(data, 0, size, key, 0)) throw new Error("no WebAssembly kernel");
    },
    "copy-js": () => {
      target.set(data, 6);
      maskRangeInJs(target, 6, 6 + size, key, 0);
    },
    "copy-kernel": () => {
      if (!maskCopyInKernel(data, target, 6, key, 0, 0)) throw new Error("no WebAssembly kernel");
    },
  };
  const pass = passes[variant];
  // Enough calls per clock read that reading the clock does not dominate small sizes.
  const calls = Math.max(1, Math.floor((1 << 20) / size));
  const batch = () => {
    for (let i = 0; i < calls; i++) pass();
  };
  return perSecond(batch, calls * size, ms) / 1e9;
}

function worker(ms: number, round: number, sizes: number[]): void {
  const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
  const results: Result[] = [];
  for (const size of sizes) {
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
  const sizes = argument("sizes", SIZES.join(","));
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
      const worker = ["--worker", "--ms", ms, "--round", String(round), "--sizes", sizes];
      all.push(...runJson<Result[]>(["taskset", "-c", cpu, ...run.cmd, ...worker]));
      console.error(`round ${round + 1}/${rounds}: ${run.name} done`);
    }
  }
  const cell = (runtime: string, variant: string, size: number) =>
    median(
      all.filter((r) => r.runtime === runtime && r.variant === variant && r.size === size)
        .map((r) => r.gbps),
    );
  const names = runs.map((r) => r.name);
  const header = ["size", ...names.flatMap((n) => [`${n} JS`, `${n} kernel`, `${n} ×`])];
  for (const [title, js, kernel] of FORMS) {
    console.log(
      `\nMasking ${title}, GB/s, median of ${rounds} interleaved rounds × ${ms} ms, pinned to CPU ${cpu}\n`,
    );
    const rows = sizes.split(",").map(Number).map((size) => [
      sizeLabel(size),
      ...names.flatMap((n) => {
        const a = cell(n, js, size), b = cell(n, kernel, size);
        return [a.toFixed(2), b.toFixed(2), (b / a).toFixed(2)];
      }),
    ]);
    console.log(table(header, rows));
  }
}

if (process.argv.includes("--worker")) {
  const sizes = argument("sizes", SIZES.join(",")).split(",").map(Number);
  worker(Number(argument("ms", "150")), Number(argument("round", "0")), sizes);
} else {
  orchestrate();
}
