/**
 * Builds the npm package from the `deno.json` exports: what `dnt` would do,
 * done with TypeScript's compiler API (no JSR access needed).
 *
 * Output, in `npm/dist/` (the package root, git-ignored):
 * - every module reachable from an export as ESM `.js` plus `.d.ts`, keeping
 *   the source layout (`mod.ts` → `mod.js`, `src/engine/mod.ts` →
 *   `src/engine/mod.js`), relative `.ts` specifiers rewritten to `.js`, and
 *   JSDoc examples that name `@wsc/websocket-channel` renamed to
 *   `websocket-channel`;
 * - `package.json` from the `npm/package.template.json` template (version, `exports`
 *   with `types` first, `browser` and `sideEffects` from the repository's
 *   package.json `browser` field: the engine transport's installer, which
 *   browser bundlers drop and every other bundler must keep, as the entry
 *   points import it for its effect), `README.md` and `LICENSE` from `npm/`;
 * - `bin/websocket-channel-conformance.js`: the conformance harness's
 *   outside-implementation mode (`conformance/cli_entry.ts` → `external.ts`)
 *   bundled by esbuild (node platform, ESM, target node20, `node:` imports
 *   only, no dependency), with the files it runs (`install.sh`, the
 *   requirements it installs, `wstest_driver.py`) in `conformance/`, where the
 *   bundle looks for them (`../conformance/`); the template's `bin` names it.
 *
 * The output is then scanned: an import that is not relative or `node:`
 * (`jsr:`, `npm:`, `https:`, bare names: the package has no dependencies,
 * only optional peer dependencies that a subpath such as `./backplane/redis`
 * imports, declared in the template's `peerDependencies`), a
 * `node:` import or a `Deno`/`Bun` global outside `src/adapters/`, or a
 * `Deno.*` member access outside the Deno-only `src/adapters/deno.js` fails
 * the build. Type checking is not this script's job (`deno check` does it on
 * the sources; `scripts/check_npm.ts` type-checks the shipped `.d.ts` as a
 * consumer would), so emit runs with `noCheck`.
 *
 * Usage: `deno run -A scripts/build_npm.ts [--pack] [--allow-missing]`.
 * `--pack` runs `npm pack` into `npm/`. An export whose source file is
 * missing fails the build; `--allow-missing` skips it with a warning instead
 * (for trying the build while a subpath is being written).
 *
 * @module
 */
import ts from "typescript";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const defaultOutDir = `${root}/npm/dist`;

/** One entry of the package's `exports` map. */
export interface NpmEntry {
  /** The subpath, e.g. `"."` or `"./server/node"`. */
  subpath: string;
  /** The source file relative to the repository root, e.g. `./src/engine/mod.ts`. */
  source: string;
  /** The emitted module relative to the package root, e.g. `./src/engine/mod.js`. */
  js: string;
  /** Its declarations, e.g. `./src/engine/mod.d.ts`. */
  dts: string;
}

/** What {@linkcode buildNpm} produced. */
export interface NpmBuildResult {
  /** The package version (from `deno.json`). */
  version: string;
  /** The package root (`npm/dist`). */
  outDir: string;
  /** The exports that were built. */
  entries: NpmEntry[];
  /** Subpaths whose source file does not exist (yet). */
  missing: string[];
  /** Emitted files, relative to the package root. */
  files: string[];
  /** Scan findings; empty when the output is clean. */
  problems: string[];
  /** Absolute path of the packed tarball, when packing was asked for. */
  tarball?: string;
}

/** Options accepted by {@linkcode buildNpm}. */
export interface BuildNpmOptions {
  /** Skip (with a warning) an export whose source is missing instead of throwing. Default: false. */
  allowMissing?: boolean;
  /** Run `npm pack` afterwards. Default: false. */
  pack?: boolean;
  /** The package root to build into (emptied first). Default: `npm/dist`. */
  outDir?: string;
  /** Where `npm pack` writes the tarball. Default: `npm/`. */
  packDestination?: string;
  /** Overrides the `deno.json` exports (for trying the build on part of the tree). */
  exports?: Record<string, string>;
  /** Progress lines. Default: `console.log`. */
  log?: (line: string) => void;
}

