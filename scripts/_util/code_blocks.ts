/**
 * The TypeScript and JavaScript code blocks of the project's Markdown files,
 * each with where it is (`README.md:97`) and which runtime it is written for,
 * and the package's import specifiers mapped to the local sources, so that
 * the blocks can be type-checked and run against the current code.
 *
 * A block's kind, first match wins:
 * 1. a word after the language in the fence: ` ```ts deno `, `bun`, `node`,
 *    `web` (`ignore` leaves the block out of every check);
 * 2. the nearest heading above it, when it names exactly one runtime
 *    ("Deno", "Bun", "Node", "Browser(s)" for `web`);
 * 3. what it imports or touches: `jsr:` or `server/deno` or `Deno.` → deno,
 *    `server/bun` or `Bun.` → bun, `server/node`, `node:` or `backplane/` →
 *    node;
 * 4. otherwise `web`: runtime-neutral code, checked against the DOM lib.
 *
 * Works on Deno, Bun and Node (only `node:fs` and `node:path`).
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Which runtime a block is written for; `web` is runtime-neutral (DOM lib only). */
export type BlockKind = "deno" | "bun" | "node" | "web";

const KINDS: readonly BlockKind[] = ["deno", "bun", "node", "web"];

/** One fenced TypeScript or JavaScript block of a Markdown file. */
export interface CodeBlock {
  /** The Markdown file, relative to the repository root. */
  file: string;
  /** The line of the opening fence (1-based); code line `i` is at `line + i`. */
  line: number;
  /** `README.md:97`. */
  where: string;
  /** `ts` or `js` (also for `typescript`, `tsx`, `javascript`, `mjs`). */
  lang: "ts" | "js";
  /** The words after the language in the fence. */
  markers: string[];
  /** Marked `ignore`: a fragment, not checked. */
  ignored: boolean;
  /** The nearest heading above the block, without the `#`s. */
  heading: string;
  kind: BlockKind;
  /** The code, as written. */
  code: string;
}

const LANGS: Record<string, "ts" | "js"> = {
  ts: "ts",
  typescript: "ts",
  tsx: "ts",
  js: "js",
  javascript: "js",
  mjs: "js",
};

/**
 * The Markdown files whose code blocks are checked: the README, the npm
 * README, and the READMEs of `conformance/` and of every example.
 */
export function documentationFiles(root: string): string[] {
  const files = ["README.md", "npm/README.md", "conformance/README.md"];
  const examples = join(root, "examples");
  if (existsSync(examples)) {
    const entries = readdirSync(examples, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory()) files.push(`examples/${entry.name}/README.md`);
    }
  }
  return files.filter((file) => existsSync(join(root, file)));
}

/** The TypeScript/JavaScript blocks of one Markdown file (`file` relative to `root`). */
export function codeBlocks(root: string, file: string): CodeBlock[] {
  const lines = readFileSync(join(root, file), "utf8").split("\n");
  const blocks: CodeBlock[] = [];
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const headingMatch = /^#{1,6}\s+(.*)$/.exec(lines[i]);
    if (headingMatch) {
      heading = headingMatch[1].trim();
      continue;
    }
    const fence = /^(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/.exec(lines[i]);
    if (!fence) continue;
    const end = lines.findIndex((line, j) => j > i && line.trimEnd() === fence[1]);
    const close = end === -1 ? lines.length : end;
    const lang = LANGS[fence[2].toLowerCase()];
    if (lang) {
      const markers = fence[3].split(/[\s,]+/).filter(Boolean);
      const code = lines.slice(i + 1, close).join("\n");
      blocks.push({
        file,
        line: i + 1,
        where: `${file}:${i + 1}`,
        lang,
        markers,
        ignored: markers.includes("ignore"),
        heading,
        kind: blockKind(markers, heading, code),
        code,
      });
    }
    i = close;
  }
  return blocks;
}

/** Every TypeScript/JavaScript block of {@linkcode documentationFiles}. */
export function allCodeBlocks(root: string): CodeBlock[] {
  return documentationFiles(root).flatMap((file) => codeBlocks(root, file));
}

/** A block's kind from its fence markers, its heading, then its imports (see the module doc). */
export function blockKind(markers: string[], heading: string, code: string): BlockKind {
  const marked = markers.find((word): word is BlockKind => KINDS.includes(word as BlockKind));
  if (marked) return marked;
  const named = KINDS.filter((kind) =>
    new RegExp(kind === "web" ? "\\bBrowsers?\\b" : `\\b${kind}\\b`, "i").test(heading)
  );
  if (named.length === 1) return named[0];
  const specifiers = importSpecifiers(code);
  const imports = (pattern: RegExp) => specifiers.some((specifier) => pattern.test(specifier));
  if (imports(/^jsr:|\/server\/deno$/) || /\bDeno\./.test(code)) return "deno";
  if (imports(/\/server\/bun$/) || /\bBun\./.test(code)) return "bun";
  if (imports(/^node:|\/server\/node$|\/backplane\//)) return "node";
  return "web";
}

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])([^"'\n]+)\2/g;

/** The module specifiers a block imports (static, `import()` and side-effect imports). */
export function importSpecifiers(code: string): string[] {
  return [...code.matchAll(SPECIFIER)].map((match) => match[3]);
}

/** The package's exports from `deno.json`: subpath (`.`, `./engine`, …) → source file. */
export function packageExports(root: string): Record<string, string> {
  const config = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  return config.exports as Record<string, string>;
}

// jsr:@wsc/websocket-channel@^0.1/engine, npm:websocket-channel/client, @wsc/websocket-channel, …
const PACKAGE = /^(?:jsr:|npm:)?(?:@wsc\/websocket-channel|websocket-channel)(?:@[^/]+)?(\/.*)?$/;

/**
 * The export subpath (`.`, `./server/deno`) a specifier names when it is one
 * of the package's names (JSR, npm, with or without `jsr:`/`npm:` and a
 * version), else `undefined`.
 */
export function packageSubpath(specifier: string): string | undefined {
  const match = PACKAGE.exec(specifier);
  return match ? `.${match[1] ?? ""}` : undefined;
}

/**
 * The code with every import of the package pointing at the local source of
 * that export (an absolute path). A subpath the package does not export is
 * left as written, so the checker reports it.
 */
export function localizeImports(
  code: string,
  root: string,
  exports: Record<string, string> = packageExports(root),
): string {
  return code.replace(SPECIFIER, (whole, before: string, quote: string, specifier: string) => {
    const subpath = packageSubpath(specifier);
    const target = subpath === undefined ? undefined : exports[subpath];
    return target === undefined ? whole : `${before}${quote}${join(root, target)}${quote}`;
  });
}

/**
 * A quick start moved to loopback ports: `port: 8080` (a key of `ports`)
 * becomes `port: <port>, hostname: "127.0.0.1"`, `.listen(8081)` gains the
 * host, and every other 8080/8081 (URLs) becomes the port. The README's
 * servers use 8080 and 8081; tests give them free ports instead.
 */
export function onLoopbackPorts(code: string, ports: Record<string, number>): string {
  let out = code;
  for (const [written, port] of Object.entries(ports)) {
    out = out
      .replace(new RegExp(`\\bport: ${written}\\b`, "g"), `port: ${port}, hostname: "127.0.0.1"`)
      .replace(new RegExp(`\\.listen\\(${written}\\)`, "g"), `.listen(${port}, "127.0.0.1")`)
      .replace(new RegExp(`\\b${written}\\b`, "g"), String(port));
  }
  return out;
}
