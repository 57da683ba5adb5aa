// Preloaded into a Node server (`node --expose-gc --import ./bench/peers/heap_probe.mjs server.mjs`)
// by bench/idle_heap.ts: answers commands on stdin, one a line.
//   "rss"        → "RSS <KiB> HEAP <used bytes> TOTAL <heap size bytes> EXTERNAL <bytes>
//                   NEW <new space KiB> OLD <old space KiB>" (no collection)
//   "gc"         → two full collections, then the same line
//   "snap <path>"→ writes a heap snapshot (itself a full collection), then "SNAP"
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import { createInterface } from "node:readline";

const report = () => {
  const usage = process.memoryUsage();
  const spaces = Object.fromEntries(
    getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / 1024)]),
  );
  console.log(
    `RSS ${Math.round(usage.rss / 1024)} HEAP ${usage.heapUsed} TOTAL ${usage.heapTotal} ` +
      `EXTERNAL ${usage.external} NEW ${spaces.new_space} OLD ${spaces.old_space}`,
  );
};
createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, argument] = line.trim().split(" ");
  if (command === "gc") {
    globalThis.gc();
    globalThis.gc();
    report();
  } else if (command === "rss") {
    report();
  } else if (command === "snap") {
    writeHeapSnapshot(argument);
    console.log("SNAP");
  }
});
