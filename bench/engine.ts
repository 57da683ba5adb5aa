/**
 * In-process engine benchmark: frame decode and encode throughput of our
 * sans-I/O engine beside `ws`'s `Receiver`/`Sender`, for 20 B, 1 KiB, 64 KiB
 * and 1 MiB binary frames.
 *
 * - decode: server side, masked client frames, fed in 64 KiB chunks as a
 *   socket would deliver them (small frames straddle chunks; large frames
 *   span many). Ours: `Protocol.receive`; ws: `Receiver.write` (what ws's
 *   socket `data` handler calls), `allowSynchronousEvents: true` (its default).
 * - encode: client side, masked, caller's bytes left untouched. Ours:
 *   `Protocol.sendBinary` + `takeOutgoing` every 16 frames; ws:
 *   `Sender.frame(data, { mask: true, readOnly: true })` (one merged buffer,
 *   the path `ws.send(buffer)` takes).
 *
 * Variants run in separate processes, interleaved round by round so
 * background load (2 shared cores) hits all alike; the table shows medians:
 * `ours-node`, `ws+bufferutil` (same Node process), `ws-js`
 * (`WS_NO_BUFFER_UTIL=1`), `ours-deno`, `ours-bun`.
 *
 * Usage: `deno run -A bench/engine.ts [--rounds 5] [--ms 400] [--node /usr/bin/node]`
 *
 * @module
 */

import process from "node:process";
import { Protocol } from "../src/engine/protocol.ts";
import {
  bin,
  bundleForNode,
  median,
  option,
  perSecond,
  root,
  rotated,
  runJson,
  runText,
  sizeLabel,
  table,
} from "./_harness.ts";

const SIZES = [20, 1024, 65536, 1048576];
const CHUNK = 65536;

interface Result {
  variant: string;
  op: "decode" | "encode";
  size: number;
  framesPerSecond: number;
}

const argument = (name: string, fallback: string) => option(process.argv, name, fallback);

/** Masked binary frames of `size` bytes, about `total` bytes in all, cut into 64 KiB chunks. */
function clientStream(size: number): { chunks: Uint8Array[]; frames: number } {
  const client = new Protocol({ role: "client" });
  const payload = new Uint8Array(size).map((_, i) => i & 0xff);
  const frames = Math.max(8, Math.ceil((4 << 20) / (size + 14)));
  for (let i = 0; i < frames; i++) client.sendBinary(payload);
  const parts = client.takeOutgoing();
  let length = 0;
  for (const part of parts) length += part.length;
  const stream = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    stream.set(part, offset);
    offset += part.length;
  }
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += CHUNK) chunks.push(stream.subarray(at, at + CHUNK));
  return { chunks, frames };
}

function oursDecode(size: number, ms: number): number {
  const { chunks, frames } = clientStream(size);
  return perSecond(
    () => {
      // The stream is unmasked in place on every pass; binary payloads make that harmless.
      const server = new Protocol({ role: "server" });
      let count = 0;
      for (const chunk of chunks) count += server.receive(chunk).length;
      if (count !== frames) throw new Error(`decoded ${count} of ${frames} frames`);
    },
    frames,
    ms,
  );
}

function oursEncode(size: number, ms: number): number {
  const payload = new Uint8Array(size).fill(1);
  const client = new Protocol({ role: "client" });
  const batch = size >= 65536 ? 4 : 256;
  return perSecond(
    () => {
      for (let i = 0; i < batch; i++) {
        client.sendBinary(payload);
        if ((i & 15) === 15) client.takeOutgoing();
      }
      client.takeOutgoing();
    },
    batch,
    ms,
  );
}

interface Implementation {
  variant: string;
  decode(size: number, ms: number): number;
  encode(size: number, ms: number): number;
}

function ours(runtime: string): Implementation {
  return { variant: `ours-${runtime}`, decode: oursDecode, encode: oursEncode };
}

