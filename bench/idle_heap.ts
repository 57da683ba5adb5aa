/**
 * Where an idle connection's memory goes on Node and Deno: a server (`ws`,
 * or our engine's `serve()` from the same bundle as `echo.ts`, under Node
 * 20; ours or `Deno.serve`'s native WebSocket under Deno) with
 * `--expose-gc` and `bench/peers/heap_probe.mjs` preloaded, then batches of
 * raw upgraded idle connections from a separate process
 * (`bench/peers/client_idle.mjs`). After each batch and a settle it reads
 * the server's RSS and V8's heap, counts the collections of the batch
 * and what they saw allocated and promoted (`--trace-gc-nvp`), and can force two full collections and read them again (live
 * memory against garbage not yet collected; with `--gc`; the forced
 * collections change what later readings see, so compare runs with
 * `echo.ts` without it), and with `--snapshots` writes
 * a heap snapshot. The last two snapshots are compared constructor by
 * constructor (V8's node type and name): objects and self size added per
 * connection between the two batch counts.
 *
 * Usage: `deno run -A bench/idle_heap.ts [--server ws|engine-node|engine-deno|deno-native]
 *   [--counts 500,2500] [--settle 3000] [--gc] [--snapshots] [--top 40] [--explain Array,Object] [--alloc | --promoted] [--depth 1]`
 * (`--counts`: total connections after each batch; `--explain`: names from
 * the table whose objects new in the last snapshot are counted by what
 * holds them: the holder's name and the edge). Snapshots make the RSS
 * figures of later batches meaningless (writing one grows the heap): read
 * RSS from a run without `--snapshots`.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Readable } from "node:stream";
import { Lines } from "../scripts/_util/lines.ts";
import { bin, bundleForNode, fmt, node20, option, root, table } from "./_harness.ts";
import { Process, stopAll } from "./_harness/processes.ts";

const args = Deno.args;
const serverName = option(args, "server", "engine-node");
const counts = option(args, "counts", "500,2500").split(",").map(Number);
const settleMs = Number(option(args, "settle", "3000"));
const snapshots = args.includes("--snapshots");
const forceGc = args.includes("--gc");
/** Callers shown per allocating function with `--alloc` / `--promoted`. */
const depth = Number(option(args, "depth", "1"));
const sampleAllocations = args.includes("--alloc") || args.includes("--promoted");
const top = Number(option(args, "top", "40"));
/** Names (as in the table) whose new objects are listed by retainer: "Array,closure:·". */
const explain = option(args, "explain", "").split(",").filter(Boolean);

const node = [node20, "--expose-gc", "--trace-gc-nvp", "--import", "./bench/peers/heap_probe.mjs"];
const deno = [
  bin("deno"),
  "run",
  "-A",
  // No --trace-gc-nvp: Deno's V8 writes it through a buffer of its own, which splits the
  // probe's lines (no collection counts for Deno).
  "--v8-flags=--expose-gc",
  "bench/peers/heap_probe_deno.ts",
];
// With --trace-gc-nvp, one line per collection: what each allocated and promoted (summed per
// batch below).
const commands: Record<string, string[]> = {
  ws: [...node, "bench/peers/server_ws.mjs"],
  "engine-node": [...node, ".build/bench/server_engine.mjs"],
  "engine-deno": [...deno, "bench/peers/server_engine.ts"],
  "deno-native": [...deno, "bench/peers/server_deno_native.ts"],
};
if (!commands[serverName]) throw new Error(`--server: one of ${Object.keys(commands).join(", ")}`);
if (serverName === "engine-node") {
  bundleForNode("bench/peers/server_engine.ts", ".build/bench/server_engine.mjs");
}

const child = spawn(
  "taskset",
  ["-c", "0", ...commands[serverName]],
  { cwd: root, stdio: ["pipe", "pipe", "inherit"] },
);

/** Collections since the last reset: young (scavenges) and full, bytes allocated and promoted. */
const collections = { young: 0, full: 0, allocated: 0, promoted: 0 };
const lines = new Lines(Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>);
let expected: { pattern: RegExp; found: (match: RegExpExecArray) => void } | undefined;
(async () => {
  for (let line = await lines.next(); line !== null; line = await lines.next()) {
    const gc = / gc=(\w+) .* allocated=(\d+) promoted=(\d+) /.exec(line);
    if (gc) {
      if (gc[1] === "s") collections.young++;
      else collections.full++;
      collections.allocated += Number(gc[2]);
      collections.promoted += Number(gc[3]);
      continue;
    }
    const match = expected?.pattern.exec(line);
    if (match) {
      const { found } = expected!;
      expected = undefined;
      found(match);
    }
  }
})();
const until = (pattern: RegExp) =>
  new Promise<RegExpExecArray>((found) => expected = { pattern, found });
