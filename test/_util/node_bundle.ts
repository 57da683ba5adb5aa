/**
 * A test fixture bundled by esbuild for the system Node (20), which cannot
 * run TypeScript: under the repository's `.build/`, so that npm packages
 * (kept external) resolve from its node_modules.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import process from "node:process";
import { repoRoot, runtimes } from "./runtimes.ts";

/** A bundle and the folder to remove (recursively) when done with it. */
export interface NodeBundle {
  readonly path: string;
  readonly dir: string;
}

/** Bundles `entry` (a path) into a fresh folder under `.build/`. */
export function bundleForNode20(entry: string): NodeBundle {
  const name = basename(entry).replace(/\.ts$/, "");
  const dir = join(repoRoot, ".build", `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.mjs`);
  execFileSync(runtimes.esbuild, [
    entry,
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--target=node20",
    "--packages=external",
    `--outfile=${path}`,
    "--log-level=error",
  ], { cwd: repoRoot });
  return { path, dir };
}
