/**
 * Checks the shape of `src/`: the import graph (type-only and lazy imports
 * included) has no cycle and no edge that goes up the layers, and no file is
 * past {@linkcode MAX_LINES} lines except the ones on
 * {@linkcode OVERSIZED_ALLOWED}, a list that only shrinks.
 *
 * The layers, lowest first; a folder may import only the folders
 * {@linkcode LAYERS} lists for it (the project's design document draws the
 * same table): `_util` → `engine` → `handshake`, `deflate` → `channel` →
 * `adapters`, `client`, `fanout` → `backplane`, `testing`, `session`.
 *
 * The entry points named in `deno.json` (`mod.ts`, `src/client/mod.ts`, …)
 * are the composition roots: they may import any layer, which is how a
 * runtime's TCP/TLS dialer reaches `connect()` without `src/channel/`
 * naming `src/adapters/`. They take part in the cycle check like every file.
 *
 * Runs under Deno, Bun and Node (TypeScript's scanner, `node:` built-ins), so
 * `test/scripts/check_imports_test.ts` runs it on every runtime in `npm test`.
 *
 * Usage: `deno run -A scripts/check_imports.ts`; prints every problem and
 * exits non-zero when there is one.
 *
 * @module
 */
import ts from "typescript";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** Lines past which a file in `src/` must be split. */
export const MAX_LINES = 500;

/**
 * Files in `src/` still past {@linkcode MAX_LINES}, waiting to be split along
 * their seams. A file that is no longer too long must leave the list.
 */
export const OVERSIZED_ALLOWED: readonly string[] = [];

/** The folders of `src/` each folder may import (besides itself). */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  _util: [],
  engine: ["_util"],
  handshake: ["_util", "engine"],
  deflate: ["_util", "engine"],
  channel: ["_util", "engine", "handshake", "deflate"],
  adapters: ["_util", "engine", "handshake", "deflate", "channel"],
  client: ["_util", "engine", "handshake", "channel"],
  fanout: ["_util", "engine", "deflate", "channel"],
  backplane: ["_util", "engine", "fanout"],
  testing: ["_util", "engine", "handshake", "deflate", "channel", "client"],
  session: ["_util", "engine", "channel", "client", "fanout"],
};

/** A module graph: repository-relative path → the repository files it imports. */
export type ImportGraph = Map<string, string[]>;

/**
 * The relative imports of one module's source: static, `export … from`,
 * `import type` and `import()` with a literal specifier. Comments (JSDoc
 * examples) do not count.
 *
 * @param source TypeScript source text.
 * @returns The specifiers in order of appearance.
 *
 * @example
 * ```ts
 * import { relativeImports } from "./check_imports.ts";
 *
 * const found = relativeImports(`import type { A } from "./a.ts";\nconst b = import("../b.ts");`);
 * console.assert(found.join() === "./a.ts,../b.ts");
 * ```
 */
export function relativeImports(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles
    .map((file) => file.fileName)
    .filter((name) => name.startsWith("./") || name.startsWith("../"));
}

/**
 * Builds the graph of every `.ts` file under `src/` and the given entry files.
 *
 * @param root The repository root.
 * @param entries Extra files outside `src/` to include, relative to `root` (e.g. `mod.ts`).
 * @returns Each file with the repository files it imports.
 *
 * @example
 * ```ts ignore
 * import { importGraph } from "./check_imports.ts";
 *
 * const graph = importGraph(".", ["mod.ts"]);
 * console.log(graph.get("mod.ts"));
 * ```
 */
export function importGraph(root: string, entries: readonly string[] = []): ImportGraph {
  const files: string[] = [...entries];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const path = `${dir}/${name}`;
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith(".ts")) files.push(path);
    }
  };
  walk("src");
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const source = readFileSync(join(root, file), "utf8");
    graph.set(
      file,
      relativeImports(source).map((specifier) =>
        posix.normalize(posix.join(posix.dirname(file), specifier))
      ),
    );
  }
  return graph;
}

/**
 * The import cycles of a graph: its strongly connected components with more
 * than one file (or a file importing itself), each sorted.
 *
 * @param graph The module graph.
 * @returns The cycles, empty when the graph is acyclic.
 *
 * @example
 * ```ts
 * import { findCycles } from "./check_imports.ts";
 *
 * const graph = new Map([["a.ts", ["b.ts"]], ["b.ts", ["a.ts"]], ["c.ts", ["a.ts"]]]);
 * console.assert(JSON.stringify(findCycles(graph)) === '[["a.ts","b.ts"]]');
 * ```
 */
export function findCycles(graph: ImportGraph): string[][] {
  // Tarjan's algorithm, iterative so a long chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; edge: number }[] = [{ node: start, edge: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const edges = graph.get(frame.node) ?? [];
      if (frame.edge < edges.length) {
        const to = edges[frame.edge++];
        if (!graph.has(to)) continue;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.node);
      const selfLoop = (graph.get(frame.node) ?? []).includes(frame.node);
      if (component.length > 1 || selfLoop) cycles.push(component.sort());
    }
  }
  return cycles;
}

