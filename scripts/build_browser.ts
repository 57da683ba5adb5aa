/**
 * Builds the browser bundle of the runtime-neutral surface (`mod.ts`: channel,
 * engine, handshake, client core) with esbuild, checks that no runtime-specific
 * code reached it, and prints its size raw, minified and minified + gzip.
 *
 * The channel's `connect()` gets its engine transport (the engine over the
 * runtime's TCP/TLS dialer) from `src/adapters/engine_connect.ts`, which the
 * entry points import for its effect. The `browser` field of package.json
 * maps that module to nothing, so the engine, the HTTP handshake code and
 * permessage-deflate stay out of an app that only connects, and `connect()`
 * refuses the engine transport in a browser. The npm build writes the same
 * field into the published manifest, so browser bundlers that consume the npm
 * package (esbuild, webpack, Vite, Rollup's node-resolve) behave the same way.
 *
 * The budget applies to the typical app ({@linkcode BROWSER_APP}: `connect`,
 * `CloseCode`, `WebSocketClient`); the whole surface ({@linkcode BROWSER_SURFACE},
 * which also holds `fromStreams`, the engine and the handshake helpers) is
 * reported next to it.
 *
 * Runs under Deno, Bun and Node (only `node:` built-ins, esbuild's API and web
 * globals), so `test/browser_bundle_test.ts` can call {@linkcode buildBrowser}
 * on every runtime.
 *
 * Usage: `deno run -A scripts/build_browser.ts [--out <file>] [--update-readme]`;
 * writes `.build/browser/websocket-channel.min.js` by default and, with
 * `--update-readme`, the size table between the `browser-size` markers of
 * `README.md` and `npm/README.md`. Exits non-zero when the bundle holds
 * runtime-specific code or is over {@linkcode BROWSER_BUDGET_BYTES}.
 *
 * @module
 */
import * as esbuild from "esbuild";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** The repository root: found by walking up, because tests run this file from bundles under `.build/`. */
function findRoot(start: string): string {
  for (let dir = start;; dir = dirname(dir)) {
    if (existsSync(join(dir, "deno.json")) && existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`Cannot find the repository root above ${start}`);
  }
}

const root = findRoot(dirname(fileURLToPath(import.meta.url)));

/**
 * Gzipped size budget of the typical app's minified bundle ({@linkcode BROWSER_APP}),
 * in bytes: 12 KiB for the channel, engine and client core, plus 1 KiB since the
 * reconnecting client tracks unconfirmed messages (reports what a dying connection
 * may have lost, resends it on request), which added 0.9 KiB, plus 0.5 KiB since
 * every read of the client's stream is an independent reader with its own bounded
 * buffer and overflow policy (13,013 → 13,418 bytes), plus 2 KiB since every
 * entry point checks its arguments at the call (one check of what may be sent,
 * option types and ranges, WebSocket URL and subprotocol rules, the heartbeat a
 * browser can run) and channels can answer application-level pings: 13.4 →
 * 15.0 KiB; plus 1.5 KiB since every channel has `listen()` (the inbox that
 * hands messages over synchronously, pauses and resumes: +0.5 KiB) and the
 * reconnecting client is split into modules by concern (facade, core,
 * reconnect loop, send path, metrics: +0.6 KiB): 15.4 → 16.5 KiB; plus 0.25 KiB
 * since options objects may be class instances (their settings are read by
 * name, not spread) and the client records a send its transport took at once
 * without a promise of its own: 16.5 → 17.0 KiB (17,418 bytes).
 */
export const BROWSER_BUDGET_BYTES = 17 * 1024 + 256;

/** What {@linkcode buildBrowser} produced. */
export interface BrowserBuild {
  /** The minified ESM bundle. */
  code: string;
  /** Bytes of the same bundle built without minification. */
  rawBytes: number;
  /** Bytes of the minified bundle. */
  minBytes: number;
  /** Bytes of the minified bundle after gzip (level 9). */
  gzipBytes: number;
  /** Source files that went into the bundle, relative to the repository root. */
  inputs: string[];
  /** Minified bytes per folder (`src/engine`, `src/channel`, …), largest first. */
  layers: [string, number][];
  /** Forbidden content found in the bundle; empty when it is clean. */
  problems: string[];
}

