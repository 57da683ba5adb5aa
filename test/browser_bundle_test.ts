/**
 * The browser bundle of `mod.ts` (scripts/build_browser.ts) holds no
 * runtime-specific code and stays within its size budget.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BROWSER_APP, BROWSER_BUDGET_BYTES, buildBrowser, kib } from "../scripts/build_browser.ts";

const build = buildBrowser();
// Reported once by the tests below; an unobserved rejection must not crash the runner first.
build.catch(() => {});
// Built after the surface: buildBrowser stops the esbuild service when it is done.
const app = build.then(() => buildBrowser({ contents: BROWSER_APP }));
app.catch(() => {});

// test/adapters/browser_test.ts scans its own mod.ts bundle before running it in Chromium; this
// one covers the whole runtime-neutral surface (mod.ts + ./client) that the size budget is about.
test("buildBrowser keeps src/adapters/ and node:, Deno.*, Bun.* code out of mod.ts + client", async () => {
  const { inputs, problems } = await build;
  assert.deepEqual(problems, []);
  // The `browser` field of package.json maps the engine transport's installer to nothing.
  assert.deepEqual(inputs.filter((input) => input.includes("adapters/")), [
    "(disabled):src/adapters/engine_connect.ts",
  ]);
  assert.ok(inputs.includes("mod.ts"), `inputs: ${inputs.join(", ")}`);
  for (const layer of ["channel", "engine", "client"]) {
    assert.ok(
      inputs.some((input) => input.startsWith(`src/${layer}/`)),
      `src/${layer} is in the bundle`,
    );
  }
  assert.ok(!inputs.includes("src/channel/connect_engine.ts"));
});

test("buildBrowser leaves the engine and the HTTP handshake out of the typical app", async () => {
  const { layers, problems } = await app;
  assert.deepEqual(problems, []);
  const bytes = new Map(layers);
  // What remains of these folders is close codes, error classes and option checks, and
  // of src/handshake the WHATWG constructor's URL and subprotocol rules (the arguments are
  // checked at the call on every transport): about 1.9 KB minified, no HTTP handshake code.
  const limits: Record<string, number> = {
    "src/engine": 1500,
    "src/handshake": 2500,
    "src/deflate": 1500,
  };
  for (const [layer, limit] of Object.entries(limits)) {
    assert.ok((bytes.get(layer) ?? 0) < limit, `${layer}: ${bytes.get(layer)} bytes`);
  }
  assert.ok((bytes.get("src/client") ?? 0) > 0);
});

// The size is the same on every runtime: measured once, under Deno.
const onlyOnce = "Deno" in globalThis ? false : "the bundle size is measured once, under Deno";

test(
  "buildBrowser keeps the typical app under the min+gzip budget",
  { skip: onlyOnce },
  async () => {
    const { gzipBytes, minBytes, rawBytes, layers } = await app;
    assert.ok(rawBytes > minBytes && minBytes > gzipBytes);
    const breakdown = layers.map(([layer, bytes]) => `${layer} ${kib(bytes)}`).join(", ");
    assert.ok(
      gzipBytes <= BROWSER_BUDGET_BYTES,
      `${kib(gzipBytes)} min+gzip is over the ${
        kib(BROWSER_BUDGET_BYTES)
      } budget (minified: ${breakdown})`,
    );
  },
);
