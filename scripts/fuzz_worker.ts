/**
 * The engine fuzz campaign of one runtime, in process: seeded mutated frame
 * streams into `Protocol` (scripts/fuzz/generate.ts) with the invariants of
 * scripts/fuzz/check.ts, until `--frames` frames were fed or `--seconds`
 * passed. The same file runs under Deno, Bun and Node (an esbuild bundle);
 * scripts/fuzz.ts runs it on each and prints the table.
 *
 * A violation is reported with its case (replay: `--replay SEED:CASE`) and
 * the input reduced to a minimal one that still breaks the same invariant,
 * as a hex dump of its chunks. The heap is sampled during the run and after
 * a forced GC at the end (Node/Deno: --expose-gc; Bun: Bun.gc).
 *
 * Usage: `deno run -A --v8-flags=--expose-gc scripts/fuzz_worker.ts [--seed 1]
 *   [--frames 10000000] [--seconds 600] [--replay SEED:CASE]`
 * Prints progress on stderr and one `RESULT {json}` line on stdout; exits 1
 * on a violation.
 *
 * @module
 */
import process from "node:process";
import { type CaseResult, runCase, type Violation } from "./fuzz/check.ts";
import { caseSeed, type FuzzCase, generateCase } from "./fuzz/generate.ts";
import { installPayloadAllocator } from "../src/engine/payload_memory.ts";

// The buffers the engine must overwrite completely come dirty, as from the allocator that
// skips zero-filling on Node and Bun: a byte it fails to write shows in a checked message.
installPayloadAllocator((size) => new Uint8Array(size).fill(0xa5));

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const seed = Number(opt("seed", "1")) >>> 0;
const targetFrames = Number(opt("frames", "10000000"));
const maxSeconds = Number(opt("seconds", "600"));
const replay = opt("replay", "");
/** A heap above this during the run is a violation (the case limits bound the engine far below). */
const HEAP_LIMIT = 512 * 1024 * 1024;
const MAX_REPORTED = 3;

const g = globalThis as {
  Deno?: { version: { deno: string } };
  Bun?: { version: string; gc(force: boolean): void };
  gc?: () => void;
};
const runtime = g.Deno
  ? `deno ${g.Deno.version.deno}`
  : g.Bun
  ? `bun ${g.Bun.version}`
  : `node ${process.versions.node}`;

function collectGarbage(): boolean {
  if (g.Bun) {
    g.Bun.gc(true);
    return true;
  }
  if (typeof g.gc === "function") {
    g.gc();
    return true;
  }
  return false;
}

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

function run(c: FuzzCase, bytes: Uint8Array, cuts: number[]): CaseResult {
  return runCase(c, bytes.slice(), cuts);
}

/**
 * Reduces the input while the same invariant still breaks: first as one
 * chunk, then delta debugging over the bytes (chunk boundaries move with them).
 */