/** Options accepted by {@linkcode buildBrowser}. */
export interface BuildBrowserOptions {
  /**
   * Source of the entry module, resolved from the repository root.
   * Default: {@linkcode BROWSER_SURFACE}.
   */
  contents?: string;
}

/**
 * The whole runtime-neutral surface, reported next to the budget: `mod.ts`
 * (channel, engine, handshake, errors) plus the reconnecting client.
 */
export const BROWSER_SURFACE = `export * from "./mod.ts";\nexport * from "./src/client/mod.ts";\n`;

/**
 * What a typical browser app imports, measured against {@linkcode BROWSER_BUDGET_BYTES}:
 * `connect`, close codes and the reconnecting client.
 */
export const BROWSER_APP = `import { CloseCode, connect } from "./mod.ts";
import { WebSocketClient } from "./src/client/mod.ts";
const channel = connect("wss://example.com/");
await channel.sink.close(CloseCode.normalClosure);
export const client = new WebSocketClient("wss://example.com/");
`;

/**
 * The npm package declares `"sideEffects": false` (npm/package.template.json);
 * the repository's own package.json does not, so the measurement says it for
 * our modules the way a bundler reads it from the package: a module none of
 * whose exports is used is dropped with its top-level tables.
 */
const sideEffectFreePlugin: esbuild.Plugin = {
  name: "side-effect-free-sources",
  setup(build) {
    // Left to esbuild, which applies the `browser` field of package.json to them.
    const mapped = new Set(
      Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).browser ?? {})
        .map((path) => join(root, path)),
    );
    build.onResolve({ filter: /^\.{1,2}\/.*\.ts$/ }, (args) => {
      const path = join(args.resolveDir, args.path);
      if (!path.startsWith(join(root, "src/")) && path !== join(root, "mod.ts")) return undefined;
      if (mapped.has(path)) return undefined;
      return { path, sideEffects: false };
    });
  },
};

async function bundle(
  contents: string,
  minify: boolean,
): Promise<esbuild.BuildResult & { metafile: esbuild.Metafile }> {
  return await esbuild.build({
    stdin: { contents, resolveDir: root, sourcefile: "browser_entry.ts", loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify,
    write: false,
    metafile: true,
    logLevel: "silent",
    absWorkingDir: root,
    plugins: [sideEffectFreePlugin],
  });
}

/** Returns one line per forbidden input or text in the bundle. */
function scanBundle(code: string, inputs: string[]): string[] {
  const problems: string[] = [];
  for (const input of inputs) {
    if (input.startsWith("src/adapters/")) problems.push(`bundle includes ${input}`);
  }
  const patterns: [RegExp, string][] = [
    [/node:/, "a node: specifier"],
    [/\bDeno\./, "Deno.*"],
    [/\bBun\./, "Bun.*"],
    [/\brequire\(/, "require()"],
  ];
  for (const [pattern, what] of patterns) {
    const match = pattern.exec(code);
    if (match) {
      const at = Math.max(0, match.index - 40);
      problems.push(`bundle contains ${what}: …${code.slice(at, match.index + 40)}…`);
    }
  }
  return problems;
}

/**
 * Builds the browser bundle in memory and scans it.
 *
 * @param options The entry module's source.
 * @returns The minified code, its sizes, inputs and problems.
 *
 * @example
 * ```ts ignore
 * import { buildBrowser } from "./build_browser.ts";
 *
 * const build = await buildBrowser();
 * console.log(build.gzipBytes, build.problems);
 * ```
 */
export async function buildBrowser(options: BuildBrowserOptions = {}): Promise<BrowserBuild> {
  const contents = options.contents ?? BROWSER_SURFACE;
  try {
    const raw = await bundle(contents, false);
    const min = await bundle(contents, true);
    const bytes = min.outputFiles![0].contents;
    const code = new TextDecoder().decode(bytes);
    const inputs = Object.keys(min.metafile.inputs).filter((i) => i !== "browser_entry.ts").sort();
    const layers = new Map<string, number>();
    for (const output of Object.values(min.metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const layer = input.startsWith("src/") ? input.split("/").slice(0, 2).join("/") : input;
        layers.set(layer, (layers.get(layer) ?? 0) + bytesInOutput);
      }
    }
    return {
      layers: [...layers].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]),
      code,
      rawBytes: raw.outputFiles![0].contents.byteLength,
      minBytes: bytes.byteLength,
      gzipBytes: gzipSync(bytes, { level: 9 }).byteLength,
      inputs,
      problems: scanBundle(code, inputs),
    };
  } finally {
    // Deno and Bun keep the esbuild service alive otherwise.
    await esbuild.stop();
  }
}

