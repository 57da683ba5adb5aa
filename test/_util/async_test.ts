import { test } from "node:test";
import assert from "node:assert/strict";
import { deadline, delay, waitFor } from "./async.ts";
import { currentRuntime, repoRoot, runtimes } from "./runtimes.ts";
import { existsSync } from "node:fs";

test("deadline settles with the promise when it is fast enough", async () => {
  assert.equal(await deadline(delay(1).then(() => 7), 1000), 7);
});

test("deadline rejects with a message naming what it waited for", async () => {
  await assert.rejects(deadline(delay(200), 10, "the slow thing"), /the slow thing/);
});

test("waitFor polls until the condition holds", async () => {
  let n = 0;
  assert.equal(await waitFor(() => ++n >= 3 && n, { interval: 1 }), 3);
});

test("runtimes points at the repository and its runtimes", () => {
  assert.ok(existsSync(`${repoRoot}/deno.json`));
  assert.ok(existsSync(runtimes.deno), runtimes.deno);
  assert.ok(["deno", "bun", "node"].includes(currentRuntime));
});