function minimize(
  c: FuzzCase,
  kind: string,
): { bytes: Uint8Array; cuts: number[]; violation: Violation } {
  let bytes = c.bytes.slice();
  let cuts = c.cuts.slice();
  const still = (b: Uint8Array, k: number[]) => run(c, b, k).violation?.kind === kind;
  if (still(bytes, [bytes.length])) cuts = [bytes.length];
  // An unmutated case is checked against its expected events: only its chunking may change.
  let parts = c.expected === null ? 2 : Infinity;
  let attempts = 0;
  while (bytes.length >= 1 && parts <= bytes.length && attempts < 5000) {
    const size = Math.ceil(bytes.length / parts);
    let reduced = false;
    for (let from = 0; from < bytes.length && attempts < 5000; from += size) {
      attempts++;
      const to = Math.min(bytes.length, from + size);
      const candidate = new Uint8Array(bytes.length - (to - from));
      candidate.set(bytes.subarray(0, from));
      candidate.set(bytes.subarray(to), from);
      const candidateCuts = [
        ...new Set(cuts.map((at) => (at <= from ? at : at <= to ? from : at - (to - from)))),
      ]
        .filter((at) => at > 0);
      if (candidateCuts.at(-1) !== candidate.length) candidateCuts.push(candidate.length);
      if (still(candidate, candidateCuts)) {
        bytes = candidate;
        cuts = candidateCuts;
        parts = Math.max(parts - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (parts >= bytes.length) break;
      parts = Math.min(parts * 2, bytes.length);
    }
  }
  return { bytes, cuts, violation: run(c, bytes, cuts).violation! };
}

interface Report {
  replay: string;
  kind: string;
  detail: string;
  options: FuzzCase["options"];
  mutations: string[];
  originalBytes: number;
  chunksHex: string[];
}

function report(index: number, c: FuzzCase, violation: Violation): Report {
  const small = minimize(c, violation.kind);
  const chunksHex: string[] = [];
  let from = 0;
  for (const at of small.cuts) {
    chunksHex.push(hex(small.bytes.subarray(from, at)));
    from = at;
  }
  const r: Report = {
    replay: `${seed}:${index}`,
    kind: violation.kind,
    detail: small.violation.detail,
    options: c.options,
    mutations: c.mutations,
    originalBytes: c.bytes.length,
    chunksHex,
  };
  console.error(`\nVIOLATION (${runtime}) ${r.kind}: ${r.detail}`);
  console.error(
    `  replay: --replay ${r.replay} (case seed ${c.seed}), mutations ${
      c.mutations.join(",") || "none"
    }`,
  );
  console.error(`  options: ${JSON.stringify(c.options)}`);
  console.error(
    `  minimal input (${small.bytes.length} of ${c.bytes.length} bytes), one chunk per line:`,
  );
  for (const line of chunksHex) console.error(`    ${line || "(empty)"}`);
  return r;
}

const heapUsed = () => process.memoryUsage().heapUsed;

if (replay !== "") {
  const [runSeed, index] = replay.split(":").map(Number);
  const c = generateCase(caseSeed(runSeed >>> 0, index));
  const result = run(c, c.bytes, c.cuts);
  console.error(
    `case ${replay}: ${JSON.stringify(c.options)} mutations ${c.mutations.join(",") || "none"}`,
  );
  console.error(
    `input ${c.bytes.length} bytes in ${c.cuts.length} chunks: ${hex(c.bytes.subarray(0, 256))}${
      c.bytes.length > 256 ? " …" : ""
    }`,
  );
  if (result.violation === null) {
    console.error(`no violation (outcome ${result.outcome})`);
    process.exit(0);
  }
  report(index, c, result.violation);
  process.exit(1);
}

const started = performance.now();
const heapStart = heapUsed();
let heapMax = heapStart;
let frames = 0;
let bytes = 0;
let cases = 0;
let controls = 0;
let lastProgress = started;
const outcomes: Record<string, number> = {};
const violations: Report[] = [];
let violationCount = 0;
let elapsed = 0;
for (let index = 0; frames < targetFrames; index++) {
  const c = generateCase(caseSeed(seed, index));
  const size = c.bytes.length;
  const result = runCase(c, c.bytes, c.cuts);
  frames += c.frames;
  bytes += size;
  cases++;
  if (c.expected !== null) controls++;
  outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
  if (result.violation !== null) {
    violationCount++;
    // The case again, from its seed: the engine consumed (unmasked) the first copy.
    if (violations.length < MAX_REPORTED) {
      violations.push(report(index, generateCase(c.seed), result.violation));
    }
  }
  if ((index & 1023) === 0) {
    const now = performance.now();
    elapsed = (now - started) / 1000;
    if ((index & 8191) === 0) {
      const heap = heapUsed();
      if (heap > heapMax) heapMax = heap;
      if (heap > HEAP_LIMIT) {
        violationCount++;
        violations.push({
          replay: `${seed}:${index}`,
          kind: "heap bound",
          detail: `heap ${(heap / 2 ** 20).toFixed(0)} MiB`,
          options: c.options,
          mutations: c.mutations,
          originalBytes: size,
          chunksHex: [],
        });
        break;
      }
    }
    if (now - lastProgress > 10_000) {
      lastProgress = now;
      console.error(
        `${runtime}: ${frames.toLocaleString("en-US")} frames, ${
          (frames / elapsed).toFixed(0)
        } frames/s`,
      );
    }
    if (elapsed > maxSeconds) break;
  }
}
elapsed = (performance.now() - started) / 1000;
const forced = collectGarbage();
const heapEnd = heapUsed();
console.log(`RESULT ${
  JSON.stringify({
    runtime,
    seed,
    frames,
    cases,
    controls,
    bytes,
    seconds: elapsed,
    framesPerSecond: frames / elapsed,
    outcomes,
    heapStartMiB: heapStart / 2 ** 20,
    heapMaxMiB: heapMax / 2 ** 20,
    heapEndMiB: heapEnd / 2 ** 20,
    gcForced: forced,
    violationCount,
    violations,
  })
}`);
process.exit(violationCount > 0 ? 1 : 0);
