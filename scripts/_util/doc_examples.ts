/**
 * The `@example` blocks of the sources' JSDoc and the imports they make, and
 * which names each package entry point exports, so that a test can require
 * examples to import from the package name (`@wsc/websocket-channel/…`)
 * whenever the package exports what they use.
 *
 * Works on Deno, Bun and Node (only `node:fs` and `node:path`).
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { packageExports } from "./code_blocks.ts";

/** The package's name on JSR, the one the examples import. */
export const PACKAGE_NAME = "@wsc/websocket-channel";

/** One import statement of an example. */
export interface ExampleImport {
  specifier: string;
  /** Imported names (`type` and `as` stripped); empty for `import "x"` and namespace imports. */
  names: string[];
  /** The statement as written. */
  statement: string;
  /** Its line in the source file (1-based). */
  line: number;
}

/** One fenced code block after an `@example` tag. */
export interface DocExample {
  /** The source file, relative to the repository root. */
  file: string;
  /** Line of the `@example` tag (1-based). */
  line: number;
  code: string;
  imports: ExampleImport[];
}

/** `mod.ts` and every `.ts` file under `src/`, relative to `root`, sorted. */
export function sourceFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) found.push(path);
    }
  };
  if (existsSync(join(root, "src"))) walk("src");
  if (existsSync(join(root, "mod.ts"))) found.push("mod.ts");
  return found.sort();
}

const IMPORT =
  /^import\s+(type\s+)?([\s\S]*?)\s*from\s*["']([^"']+)["'];?|^import\s*["']([^"']+)["'];?/gm;

/** The import statements of a piece of code, with their offsets in it. */
export function parseImports(code: string): (Omit<ExampleImport, "line"> & { index: number })[] {
  return [...code.matchAll(IMPORT)].map((match) => {
    const clause = match[2] ?? "";
    const braces = /\{([\s\S]*)\}/.exec(clause)?.[1] ?? "";
    const names = braces.split(",").map((part) =>
      part.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0].trim()
    ).filter(Boolean);
    if (/^[A-Za-z_$][\w$]*\s*(?:,|$)/.test(clause.trim())) names.push("default");
    return { specifier: match[3] ?? match[4], names, statement: match[0], index: match.index };
  });
}

/** The `@example` blocks of one source file (`file` relative to `root`). */
export function docExamples(root: string, file: string): DocExample[] {
  const text = readFileSync(join(root, file), "utf8");
  const examples: DocExample[] = [];
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const lines = comment[0].split("\n").map((line) => line.replace(/^\s*\*(?: |$)/, ""));
    const firstLine = text.slice(0, comment.index).split("\n").length;
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*@example\b/.test(lines[i])) continue;
      const open = lines.findIndex((line, j) => j > i && /^\s*```/.test(line));
      if (open === -1) continue;
      const close = lines.findIndex((line, j) => j > open && /^\s*```\s*$/.test(line));
      const body = lines.slice(open + 1, close === -1 ? lines.length - 1 : close);
      const code = body.join("\n");
      const imports = parseImports(code).map(({ index, ...rest }) => ({
        ...rest,
        line: firstLine + open + 1 + code.slice(0, index).split("\n").length - 1,
      }));
      examples.push({ file, line: firstLine + i, code, imports });
      i = close === -1 ? lines.length : close;
    }
  }
  return examples;
}

/** Where an exported name is declared: absolute path of the module. */
type Origins = Map<string, string>;

/**
 * Reads a module's exports (values and types) and where each is declared,
 * following `export … from` and `export * from` through the sources.
 */
export class ExportIndex {
  readonly #root: string;
  readonly #cache = new Map<string, Origins>();
  /** Per entry point (`.`, `./engine`): name → declaring module. */
  readonly entries: Map<string, Origins>;

  constructor(root: string) {
    this.#root = root;
    this.entries = new Map();
    for (const [subpath, file] of Object.entries(packageExports(root))) {
      this.entries.set(subpath, this.exportsOf(join(root, file)));
    }
  }

  /** The names `path` exports and the module declaring each. */
  exportsOf(path: string, seen = new Set<string>()): Origins {
    const cached = this.#cache.get(path);
    if (cached) return cached;
    const origins: Origins = new Map();
    if (seen.has(path) || !existsSync(path)) return origins;
    seen.add(path);
    const text = readFileSync(path, "utf8").replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, "");
    const declared =
      /^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|class|const|let|var|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/gm;
    for (const match of text.matchAll(declared)) origins.set(match[1], path);
    const named = /^export\s+(?:type\s+)?\{([^}]*)\}(?:\s*from\s*["']([^"']+)["'])?/gm;
    for (const match of text.matchAll(named)) {
      const from = match[2] ? this.exportsOf(resolve(dirname(path), match[2]), seen) : undefined;
      for (const part of match[1].split(",")) {
        const [local, exported = local] = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/)
          .map((name) => name.trim());
        if (exported) origins.set(exported, from?.get(local) ?? path);
      }
    }
    for (const match of text.matchAll(/^export\s+\*\s+from\s*["']([^"']+)["']/gm)) {
      for (const [name, origin] of this.exportsOf(resolve(dirname(path), match[1]), seen)) {
        if (!origins.has(name)) origins.set(name, origin);
      }
    }
    this.#cache.set(path, origins);
    return origins;
  }

  /**
   * The entry points that export the same declaration as `name` imported
   * from `specifier` (relative) in `file`, best first: the entry whose
   * source folder holds `file` (`src/client/…` → `./client`), then the root.
   */
  entriesFor(file: string, specifier: string, name: string): string[] {
    const module = resolve(this.#root, dirname(file), specifier);
    const origin = this.exportsOf(module).get(name);
    if (!origin) return [];
    const found = [...this.entries].filter(([, origins]) => origins.get(name) === origin)
      .map(([subpath]) => subpath);
    const exports = packageExports(this.#root);
    const home = (subpath: string) => {
      const folder = dirname(exports[subpath]).replace(/^\.\//, "");
      return folder !== "." && !relative(folder, dirname(file)).startsWith("..");
    };
    const rank = (subpath: string) => home(subpath) ? 0 : subpath === "." ? 1 : 2;
    return found.sort((a, b) => rank(a) - rank(b));
  }
}

/** The import specifier of an entry point: `.` → `@wsc/websocket-channel`, `./engine` → `…/engine`. */
export function packageSpecifier(subpath: string): string {
  return subpath === "." ? PACKAGE_NAME : `${PACKAGE_NAME}/${subpath.slice(2)}`;
}