const ask = async (command: string, answer: RegExp) => {
  const answered = until(answer);
  child.stdin!.write(`${command}\n`);
  return await answered;
};
const memory = async (command: "rss" | "gc") => {
  const [, rss, heap, total, external, young, old, malloced] = await ask(
    command,
    /^RSS (\d+) HEAP (\d+) TOTAL (\d+) EXTERNAL (\d+) NEW (\d+) OLD (\d+) MALLOC (\d+)/,
  );
  // File-backed pages (the runtime's binary and libraries paged in) against anonymous memory.
  const rollup = readFileSync(`/proc/${child.pid}/smaps_rollup`, "utf8");
  const anonymous = Number(/^Anonymous:\s+(\d+)/m.exec(rollup)?.[1] ?? NaN);
  return {
    anonymous,
    rss: Number(rss),
    heap: Number(heap),
    total: Number(total) / 1024,
    external: Number(external),
    malloced: Number(malloced),
    young: Number(young),
    old: Number(old),
  };
};

interface Group {
  count: number;
  size: number;
}

/** Objects and self size per V8 node type and name. */
function groups(path: string): Map<string, Group> {
  const snapshot = JSON.parse(readFileSync(path, "utf8"));
  const meta = snapshot.snapshot.meta;
  const fields: string[] = meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types: string[] = meta.node_types[0];
  const strings: string[] = snapshot.strings;
  const nodes: number[] = snapshot.nodes;
  const out = new Map<string, Group>();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    // Strings and code are grouped by type: their names are their contents.
    const named = type === "object" || type === "closure" || type === "hidden" ||
      type === "array" || type === "native" || type === "object shape";
    const name = named ? strings[nodes[i + nameAt]].slice(0, 60) : "";
    const key = `${type}\t${name}`;
    const group = out.get(key) ?? { count: 0, size: 0 };
    group.count++;
    group.size += nodes[i + sizeAt];
    out.set(key, group);
  }
  return out;
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** `--alloc`: bytes allocated during the last batch per connection, by allocating function. */
function allocations(path: string, n: number): void {
  const profile = JSON.parse(readFileSync(path, "utf8"));
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode, callers: string[]) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\//, "");
    const name = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    if (node.selfSize > 0) {
      const key = [name, ...callers.slice(0, depth)].join(" ← ");
      byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    const outer = [name, ...callers];
    for (const child of node.children) walk(child, outer);
  };
  walk(profile.head, []);
  console.log(`\nAllocated during the last batch: ${fmt(total / n, 0)} B per connection\n`);
  const rows = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(table(["function ← caller", "B / conn"], rows.map(([k, b]) => [k, fmt(b / n, 0)])));
}

/** For the `--explain` names: objects new in `after` counted by their holders (name and edge). */
function retainers(beforePath: string, afterPath: string, n: number): void {
  const read = (path: string) => JSON.parse(readFileSync(path, "utf8"));
  const before = read(beforePath);
  const after = read(afterPath);
  const meta = after.snapshot.meta;
  const fields: string[] = meta.node_fields;
  const width = fields.length;
  const edgeFields: string[] = meta.edge_fields;
  const edgeWidth = edgeFields.length;
  const types: string[] = meta.node_types[0];
  const edgeTypes: string[] = meta.edge_types[0];
  const strings: string[] = after.strings;
  const idAt = fields.indexOf("id");
  const oldIds = new Set<number>();
  const beforeNodes: number[] = before.nodes;
  for (let i = 0; i < beforeNodes.length; i += width) oldIds.add(beforeNodes[i + idAt]);
  const nodes: number[] = after.nodes;
  const edges: number[] = after.edges;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const edgeCountAt = fields.indexOf("edge_count");
  const label = (i: number) => {
    const type = types[nodes[i + typeAt]];
    const name = strings[nodes[i + nameAt]].slice(0, 40);
    return type === "object" ? name : `${type}:${name || "·"}`;
  };
  const wanted = (i: number) => {
    const l = label(i);
    return explain.includes(l) || explain.includes(l.replace(/^object:/, ""));
  };
  const held = new Map<string, number>();
  let edge = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const count = nodes[i + edgeCountAt];
    for (let e = 0; e < count; e++, edge += edgeWidth) {
      const to = edges[edge + 2];
      if (oldIds.has(nodes[to + idAt]) || !wanted(to)) continue;
      const edgeType = edgeTypes[edges[edge]];
      if (edgeType === "weak") continue;
      const edgeName = edgeType === "element" || edgeType === "hidden"
        ? `[${edges[edge + 1]}]`
        : String(strings[edges[edge + 1]]);
      const key = `${label(to)} ← ${label(i)}.${edgeName}`;
      held.set(key, (held.get(key) ?? 0) + 1);
    }
  }
  console.log(`\nNew objects by holder, per connection\n`);
  const rows = [...held].filter(([, c]) => c / n >= 0.05).sort((a, b) => b[1] - a[1]);
  console.log(
    table(["object ← holder.edge", "per conn"], rows.map(([k, c]) => [k, fmt(c / n, 2)])),
  );
}

