/**
 * `npm run docs` (scripts/build_docs.ts): the HTML API reference of every
 * deno.json export, with usage lines that name the package.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { currentRuntime, repoRoot, runtimes } from "../_util/runtimes.ts";
import { packageExports } from "../../scripts/_util/code_blocks.ts";

test("npm run docs writes a page per entry point whose usage names the package", {
  skip: currentRuntime === "deno" ? false : "deno doc runs once, in the Deno stage",
  timeout: 300_000,
}, () => {
  const out = mkdtempSync(join(tmpdir(), "wsc-api-"));
  try {
    const run = spawnSync(runtimes.deno, ["run", "-A", "scripts/build_docs.ts", "--out", out], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
      timeout: 280_000,
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.ok(existsSync(join(out, "index.html")));
    for (const subpath of Object.keys(packageExports(repoRoot))) {
      if (subpath === ".") continue;
      const page = join(out, subpath.slice(2), "index.html");
      assert.ok(existsSync(page), `no page for ${subpath}`);
    }
    const protocol = readFileSync(join(out, "engine/~/Protocol.html"), "utf8");
    assert.match(
      protocol,
      /import \{ Protocol \} from &quot;@wsc\/websocket-channel\/engine&quot;/,
    );
    assert.doesNotMatch(protocol, /from &quot;engine&quot;/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
