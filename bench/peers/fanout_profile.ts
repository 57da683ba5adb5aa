/**
 * Summarizes a `node --cpu-prof` profile of a bundled server: self time per
 * function, mapped back to the TypeScript source line through the bundle's
 * source map. Used by `bench/fanout.ts --cpu-prof DIR`; also runs alone:
 * `deno run -A bench/peers/fanout_profile.ts DIR BUNDLE.mjs.map [TOP] [PREFIX]`.
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
  /** Self samples per line of the function's script (1-based), when V8 recorded them. */
  positionTicks?: { line: number; ticks: number }[];
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
 * The top `top` functions by self time over every `.cpuprofile` in `dir`
 * whose name starts with `prefix`, as a markdown table.
 */
export async function summarizeProfile(
  dir: string,
  mapFile: string,
  top = 20,
  prefix = "",
): Promise<string> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".cpuprofile") && entry.name.startsWith(prefix)) {
      files.push(entry.name);
    }
  }
  if (files.length === 0) return `(no ${prefix}*.cpuprofile in ${dir})\n`;
  const map = JSON.parse(await Deno.readTextFile(mapFile));
  const lines = decodeMappings(map.mappings);
  const bundleName = mapFile.replace(/\.map$/, "").split("/").pop()!;

  /** Source file:line of a bundle position (0-based line and column). */
  const mapped = (line: number, column: number): string | undefined => {
    const segments = lines[line] ?? [];
    let best = segments[0];
    for (const segment of segments) {
      if (segment[0] <= column) best = segment;
      else break;
    }
    return best && `${String(map.sources[best[1]]).replace(/^(\.\.\/)+/, "")}:${best[2] + 1}`;
  };
  const where = (frame: CallFrame): string => {
    if (!frame.url.endsWith(bundleName)) {
      return frame.url
        ? `${frame.url.replace(/^.*node_modules\//, "")}:${frame.lineNumber + 1}`
        : "";
    }
    return mapped(frame.lineNumber, frame.columnNumber) ?? `${bundleName}:${frame.lineNumber + 1}`;
  };

  const self = new Map<string, { micros: number; name: string; where: string }>();
  let total = 0;
  let samples = 0;
  const lineTicks = new Map<string, { ticks: number; name: string }>();
  for (const file of files) {
    const profile: Profile = JSON.parse(await Deno.readTextFile(`${dir}/${file}`));
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    samples += profile.samples.length;
    for (const node of profile.nodes) {
      if (!node.positionTicks || !node.callFrame.url.endsWith(bundleName)) continue;
      for (const { line, ticks } of node.positionTicks) {
        const place = mapped(line - 1, 0) ?? `${bundleName}:${line}`;
        const entry = lineTicks.get(place) ?? { ticks: 0, name: node.callFrame.functionName };
        entry.ticks += ticks;
        lineTicks.set(place, entry);
      }
    }
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
  }
  const rows = [...self.values()].sort((a, b) => b.micros - a.micros).slice(0, top);
  let out = `${files.length} profile(s) ${prefix}*: ${(total / 1e6).toFixed(1)} s sampled\n\n`;
  out += "| self ms | self % | function | source:line |\n|---:|---:|---|---|\n";
  for (const row of rows) {
    out += `| ${(row.micros / 1000).toFixed(0)} | ${(100 * row.micros / total).toFixed(1)} | ` +
      `\`${row.name}\` | ${row.where} |\n`;
  }
  const hot = [...lineTicks.entries()].sort((a, b) => b[1].ticks - a[1].ticks).slice(0, top);
  out += "\nHot lines of our code (self samples by source line):\n\n";
  out += "| self % | source:line | in |\n|---:|---|---|\n";
  for (const [place, { ticks, name }] of hot) {
    out += `| ${(100 * ticks / samples).toFixed(1)} | ${place} | \`${name || "(anonymous)"}\` |\n`;
  }
  return out;
}

if (import.meta.main && Deno.args.length >= 2) {
  const [dir, map, top, prefix] = Deno.args;
  console.log(await summarizeProfile(dir, map, Number(top ?? 20), prefix ?? ""));
}