const dir = mkdtempSync(`${tmpdir()}/idle-heap-`);
try {
  const [, port] = await until(/^PORT (\d+)/);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const mib = (kib: number) => fmt(kib / 1024, 1);
  type Reading = Awaited<ReturnType<typeof memory>>;
  const rows: string[][] = [];
  const row = (
    total: string,
    r: Reading,
    last: Reading | undefined,
    batch: number,
    gcs = "",
  ) =>
    rows.push([
      total,
      `${mib(r.rss)} (${mib(r.rss - r.anonymous)})`,
      `${mib(r.total)} (${mib(r.young)} / ${mib(r.old)})`,
      fmt(r.heap / 1e6, 2),
      `${fmt(r.external / 1e6, 2)} / ${fmt(r.malloced / 1e6, 2)}`,
      last ? fmt((r.rss - last.rss) / batch, 2) : "",
      last ? fmt((r.heap - last.heap) / batch, 0) : "",
      gcs,
    ]);
  const first = await memory("rss");
  row("0", first, undefined, 0);
  let lastGc = forceGc ? await memory("gc") : undefined;
  if (lastGc) row("0, gc", lastGc, undefined, 0);
  let last = first;
  const snaps: string[] = [];
  let previous = 0;
  for (const total of counts) {
    const batch = total - previous;
    const sampling = sampleAllocations && total === counts.at(-1);
    Object.assign(collections, { young: 0, full: 0, allocated: 0, promoted: 0 });
    if (sampling) await ask(args.includes("--promoted") ? "sample old" : "sample", /^SAMPLING/);
    const client = new Process(`idle client of ${serverName}`, [
      node20,
      "bench/peers/client_idle.mjs",
      "--port",
      port,
      "--connections",
      String(batch),
    ], { cpu: 1, fdLimit: 65536 });
    await client.lines.until(/^READY/, 180_000, client.name);
    if (sampling) {
      await ask(`sampled ${dir}/allocations.json`, /^SAMPLED/);
      allocations(`${dir}/allocations.json`, batch);
    }
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const now = await memory("rss");
    const { young, full, allocated, promoted } = collections;
    row(
      String(total),
      now,
      last,
      batch,
      `${young} / ${full}: ${fmt(allocated / batch, 0)} / ${fmt(promoted / batch, 0)}`,
    );
    last = now;
    if (forceGc) {
      const gc = await memory("gc");
      row(`${total}, gc`, gc, lastGc, batch);
      lastGc = gc;
    }
    if (snapshots) {
      const path = `${dir}/${total}.heapsnapshot`;
      await ask(`snap ${path}`, /^SNAP/);
      snaps.push(path);
    }
    previous = total;
  }
  const load = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
  console.log(`\n${serverName}: idle connections (load average ${load})\n`);
  console.log(table([
    "connections",
    "RSS (file-backed) MiB",
    "V8 heap (new / old) MiB",
    "heap used (MB)",
    "external / V8 malloc (MB)",
    "RSS KiB / conn",
    "heap used B / conn",
    "young / full collections: allocated / promoted B per conn",
  ], rows));
  if (snaps.length >= 2) {
    const a = groups(snaps[snaps.length - 2]);
    const b = groups(snaps[snaps.length - 1]);
    const n = counts[counts.length - 1] - counts[counts.length - 2];
    const diff: { key: string; count: number; size: number }[] = [];
    for (const [key, group] of b) {
      const before = a.get(key) ?? { count: 0, size: 0 };
      diff.push({ key, count: group.count - before.count, size: group.size - before.size });
    }
    for (const [key, group] of a) {
      if (!b.has(key)) diff.push({ key, count: -group.count, size: -group.size });
    }
    diff.sort((x, y) => y.size - x.size);
    if (explain.length > 0) retainers(snaps.at(-2)!, snaps.at(-1)!, n);
    const total = diff.reduce((sum, d) => sum + d.size, 0);
    console.log(
      `\nHeap snapshot difference per connection (${counts.at(-2)} → ${counts.at(-1)}): ${
        fmt(total / n, 0)
      } B\n`,
    );
    console.log(table(
      ["type", "name", "objects / conn", "bytes / conn"],
      diff.slice(0, top).map((d) => {
        const [type, name] = d.key.split("\t");
        return [type, name || "·", fmt(d.count / n, 2), fmt(d.size / n, 1)];
      }),
    ));
  }
} finally {
  child.kill("SIGKILL");
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