/** The subpaths that only work on one runtime (they are still shipped; see npm/README.md). */
const RUNTIME_ONLY: Record<string, string> = {
  "./server/deno": "Deno",
  "./server/bun": "Bun",
};

/**
 * Builds `npm/dist` and optionally packs it.
 *
 * @example
 * ```ts ignore
 * import { buildNpm } from "./build_npm.ts";
 *
 * const result = await buildNpm({ pack: true });
 * if (result.problems.length > 0) throw new Error(result.problems.join("\n"));
 * ```
 */
export async function buildNpm(options: BuildNpmOptions = {}): Promise<NpmBuildResult> {
  const log = options.log ?? console.log;
  const denoJson = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const version: string = denoJson.version;
  const entries: NpmEntry[] = [];
  const missing: string[] = [];
  for (
    const [subpath, source] of Object.entries(
      options.exports ?? denoJson.exports as Record<string, string>,
    )
  ) {
    if (!(await exists(`${root}/${source}`))) {
      missing.push(subpath);
      continue;
    }
    const base = source.replace(/\.ts$/, "");
    entries.push({ subpath, source, js: `${base}.js`, dts: `${base}.d.ts` });
  }
  if (missing.length > 0) {
    const text = `exports without a source file: ${missing.join(", ")}`;
    if (!options.allowMissing) throw new Error(`Cannot build the npm package: ${text}`);
    log(`warning: skipping ${text}`);
  }
  if (entries.length === 0) {
    throw new Error("Cannot build the npm package: no export has a source file");
  }

  const outDir = options.outDir ?? defaultOutDir;
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  const files = emit(entries.map((e) => `${root}/${e.source.slice(2)}`), outDir);
  log(
    `emitted ${files.length} files for ${entries.length} exports into ${
      outDir.replace(`${root}/`, "")
    }`,
  );

  // Modules the repository's package.json maps to nothing in browsers, as emitted.
  const workspace = JSON.parse(await Deno.readTextFile(`${root}/package.json`));
  const dropped = Object.keys(workspace.browser ?? {})
    .map((path) => path.replace(/\.ts$/, ".js"))
    .filter((path) => files.includes(path.replace(/^\.\//, "")));
  const browser = Object.fromEntries(dropped.map((path) => [path, false]));

  const binFiles = await bundleConformanceBin(outDir);
  log(`bundled ${CONFORMANCE_BIN} (${binFiles.length - 1} run-time files in conformance/)`);
  files.push(...binFiles);

  const template = JSON.parse(await Deno.readTextFile(`${root}/npm/package.template.json`));
  const peers = new Set(Object.keys(template.peerDependencies ?? {}));
  const problems = await scanOutput(files.filter((f) => !binFiles.includes(f)), outDir, peers);
  problems.push(
    ...scanBin(CONFORMANCE_BIN, await Deno.readTextFile(`${outDir}/${CONFORMANCE_BIN}`)),
  );
  const declaredBin = Object.values(template.bin ?? {}).map((p) => String(p).replace(/^\.\//, ""));
  if (!declaredBin.includes(CONFORMANCE_BIN)) {
    problems.push(`npm/package.template.json: "bin" does not name ${CONFORMANCE_BIN}`);
  }
  for (const problem of problems) log(`problem: ${problem}`);

  delete template["//"];
  delete template.private;
  // For tools that predate `exports`.
  const main = entries.find((e) => e.subpath === ".");
  const manifest = {
    ...template,
    version,
    ...(main ? { main: main.js, types: main.dts } : {}),
    exports: exportsMap(entries),
    ...(dropped.length > 0 ? { browser, sideEffects: dropped } : {}),
  };
  await Deno.writeTextFile(`${outDir}/package.json`, JSON.stringify(manifest, null, 2) + "\n");
  await Deno.copyFile(`${root}/npm/README.md`, `${outDir}/README.md`);
  await Deno.copyFile(`${root}/npm/LICENSE`, `${outDir}/LICENSE`);

  const result: NpmBuildResult = { version, outDir, entries, missing, files, problems };
  if (options.pack) {
    result.tarball = await pack(outDir, options.packDestination ?? `${root}/npm`, version);
  }
  if (result.tarball) log(`packed ${result.tarball.replace(`${root}/`, "")}`);
  return result;
}

/** The conformance command's bundle, relative to the package root. */
export const CONFORMANCE_BIN = "bin/websocket-channel-conformance.js";
/** What the bundled harness reads at run time, from `conformance/` (see conformance/cli_entry.ts). */
const CONFORMANCE_ASSETS = ["install.sh", "requirements-py27.txt", "wstest_driver.py"];

/**
 * Bundles `conformance/cli_entry.ts` into {@linkcode CONFORMANCE_BIN} and copies its run-time files
 * to `conformance/`; returns the files written, relative to the package root.
 */
async function bundleConformanceBin(outDir: string): Promise<string[]> {
  const out = `${outDir}/${CONFORMANCE_BIN}`;
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")), { recursive: true });
  const child = new Deno.Command(`${root}/node_modules/.bin/esbuild`, {
    args: [
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      "--sourcefile=websocket-channel-conformance.ts",
      "--loader=ts",
      "--banner:js=#!/usr/bin/env node",
      "--legal-comments=none",
      "--log-level=warning",
      `--outfile=${out}`,
    ],
    cwd: `${root}/conformance`, // where the entry's relative import resolves
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(
      `import process from "node:process";
import { cli } from "./cli_entry.ts";
` +
        `await cli(process.argv.slice(2));
`,
    ),
  );
  await writer.close();
  const { success, stderr } = await child.output();
  if (!success) {
    throw new Error(`Cannot bundle ${CONFORMANCE_BIN}:\n${new TextDecoder().decode(stderr)}`);
  }
  await Deno.chmod(out, 0o755);
  await Deno.mkdir(`${outDir}/conformance`, { recursive: true });
  for (const name of CONFORMANCE_ASSETS) {
    await Deno.copyFile(`${root}/conformance/${name}`, `${outDir}/conformance/${name}`);
  }
  await Deno.chmod(`${outDir}/conformance/install.sh`, 0o755);
  return [CONFORMANCE_BIN, ...CONFORMANCE_ASSETS.map((name) => `conformance/${name}`)];
}

/**
 * The rules for the bundled command: a `#!/usr/bin/env node` first line and no import but `node:`
 * builtins (the package has no dependencies; the harness only spawns the fuzzer).
 *
 * @param file Path relative to the package root.
 * @param text The bundle's text.
 * @returns One line per problem.
 *
 * @example
 * ```ts
 * import { scanBin } from "./build_npm.ts";
 *
 * console.assert(scanBin("bin/x.js", '#!/usr/bin/env node\nimport "node:fs";').length === 0);
 * console.assert(scanBin("bin/x.js", '#!/usr/bin/env node\nimport "ws";').length === 1);
 * ```
 */
export function scanBin(file: string, text: string): string[] {
  const problems: string[] = [];
  if (!text.startsWith("#!/usr/bin/env node\n")) {
    problems.push(`${file}: does not start with #!/usr/bin/env node`);
  }
  for (const { fileName: specifier } of ts.preProcessFile(text, true, true).importedFiles) {
    if (!specifier.startsWith("node:")) {
      problems.push(`${file}: import "${specifier}" (the command may import node: builtins only)`);
    }
  }
  if (/\brequire\(\s*["'](?!node:)/.test(text)) {
    problems.push(`${file}: require() of something other than a node: builtin`);
  }
  return problems;
}

function exportsMap(entries: NpmEntry[]): Record<string, unknown> {
  const map: Record<string, unknown> = {};
  for (const entry of entries) {
    map[entry.subpath] = { types: entry.dts, default: entry.js };
  }
  map["./package.json"] = "./package.json";
  return map;
}

/** Emits `.js` + `.d.ts` for the entry points and everything they import; returns paths relative to outDir. */
function emit(rootNames: string[], outDir: string): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    types: ["node"],
    typeRoots: [`${root}/node_modules/@types`],
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    declaration: true,
    noCheck: true,
    strict: true,
    skipLibCheck: true,
    rootDir: root,
    outDir,
    newLine: ts.NewLineKind.LineFeed,
  };
  const written: string[] = [];
  const writeFile: ts.WriteFileCallback = (fileName, text) => {
    const relative = fileName.slice(outDir.length + 1);
    if (!fileName.startsWith(`${outDir}/`) || relative.startsWith("node_modules/")) {
      throw new Error(
        `Cannot emit ${fileName}: outside the package root (an import leaves the repository?)`,
      );
    }
    Deno.mkdirSync(fileName.slice(0, fileName.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(fileName, postProcess(text, fileName.endsWith(".d.ts")));
    written.push(relative);
  };
  // Two passes: the `.js` files without comments (the documentation lives in
  // the `.d.ts` files, where editors show it), the `.d.ts` files with them.
  const program = ts.createProgram({ rootNames, options: { ...options, removeComments: true } });
  const js = program.emit(undefined, (fileName, text, ...rest) => {
    if (!fileName.endsWith(".d.ts")) writeFile(fileName, text, ...rest);
  });
  const dtsProgram = ts.createProgram({
    rootNames,
    options: { ...options, emitDeclarationOnly: true },
    oldProgram: program,
  });
  const dts = dtsProgram.emit(undefined, writeFile);
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...js.diagnostics,
    ...dts.diagnostics,
  ];
  if (diagnostics.length > 0 || js.emitSkipped || dts.emitSkipped) {
    const host = {
      getCanonicalFileName: (f: string) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => "\n",
    };
    throw new Error(`Cannot emit the npm package:\n${ts.formatDiagnostics(diagnostics, host)}`);
  }
  const outside = program.getSourceFiles()
    .map((f) => f.fileName)
    .filter((f) => !f.includes("/node_modules/") && !f.startsWith(`${root}/`));
  if (outside.length > 0) {
    throw new Error(`Cannot build: sources outside the repository: ${outside.join(", ")}`);
  }
  return written.sort();
}

/**
 * Fixes up one emitted file: `rewriteRelativeImportExtensions` rewrites the
 * `.js` output only, so relative `.ts` specifiers of declarations are
 * rewritten here; doc examples get the npm package name.
 *
 * @param text The emitted text.
 * @param declaration Whether it is a `.d.ts` file.
 * @returns The text to write.
 *
 * @example
 * ```ts
 * import { postProcess } from "./build_npm.ts";
 *
 * console.assert(postProcess('export * from "./a.ts";', true) === 'export * from "./a.js";');
 * ```
 */
export function postProcess(text: string, declaration: boolean): string {
  let out = text.replaceAll("jsr:@wsc/websocket-channel", "websocket-channel")
    .replaceAll("@wsc/websocket-channel", "websocket-channel");
  if (declaration) {
    out = out.replace(
      /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"'\n]*?)\.ts(["'])/g,
      (_m, head: string, path: string, tail: string) => `${head}${path}.js${tail}`,
    );
  }
  return out;
}

const ADAPTERS = "src/adapters/";

/** Returns one line per forbidden import or runtime global in the emitted files. */
export async function scanOutput(
  files: string[],
  dir: string,
  peers: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const problems: string[] = [];
  const present = new Set(files);
  for (const file of files) {
    if (!file.endsWith(".js") && !file.endsWith(".d.ts")) continue;
    problems.push(
      ...scanModule(file, await Deno.readTextFile(`${dir}/${file}`), present, peers),
    );
  }
  return problems;
}

/**
 * The rules of {@linkcode scanOutput} for one emitted module.
 *
 * @param file Path relative to the package root, e.g. `src/channel/connect.js`.
 * @param text The module's text.
 * @param present Every file of the package, to check relative imports against.
 * @param peers Packages declared as (optional) peer dependencies: bare imports of these are allowed.
 * @returns One line per problem.
 *
 * @example
 * ```ts
 * import { scanModule } from "./build_npm.ts";
 *
 * const problems = scanModule("mod.js", 'import { x } from "jsr:@std/x";', new Set(["mod.js"]));
 * console.assert(problems.length === 1);
 * ```
 */
export function scanModule(
  file: string,
  text: string,
  present: ReadonlySet<string>,
  peers: ReadonlySet<string> = new Set(),
): string[] {
  const problems: string[] = [];
  const inAdapters = file.startsWith(ADAPTERS);
  for (const { fileName: specifier } of ts.preProcessFile(text, true, true).importedFiles) {
    if (specifier.startsWith("./") || specifier.startsWith("../")) {
      const target = resolveRelative(file, specifier);
      const wanted = file.endsWith(".d.ts") ? target.replace(/\.js$/, ".d.ts") : target;
      if (!specifier.endsWith(".js")) {
        problems.push(`${file}: import "${specifier}" does not end in .js`);
      } else if (!present.has(wanted)) {
        problems.push(`${file}: import "${specifier}" is not in the package`);
      }
    } else if (specifier.startsWith("node:")) {
      if (!inAdapters) problems.push(`${file}: "${specifier}" imported outside ${ADAPTERS}`);
    } else if (!peers.has(packageName(specifier))) {
      problems.push(`${file}: import "${specifier}" cannot be resolved by npm consumers`);
    }
  }
  if (text.includes("__rewriteRelativeImportExtension")) {
    problems.push(`${file}: a non-literal dynamic import needed a specifier rewriting helper`);
  }
  for (const [name, member] of runtimeGlobals(file, text)) {
    const home = `${ADAPTERS}${name.toLowerCase()}.`;
    if (!inAdapters) problems.push(`${file}: uses the ${name} global outside ${ADAPTERS}`);
    else if (member && !file.startsWith(home)) {
      problems.push(
        `${file}: ${name}.* outside the ${name}-only ${home}js (use feature detection)`,
      );
    }
  }
  return problems;
}

/** Finds `Deno`/`Bun` identifiers used as values or types; `[name, isMemberAccess]` per use. */
function runtimeGlobals(file: string, text: string): [string, boolean][] {
  // Parent pointers are needed to tell `Deno.x` from `foo.Deno`.
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const uses: [string, boolean][] = [];
  const visit = (node: ts.Node) => {
    if (ts.isIdentifier(node) && (node.text === "Deno" || node.text === "Bun")) {
      const parent = node.parent;
      const isName = (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isQualifiedName(parent) && parent.right === node) ||
        ts.isPropertyAssignment(parent) || ts.isPropertySignature(parent) ||
        ts.isMethodDeclaration(parent);
      const viaGlobal = ts.isPropertyAccessExpression(parent) && parent.name === node &&
        ts.isIdentifier(parent.expression) &&
        ["globalThis", "self", "window"].includes(parent.expression.text);
      if (!isName || viaGlobal) {
        const member = (ts.isPropertyAccessExpression(parent) && parent.expression === node) ||
          (ts.isQualifiedName(parent) && parent.left === node);
        uses.push([node.text, member]);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return uses;
}

/** `redis` of `redis/x`, `@scope/pkg` of `@scope/pkg/x`. */
function packageName(specifier: string): string {
  return specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
}

function resolveRelative(from: string, specifier: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

async function pack(outDir: string, destination: string, version: string): Promise<string> {
  await Deno.mkdir(destination, { recursive: true });
  for await (const entry of Deno.readDir(destination)) {
    if (/^websocket-channel-.*\.tgz$/.test(entry.name)) {
      await Deno.remove(`${destination}/${entry.name}`);
    }
  }
  const output = await new Deno.Command("npm", {
    args: [
      "pack",
      outDir,
      "--pack-destination",
      destination,
      "--ignore-scripts",
      "--json",
      "--silent",
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { npm_config_update_notifier: "false", npm_config_fund: "false" },
  }).output();
  if (!output.success) {
    throw new Error(`npm pack failed:\n${new TextDecoder().decode(output.stderr)}`);
  }
  const [info] = JSON.parse(new TextDecoder().decode(output.stdout));
  if (!info.filename.includes(version)) {
    throw new Error(`npm pack wrote ${info.filename}, expected version ${version}`);
  }
  return `${destination}/${info.filename}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

// Node 24 sets import.meta.main for a test bundle that imports this module, so
// also require that this file itself is the entry point.
if (import.meta.main && import.meta.url.endsWith("/build_npm.ts")) {
  const args = new Set(Deno.args);
  const result = await buildNpm({
    allowMissing: args.has("--allow-missing"),
    pack: args.has("--pack"),
  });
  for (const entry of result.entries) {
    const only = RUNTIME_ONLY[entry.subpath];
    console.log(`  ${entry.subpath.padEnd(16)} ${entry.js}${only ? `  (${only} only)` : ""}`);
  }
  if (result.problems.length > 0) {
    console.error(`${result.problems.length} problem(s) in the npm output`);
    Deno.exit(1);
  }
}