async function ws(variant: string): Promise<Implementation> {
  // ws's package exports hide lib/; import the files by path (this file and its bundle in
  // .build/ both sit one level below the repository root).
  const receiverPath = new URL("../node_modules/ws/lib/receiver.js", import.meta.url).href;
  const senderPath = new URL("../node_modules/ws/lib/sender.js", import.meta.url).href;
  // deno-lint-ignore no-explicit-any
  const Receiver: any = (await import(receiverPath)).default;
  // deno-lint-ignore no-explicit-any
  const Sender: any = (await import(senderPath)).default;
  // deno-lint-ignore no-explicit-any
  const BufferClass: any = (globalThis as any).Buffer;
  return {
    variant,
    decode(size, ms) {
      const { chunks, frames } = clientStream(size);
      const buffers = chunks.map((c) => BufferClass.from(c.buffer, c.byteOffset, c.length));
      return perSecond(
        () => {
          const receiver = new Receiver({
            isServer: true,
            maxPayload: 64 << 20,
            allowSynchronousEvents: true,
          });
          let count = 0;
          receiver.on("message", () => count++);
          for (const buffer of buffers) receiver.write(buffer);
          if (count !== frames) throw new Error(`ws decoded ${count} of ${frames} frames`);
        },
        frames,
        ms,
      );
    },
    encode(size, ms) {
      const payload = BufferClass.alloc(size, 1);
      const options = { fin: true, rsv1: false, opcode: 2, mask: true, readOnly: true };
      const batch = size >= 65536 ? 4 : 256;
      return perSecond(
        () => {
          for (let i = 0; i < batch; i++) Sender.frame(payload, options);
        },
        batch,
        ms,
      );
    },
  };
}

async function worker(variants: string[], ms: number): Promise<void> {
  const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
  const implementations: Implementation[] = [];
  for (const variant of variants) {
    implementations.push(variant === "ours" ? ours(runtime) : await ws(variant));
  }
  // Case by case, alternating implementations, so load bursts hit them alike.
  const results: Result[] = [];
  for (const size of SIZES) {
    for (const op of ["decode", "encode"] as const) {
      for (const implementation of implementations) {
        const framesPerSecond = implementation[op](size, ms);
        results.push({ variant: implementation.variant, op, size, framesPerSecond });
      }
    }
  }
  console.log(JSON.stringify(results));
}

function format(framesPerSecond: number, size: number): string {
  const fps = framesPerSecond >= 1e6
    ? `${(framesPerSecond / 1e6).toFixed(2)}M`
    : `${(framesPerSecond / 1e3).toFixed(1)}k`;
  const mbps = (framesPerSecond * size) / (1 << 20);
  return `${fps} f/s, ${mbps >= 100 ? mbps.toFixed(0) : mbps.toFixed(1)} MB/s`;
}

function orchestrate(): void {
  const rounds = Number(argument("rounds", "5"));
  const ms = argument("ms", "400");
  const node = argument("node", "/usr/bin/node");
  // One level below the repository root, like this file: ws() finds node_modules from there.
  const bundle = ".build/bench_engine.mjs";
  bundleForNode("bench/engine.ts", bundle);
  const self = `${root}/bench/engine.ts`;
  const runs: { name: string; cmd: string[]; env?: Record<string, string> }[] = [
    { name: "node", cmd: [node, bundle, "--worker", "ours,ws+bufferutil", "--ms", ms] },
    {
      name: "node-no-bufferutil",
      cmd: [node, bundle, "--worker", "ws-js", "--ms", ms],
      env: { WS_NO_BUFFER_UTIL: "1" },
    },
    { name: "deno", cmd: [bin("deno"), "run", "-A", self, "--worker", "ours", "--ms", ms] },
    { name: "bun", cmd: [bin("bun"), self, "--worker", "ours", "--ms", ms] },
  ];
  const all: Result[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const run of rotated(runs, round)) {
      all.push(...runJson<Result[]>(run.cmd, run.env));
      console.error(`round ${round + 1}/${rounds}: ${run.name} done`);
    }
  }
  const variants = ["ours-node", "ws+bufferutil", "ws-js", "ours-deno", "ours-bun"];
  const cell = (variant: string, op: string, size: number) =>
    median(
      all.filter((r) => r.variant === variant && r.op === op && r.size === size).map((r) =>
        r.framesPerSecond
      ),
    );
  console.log(
    `Median of ${rounds} interleaved rounds, ${ms} ms per measurement; Node ${
      runText([node, "--version"])
    }.\n`,
  );
  for (const op of ["decode", "encode"] as const) {
    console.log(
      `### ${
        op === "decode"
          ? "Decode (server, masked client frames in 64 KiB chunks)"
          : "Encode (client, masked)"
      }\n`,
    );
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    const rows = SIZES.map((size) => {
      const values = variants.map((v) => cell(v, op, size));
      return [
        sizeLabel(size),
        ...values.map((v) => format(v, size)),
        ratio(values[0], values[1]),
        ratio(values[0], values[2]),
      ];
    });
    console.log(
      table(["size", ...variants, "ours-node / ws+bufferutil", "ours-node / ws-js"], rows),
    );
    console.log("");
  }
}

const workerIndex = process.argv.indexOf("--worker");
if (workerIndex >= 0) {
  await worker(process.argv[workerIndex + 1].split(","), Number(argument("ms", "400")));
} else {
  orchestrate();
}
