/**
 * The browser bundle of `mod.ts` (scripts/build_browser.ts) holds no
 * runtime-specific code and stays within its size budget.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BROWSER_BUDGET_BYTES,
  browserTcpStub,
  buildBrowser,
  kib,
} from "../scripts/build_browser.ts";

const build = buildBrowser();
// Reported once by the tests below; an unobserved rejection must not crash the runner first.
build.catch(() => {});

test("buildBrowser bundles mod.ts and the client without node:, Deno.* or Bun.* code", async () => {
  const { problems, code } = await build;
  assert.deepEqual(problems, []);
  assert.ok(code.length > 0);
});

test("buildBrowser keeps src/adapters/ out of the bundle except through the TCP stub", async () => {
  const { inputs } = await build;
  assert.deepEqual(inputs.filter((input) => input.includes("adapters/")), []);
  assert.ok(inputs.includes("mod.ts"), `inputs: ${inputs.join(", ")}`);
  assert.ok(inputs.some((input) => input.startsWith("src/client/")), "the client is in the bundle");
  assert.ok(
    inputs.some((input) => input.startsWith("src/channel/")),
    "the channel is in the bundle",
  );
  assert.ok(inputs.some((input) => input.startsWith("src/engine/")), "the engine is in the bundle");
});

test("buildBrowser stays under the min+gzip budget", async () => {
  const { gzipBytes, minBytes, rawBytes, layers } = await build;
  assert.ok(rawBytes > minBytes && minBytes > gzipBytes);
  const breakdown = layers.map(([layer, bytes]) => `${layer} ${kib(bytes)}`).join(", ");
  assert.ok(
    gzipBytes <= BROWSER_BUDGET_BYTES,
    `${kib(gzipBytes)} min+gzip is over the ${
      kib(BROWSER_BUDGET_BYTES)
    } budget (minified: ${breakdown})`,
  );
});

test("browserTcpStub rejects openTcp with the channel's UnsupportedError", () => {
  const stub = browserTcpStub("../channel/errors.js");
  assert.match(stub, /^import \{ UnsupportedError \} from "\.\.\/channel\/errors\.js";$/m);
  assert.match(stub, /export function openTcp\(\)/);
  assert.match(stub, /"WS_OPTION_UNSUPPORTED"/);
  assert.doesNotMatch(stub, /node:|Deno|Bun/);
});
