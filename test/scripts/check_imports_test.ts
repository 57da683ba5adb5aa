/**
 * The shape of `src/` (scripts/check_imports.ts): no import cycle, no edge up
 * the layers, no file past the line limit except the shrinking allow-list;
 * and the checks themselves catch what they are for.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkImports,
  findCycles,
  type ImportGraph,
  layerViolations,
  MAX_LINES,
  relativeImports,
  sizeViolations,
} from "../../scripts/check_imports.ts";
import { repoRoot } from "../_util/runtimes.ts";

test("src/ has no import cycle, no edge up the layers and no file past the line limit", () => {
  assert.deepEqual(checkImports(repoRoot), []);
});

test("relativeImports counts type-only, re-export and lazy imports, not comments or packages", () => {
  const source = `/**
 * @example
 * \`\`\`ts
 * import { connect } from "./in_a_comment.ts";
 * \`\`\`
 */
import type { A } from "./a.ts";
import { b } from "../b.ts";
export { c } from "./c.ts";
export type { D } from "./d.ts";
import "./e.ts";
import { createServer } from "node:http";
import ts from "typescript";
const f = () => import("./f.ts");
// import { g } from "./g.ts";
`;
  assert.deepEqual(relativeImports(source), [
    "./a.ts",
    "../b.ts",
    "./c.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
  ]);
});

test("findCycles finds a cycle closed by a type-only edge, and a file importing itself", () => {
  const graph: ImportGraph = new Map([
    ["src/channel/a.ts", ["src/channel/b.ts"]],
    ["src/channel/b.ts", ["src/channel/c.ts"]],
    ["src/channel/c.ts", ["src/channel/a.ts"]], // e.g. `import type` back to a.ts
    ["src/channel/d.ts", ["src/channel/a.ts", "src/channel/d.ts"]],
    ["src/channel/e.ts", []],
  ]);
  assert.deepEqual(findCycles(graph), [
    ["src/channel/a.ts", "src/channel/b.ts", "src/channel/c.ts"],
    ["src/channel/d.ts"],
  ]);
  graph.set("src/channel/c.ts", []);
  graph.set("src/channel/d.ts", ["src/channel/a.ts"]);
  assert.deepEqual(findCycles(graph), []);
});

test("findCycles handles a chain longer than the call stack would allow", () => {
  const graph: ImportGraph = new Map();
  for (let i = 0; i < 50_000; i++) graph.set(`m${i}.ts`, [`m${i + 1}.ts`]);
  graph.set("m50000.ts", ["m0.ts"]);
  const cycles = findCycles(graph);
  assert.equal(cycles.length, 1);
  assert.equal(cycles[0].length, 50_001);
});

test("layerViolations reports edges up the layers and across siblings, not from entry points", () => {
  const graph: ImportGraph = new Map([
    ["src/channel/connect_engine.ts", ["src/adapters/tcp_transport.ts", "src/engine/protocol.ts"]],
    ["src/engine/protocol.ts", ["src/_util/bytes.ts"]],
    ["src/handshake/x.ts", ["src/deflate/y.ts"]],
    ["src/client/z.ts", ["src/adapters/node.ts"]],
    ["src/widgets/w.ts", ["src/engine/protocol.ts"]],
    ["src/engine/t.ts", ["test/_util/hex.ts"]],
    ["src/client/mod.ts", ["src/adapters/engine_connect.ts"]],
    ["mod.ts", ["src/adapters/engine_connect.ts"]],
  ]);
  assert.deepEqual(layerViolations(graph, ["mod.ts", "src/client/mod.ts"]), [
    "src/channel/connect_engine.ts -> src/adapters/tcp_transport.ts (channel may not import adapters)",
    "src/handshake/x.ts -> src/deflate/y.ts (handshake may not import deflate)",
    "src/client/z.ts -> src/adapters/node.ts (client may not import adapters)",
    "src/widgets/w.ts -> src/engine/protocol.ts (widgets is not a known layer)",
    "src/engine/t.ts -> test/_util/hex.ts (src/ imports outside src/)",
  ]);
});

test("sizeViolations reports new long files and allowed files that were split", () => {
  const lines = new Map([
    ["src/a.ts", MAX_LINES + 1],
    ["src/b.ts", MAX_LINES],
    ["src/c.ts", 900],
  ]);
  assert.deepEqual(sizeViolations(lines, ["src/c.ts"]), [
    `src/a.ts: ${MAX_LINES + 1} lines, past ${MAX_LINES}: split it along its seams`,
  ]);
  assert.deepEqual(sizeViolations(lines, ["src/a.ts", "src/b.ts", "src/c.ts", "src/gone.ts"]), [
    `src/b.ts: no longer past ${MAX_LINES} lines, remove it from OVERSIZED_ALLOWED`,
    `src/gone.ts: no longer past ${MAX_LINES} lines, remove it from OVERSIZED_ALLOWED`,
  ]);
});
