/**
 * Summarizes a `node --cpu-prof` profile of a bundled server: self time per
 * function, mapped back to the TypeScript source line through the bundle's
 * source map. Used by `scripts/bench_fanout.ts --cpu-prof DIR`; also runs alone:
 * `deno run -A scripts/bench/fanout_profile.ts DIR BUNDLE.mjs.map [TOP]`.
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Generated line → sorted segments [generated column, source index, source line]. */
function decodeMappings(mappings: string): number[][][] {
  const lines: number[][][] = [];
  let source = 0, sourceLine = 0, sourceColumn = 0, name = 0;
  for (const line of mappings.split(";")) {
    const segments: number[][] = [];
    let column = 0;
    if (line) {
      for (const segment of line.split(",")) {
        const values: number[] = [];
        let value = 0, shift = 0;
        for (const char of segment) {
          const digit = BASE64.indexOf(char);
          value += (digit & 31) << shift;
          if (digit & 32) {
            shift += 5;
          } else {
            values.push(value & 1 ? -(value >>> 1) : value >>> 1);
            value = 0;
            shift = 0;
          }
        }
        column += values[0];
        if (values.length >= 4) {
          source += values[1];
          sourceLine += values[2];
          sourceColumn += values[3];
          if (values.length >= 5) name += values[4];
          segments.push([column, source, sourceLine]);
        }
      }
    }
    lines.push(segments);
  }
  return lines;
}

/**
 * The top `top` functions by self time of the newest `.cpuprofile` in `dir`,
 * as a markdown table.
 */
export async function summarizeProfile(dir: string, mapFile: string, top = 20): Promise<string> {
  const files: { name: string; mtime: number }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".cpuprofile")) {
      files.push({
        name: entry.name,
        mtime: Deno.statSync(`${dir}/${entry.name}`).mtime!.getTime(),
      });
    }
  }
  if (files.length === 0) return `(no .cpuprofile in ${dir})\n`;
  files.sort((a, b) => b.mtime - a.mtime);
  const profile: Profile = JSON.parse(await Deno.readTextFile(`${dir}/${files[0].name}`));
  const map = JSON.parse(await Deno.readTextFile(mapFile));
  const lines = decodeMappings(map.mappings);
  const bundleName = mapFile.replace(/\.map$/, "").split("/").pop()!;

  const where = (frame: CallFrame): string => {
    if (!frame.url.endsWith(bundleName)) {
      return frame.url
        ? `${frame.url.replace(/^.*node_modules\//, "")}:${frame.lineNumber + 1}`
        : "";
    }
    const segments = lines[frame.lineNumber] ?? [];
    let best = segments[0];
    for (const segment of segments) {
      if (segment[0] <= frame.columnNumber) best = segment;
      else break;
    }
    if (!best) return `${bundleName}:${frame.lineNumber + 1}`;
    return `${String(map.sources[best[1]]).replace(/^(\.\.\/)+/, "")}:${best[2] + 1}`;
  };

  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, { micros: number; name: string; where: string }>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])!;
    const delta = profile.timeDeltas[i + 1] ?? 0;
    total += delta;
    const frame = node.callFrame;
    const place = where(frame);
    const key = `${frame.functionName}|${place}`;
    const entry = self.get(key) ??
      { micros: 0, name: frame.functionName || "(anonymous)", where: place };
    entry.micros += delta;
    self.set(key, entry);
  }
  const rows = [...self.values()].sort((a, b) => b.micros - a.micros).slice(0, top);
  let out = `Profile ${files[0].name}: ${(total / 1e6).toFixed(1)} s sampled\n\n`;
  out += "| self ms | self % | function | source:line |\n|---:|---:|---|---|\n";
  for (const row of rows) {
    out += `| ${(row.micros / 1000).toFixed(0)} | ${(100 * row.micros / total).toFixed(1)} | ` +
      `\`${row.name}\` | ${row.where} |\n`;
  }
  return out;
}

if (import.meta.main && Deno.args.length >= 2) {
  console.log(await summarizeProfile(Deno.args[0], Deno.args[1], Number(Deno.args[2] ?? 20)));
}
