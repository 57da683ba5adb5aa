import { test } from "node:test";
import assert from "node:assert/strict";
import {
  docExamples,
  ExportIndex,
  PACKAGE_NAME,
  packageSpecifier,
  parseImports,
  sourceFiles,
} from "../../scripts/_util/doc_examples.ts";
import { packageExports, packageSubpath } from "../../scripts/_util/code_blocks.ts";
import { repoRoot } from "../_util/runtimes.ts";

// The `@example` blocks of mod.ts and src/ are what users copy from the API
// reference (`npm run docs`, JSR, editors): they import from the package
// name, `@wsc/websocket-channel/…` as deno.json exports it (the npm build
// rewrites it to `websocket-channel`), never from a relative path, whenever
// the package exports what they use. Examples of internal helpers, which no
// entry point exports and the reference never shows, keep their relative
// import: no package specifier reaches them.

const index = new ExportIndex(repoRoot);
const exports = packageExports(repoRoot);
const examples = sourceFiles(repoRoot).flatMap((file) => docExamples(repoRoot, file));

test("the sources have @example blocks with imports to check", () => {
  assert.ok(examples.length > 100, `${examples.length} examples`);
  assert.ok(examples.some((example) => example.imports.length > 0));
});

test("no @example imports a relative path for something the package exports", () => {
  const findings: string[] = [];
  for (const example of examples) {
    for (const imported of example.imports) {
      if (!imported.specifier.startsWith(".")) continue;
      for (const name of imported.names) {
        const entries = index.entriesFor(example.file, imported.specifier, name);
        if (entries.length === 0) continue;
        findings.push(
          `${example.file}:${imported.line}: ${name} from "${imported.specifier}": ` +
            `import it from "${packageSpecifier(entries[0])}"`,
        );
      }
    }
  }
  assert.deepEqual(findings, []);
});

test("every package import of an @example names an export and what it exports", () => {
  const findings: string[] = [];
  for (const example of examples) {
    for (const imported of example.imports) {
      const subpath = packageSubpath(imported.specifier);
      if (subpath === undefined) continue;
      const where = `${example.file}:${imported.line}: "${imported.specifier}"`;
      if (!imported.specifier.startsWith(PACKAGE_NAME)) {
        findings.push(`${where}: write "${PACKAGE_NAME}${subpath.slice(1)}" (deno.json's name)`);
      } else if (!(subpath in exports)) {
        findings.push(`${where}: deno.json exports no ${subpath}`);
      } else {
        const names = index.entries.get(subpath)!;
        for (const name of imported.names) {
          if (!names.has(name)) findings.push(`${where} exports no ${name}`);
        }
      }
    }
  }
  assert.deepEqual(findings, []);
});

test("the export index follows re-exports to the declaring module", () => {
  assert.ok(index.entries.get(".")!.has("WebSocketChannel"));
  assert.ok(index.entries.get("./engine")!.has("Protocol"));
  // Three entry points export a `serve`; each example gets its own.
  assert.deepEqual(index.entriesFor("src/adapters/bun.ts", "./bun.ts", "serve"), ["./server/bun"]);
  assert.deepEqual(index.entriesFor("src/adapters/node.ts", "./node.ts", "serve"), [
    "./server/node",
  ]);
  assert.deepEqual(index.entriesFor("src/engine/frame.ts", "./no_such_file.ts", "x"), []);
});

test("imports are read with their names, type-only and renamed ones too", () => {
  const parsed = parseImports(
    'import { a, type B, c as d } from "./x.ts";\nimport type { E } from "@wsc/websocket-channel/engine";\nimport "./side.ts";',
  );
  assert.deepEqual(parsed.map(({ specifier, names }) => ({ specifier, names })), [
    { specifier: "./x.ts", names: ["a", "B", "c"] },
    { specifier: "@wsc/websocket-channel/engine", names: ["E"] },
    { specifier: "./side.ts", names: [] },
  ]);
});