/**
 * The edges that break {@linkcode LAYERS}: from a `src/` folder to one it may
 * not import, or into a folder the table does not know. Edges from an entry
 * point are allowed.
 *
 * @param graph The module graph.
 * @param entryPoints Files that may import any layer (the `deno.json` exports).
 * @returns One line per forbidden edge, `from -> to (layer -> layer)`.
 *
 * @example
 * ```ts
 * import { layerViolations } from "./check_imports.ts";
 *
 * const graph = new Map([["src/engine/a.ts", ["src/channel/b.ts"]], ["src/channel/b.ts", []]]);
 * console.assert(layerViolations(graph, []).length === 1);
 * ```
 */
export function layerViolations(graph: ImportGraph, entryPoints: readonly string[]): string[] {
  const layerOf = (file: string) => file.startsWith("src/") ? file.split("/")[1] : undefined;
  const problems: string[] = [];
  for (const [from, targets] of graph) {
    if (entryPoints.includes(from)) continue;
    const fromLayer = layerOf(from);
    for (const to of targets) {
      const toLayer = layerOf(to);
      if (fromLayer === undefined || toLayer === undefined) {
        if (fromLayer !== undefined) problems.push(`${from} -> ${to} (src/ imports outside src/)`);
        continue;
      }
      if (fromLayer === toLayer) continue;
      const allowed = LAYERS[fromLayer];
      if (allowed === undefined) {
        problems.push(`${from} -> ${to} (${fromLayer} is not a known layer)`);
      } else if (!allowed.includes(toLayer)) {
        problems.push(`${from} -> ${to} (${fromLayer} may not import ${toLayer})`);
      }
    }
  }
  return problems;
}

/**
 * Files past {@linkcode MAX_LINES} that are not allowed to be, and allowed
 * files that are no longer too long (so the list shrinks).
 *
 * @param lines Line count per file.
 * @param allowed The allow-list.
 * @returns One line per problem.
 *
 * @example
 * ```ts
 * import { sizeViolations } from "./check_imports.ts";
 *
 * console.assert(sizeViolations(new Map([["src/a.ts", 501]]), []).length === 1);
 * console.assert(sizeViolations(new Map([["src/a.ts", 120]]), ["src/a.ts"]).length === 1);
 * ```
 */
export function sizeViolations(
  lines: ReadonlyMap<string, number>,
  allowed: readonly string[],
): string[] {
  const problems: string[] = [];
  for (const [file, count] of lines) {
    if (count > MAX_LINES && !allowed.includes(file)) {
      problems.push(`${file}: ${count} lines, past ${MAX_LINES}: split it along its seams`);
    }
  }
  for (const file of allowed) {
    const count = lines.get(file);
    if (count === undefined || count <= MAX_LINES) {
      problems.push(`${file}: no longer past ${MAX_LINES} lines, remove it from OVERSIZED_ALLOWED`);
    }
  }
  return problems;
}

/** The entry points of `deno.json` that live in this repository, relative to `root`. */
export function entryPoints(root: string): string[] {
  const { exports } = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  return Object.values(exports as Record<string, string>).map((path) => posix.normalize(path));
}

/**
 * Every problem of the repository at `root`: cycles, layer violations, files
 * that are too long.
 *
 * @param root The repository root.
 * @returns One line per problem, empty when `src/` is in shape.
 *
 * @example
 * ```ts ignore
 * import { checkImports } from "./check_imports.ts";
 *
 * console.log(checkImports("."));
 * ```
 */
export function checkImports(root: string): string[] {
  const entries = entryPoints(root);
  const graph = importGraph(root, entries.filter((entry) => !entry.startsWith("src/")));
  const lines = new Map<string, number>();
  for (const file of graph.keys()) {
    if (!file.startsWith("src/")) continue;
    const text = readFileSync(join(root, file), "utf8");
    lines.set(file, text.split("\n").length - (text.endsWith("\n") ? 1 : 0));
  }
  return [
    ...findCycles(graph).map((cycle) => `import cycle: ${cycle.join(", ")}`),
    ...layerViolations(graph, entries),
    ...sizeViolations(lines, OVERSIZED_ALLOWED),
  ];
}

function findRoot(start: string): string {
  for (let dir = start;; dir = dirname(dir)) {
    if (existsSync(join(dir, "deno.json")) && existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`Cannot find the repository root above ${start}`);
  }
}

/** The repository root, found from this file. */
export const repositoryRoot: string = findRoot(dirname(fileURLToPath(import.meta.url)));

// Named in argv, not import.meta.main: a test bundle that inlines this module is the main module.
if (/check_imports\.[jt]s$/.test(process.argv[1] ?? "")) {
  const problems = checkImports(repositoryRoot);
  for (const problem of problems) console.error(problem);
  console.log(problems.length === 0 ? "src/ is in shape" : `${problems.length} problems`);
  if (problems.length > 0) process.exit(1);
}
