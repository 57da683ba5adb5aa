// Preloaded into a Node server (`node --expose-gc --import ./bench/peers/heap_probe.mjs server.mjs`)
// by bench/idle_heap.ts: answers commands on stdin, one a line.
//   "rss"        → "RSS <KiB> HEAP <used bytes> TOTAL <heap size bytes> EXTERNAL <bytes>
//                   NEW <new space KiB> OLD <old space KiB> MALLOC <V8's malloc bytes>"
//                   (no collection)
//   "gc"         → two full collections, then the same line
//   "snap <path>"→ writes a heap snapshot (itself a full collection), then "SNAP"
//   "sample [old]" → starts sampling allocations (collected objects included; with "old" only
//                   those that survived the young generation), then "SAMPLING"
//   "sampled <path>" → stops and writes the sampling profile, then "SAMPLED"
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from "node:v8";
import { createInterface } from "node:readline";
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";

let session;
const post = (method, params) =>
  new Promise((resolve, reject) =>
    session.post(method, params, (error, result) => error ? reject(error) : resolve(result))
  );

const report = () => {
  const usage = process.memoryUsage();
  const spaces = Object.fromEntries(
    getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / 1024)]),
  );
  console.log(
    `RSS ${Math.round(usage.rss / 1024)} HEAP ${usage.heapUsed} TOTAL ${usage.heapTotal} ` +
      `EXTERNAL ${usage.external} NEW ${spaces.new_space} OLD ${spaces.old_space} ` +
      `MALLOC ${getHeapStatistics().malloced_memory}`,
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
  } else if (command === "sample") {
    // Allocation sampling that keeps what was collected since (every byte allocated counts).
    session ??= new Session();
    session.connect();
    post("HeapProfiler.startSampling", {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      // "sample old": only what survived the young generation (promoted, live or not).
      includeObjectsCollectedByMinorGC: argument !== "old",
    }).then(() => console.log("SAMPLING"));
  } else if (command === "sampled") {
    post("HeapProfiler.stopSampling").then(({ profile }) => {
      writeFileSync(argument, JSON.stringify(profile));
      session.disconnect();
      console.log("SAMPLED");
    });
  } else if (command === "snap") {
    writeHeapSnapshot(argument);
    console.log("SNAP");
  }
});