/** Formats a byte count as KiB with one decimal. */
export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

// The script name, not `import.meta.main`: a test bundle that inlines this module is
// itself the main module (Node 24 sets `import.meta.main` for it) and must not run it.
const isMain = /build_browser\.[jt]s$/.test(process.argv[1] ?? "");

/**
 * The size table kept in the READMEs between `<!-- browser-size:start -->` and
 * `<!-- browser-size:end -->`, padded the way `deno fmt` pads Markdown tables.
 */
export function sizeTable(surface: BrowserBuild, app: BrowserBuild): string {
  const rows = [
    ["browser bundle (esbuild, ES2022, ESM)", "raw", "minified", "minified + gzip"],
    ["whole runtime-neutral surface: `mod.ts` + `./client`", ...sizes(surface)],
    ["typical app: `connect`, `CloseCode`, `WebSocketClient`", ...sizes(app)],
  ];
  const widths = rows[0].map((_, i) => Math.max(3, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    `| ${
      cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join(
        " | ",
      )
    } |`;
  const rule = `| ${
    widths.map((w, i) => i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`).join(" | ")
  } |`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

function sizes(build: BrowserBuild): string[] {
  return [kib(build.rawBytes), kib(build.minBytes), kib(build.gzipBytes)];
}

async function updateReadme(path: string, table: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return false;
  }
  const pattern = /(<!-- browser-size:start -->)[\s\S]*?(<!-- browser-size:end -->)/;
  if (!pattern.test(text)) return false;
  const next = text.replace(
    pattern,
    (_m, start: string, end: string) => `${start}\n\n${table}\n\n${end}`,
  );
  if (next !== text) await writeFile(path, next);
  return true;
}

if (isMain) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf("--out");
  const out = outIndex >= 0
    ? args[outIndex + 1]
    : join(root, ".build/browser/websocket-channel.min.js");
  const surface = await buildBrowser();
  const app = await buildBrowser({ contents: BROWSER_APP });
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, surface.code);
  console.log(`browser bundle (${surface.inputs.length} modules): ${out}\n`);
  const table = sizeTable(surface, app);
  console.log(table);
  console.log("\n| whole surface: folder | minified bytes |\n| --- | ---: |");
  for (const [layer, bytes] of surface.layers) console.log(`| ${layer} | ${bytes} |`);
  console.log("\n| typical app: folder | minified bytes |\n| --- | ---: |");
  for (const [layer, bytes] of app.layers) console.log(`| ${layer} | ${bytes} |`);
  const over = app.gzipBytes > BROWSER_BUDGET_BYTES;
  console.log(
    `\ntypical app ${kib(app.gzipBytes)} min+gzip, budget ${kib(BROWSER_BUDGET_BYTES)}: ${
      over ? "OVER" : "ok"
    }`,
  );
  if (args.includes("--update-readme")) {
    for (const readme of ["README.md", "npm/README.md"]) {
      if (await updateReadme(join(root, readme), table)) {
        console.log(`updated the size table in ${readme}`);
      }
    }
  }
  for (const problem of [...surface.problems, ...app.problems]) {
    console.error(`problem: ${problem}`);
  }
  if (surface.problems.length > 0 || app.problems.length > 0 || over) process.exit(1);
}
