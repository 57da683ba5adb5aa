// Preloaded into a Node server by `bench/echo.ts --gc` (`node --import ./bench/peers/gc_counter.mjs
// server.mjs`): counts the server's garbage collections by kind and, after each, writes the
// running totals as one JSON line `{"scavenges":S,"full":F,"newSpace":BYTES,"oldGeneration":BYTES}`
// to `<GC_COUNTS_DIR>/<pid>` (replacing it whole), for the benchmark to read at the ends of a window.
// Full collections are V8's mark-compacts; "newSpace" is the young generation's size and
// "oldGeneration" what the old generation and large objects use, as after the last collection.
import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { renameSync, writeFileSync } from "node:fs";
import process from "node:process";

const dir = process.env.GC_COUNTS_DIR;
if (dir) {
  const file = `${dir}/${process.pid}`;
  let scavenges = 0;
  let full = 0;
  const write = () => {
    let newSpace = 0;
    let oldGeneration = 0;
    for (const space of getHeapSpaceStatistics()) {
      if (space.space_name === "new_space") newSpace = space.space_size;
      else if (space.space_name !== "new_large_object_space") {
        oldGeneration += space.space_used_size;
      }
    }
    // Whole or not at all for a reader: written aside, then renamed over the last.
    writeFileSync(`${file}.tmp`, JSON.stringify({ scavenges, full, newSpace, oldGeneration }));
    renameSync(`${file}.tmp`, file);
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = entry.detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++;
    }
    write();
  }).observe({ entryTypes: ["gc"] });
  write();
}
