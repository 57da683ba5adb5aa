/**
 * Where the repository and the runtimes are, for tests that spawn other
 * processes. Works from the source tree and from the bundles that the test
 * runner builds for Node under `.build/`.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "deno.json")) && existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the repository root above ${start}`);
    dir = parent;
  }
}

/** Absolute path of the repository root (the folder holding deno.json). */
export const repoRoot: string = findRoot(dirname(fileURLToPath(import.meta.url)));

const bin = (name: string) => join(repoRoot, "node_modules", ".bin", name);

/** Absolute paths of the runtimes the tests may spawn. */
export const runtimes = {
  deno: process.env.WSC_DENO ?? bin("deno"),
  bun: process.env.WSC_BUN ?? bin("bun"),
  /** The system Node (20 on CI machines): no global WebSocket. */
  node20: process.env.WSC_NODE20 ?? "/usr/bin/node",
  /** A newer Node with a global WebSocket (the `node` devDependency). */
  node: process.env.WSC_NODE ?? bin("node"),
  esbuild: bin("esbuild"),
} as const;

/** The runtime executing this test. */
export const currentRuntime: "deno" | "bun" | "node" = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";
