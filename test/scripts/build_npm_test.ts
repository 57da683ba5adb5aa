/**
 * The output rules of the npm build (scripts/build_npm.ts): what may and may
 * not reach the package.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { postProcess, scanBin, scanModule } from "../../scripts/build_npm.ts";

const files = new Set([
  "mod.js",
  "mod.d.ts",
  "src/engine/errors.js",
  "src/engine/errors.d.ts",
  "src/channel/connect.js",
  "src/adapters/tcp_transport.js",
  "src/adapters/node.js",
  "src/adapters/deno.js",
]);

test("scanModule accepts relative .js imports and lazy imports of files in the package", () => {
  const text = `import { WebSocketError } from "./src/engine/errors.js";
export { WebSocketError };
export const load = () => import("../adapters/tcp_transport.js");`;
  assert.deepEqual(scanModule("mod.js", text.replace("../adapters", "./src/adapters"), files), []);
  assert.deepEqual(
    scanModule("src/channel/connect.js", text.replace("./src/engine", "../engine"), files),
    [],
  );
});

test("scanModule rejects jsr:, npm:, https: and bare imports anywhere", () => {
  for (const specifier of ["jsr:@std/assert", "npm:ws", "https://deno.land/x/y.ts", "ws"]) {
    const problems = scanModule("src/adapters/node.js", `import "${specifier}";`, files);
    assert.equal(problems.length, 1, specifier);
    assert.match(problems[0], /cannot be resolved by npm consumers/);
  }
});

test("scanModule accepts bare imports of the declared peer dependencies only", () => {
  const peers = new Set(["redis", "@nats-io/transport-node"]);
  const text = `import { createClient } from "redis";\nimport "@nats-io/transport-node/x";`;
  assert.deepEqual(scanModule("src/backplane/redis.js", text, files, peers), []);
  const problems = scanModule("src/backplane/redis.js", `import "redis-x";`, files, peers);
  assert.match(problems[0], /cannot be resolved by npm consumers/);
});

test("scanModule rejects .ts specifiers and imports of files that are not in the package", () => {
  assert.match(
    scanModule("mod.js", `export * from "./src/engine/errors.ts";`, files)[0],
    /does not end in \.js/,
  );
  assert.match(
    scanModule("mod.js", `export * from "./src/engine/gone.js";`, files)[0],
    /is not in the package/,
  );
  assert.match(
    scanModule("mod.d.ts", `export * from "./src/engine/gone.js";`, files)[0],
    /is not in the package/,
  );
});

test("scanModule allows node: imports only under src/adapters/", () => {
  assert.deepEqual(
    scanModule("src/adapters/node.js", `import { createServer } from "node:http";`, files),
    [],
  );
  assert.match(
    scanModule("src/channel/connect.js", `const net = await import("node:net");`, files)[0],
    /outside src\/adapters/,
  );
});

test("scanModule allows Deno.* only in src/adapters/deno.js and feature detection in adapters", () => {
  assert.deepEqual(
    scanModule("src/adapters/deno.js", `Deno.serve({ port: 0 }, () => new Response());`, files),
    [],
  );
  assert.deepEqual(
    scanModule("src/adapters/tcp_transport.js", `const deno = globalThis.Deno;`, files),
    [],
  );
  assert.match(
    scanModule("src/adapters/node.js", `Deno.exit(1);`, files)[0],
    /Deno\.\* outside the Deno-only/,
  );
  assert.match(
    scanModule("src/channel/connect.js", `const d = globalThis.Deno;`, files)[0],
    /Deno global outside/,
  );
  assert.match(scanModule("mod.js", `Bun.serve({});`, files)[0], /Bun global outside/);
});

test("scanModule ignores runtime names in comments, strings and other objects' properties", () => {
  const text = `// Deno.serve and node:http are mentioned here only
const note = "Bun.serve";
const options = { Deno: 1 };
export { note, options };`;
  assert.deepEqual(scanModule("mod.js", text, files), []);
});

test("postProcess rewrites relative .ts specifiers of declarations and the JSR package name", () => {
  const dts = `import type { A } from "./a.ts";
export * from "../b/c.ts";
export type D = import("./d.ts").D;
/** @example import { x } from "@wsc/websocket-channel/client"; */`;
  assert.equal(
    postProcess(dts, true),
    `import type { A } from "./a.js";
export * from "../b/c.js";
export type D = import("./d.js").D;
/** @example import { x } from "websocket-channel/client"; */`,
  );
  assert.equal(postProcess(`import x from "./x.ts";`, false), `import x from "./x.ts";`);
  assert.equal(postProcess(`from "jsr:@wsc/websocket-channel"`, false), `from "websocket-channel"`);
});

test("scanBin: the conformance command has a node shebang and imports node: builtins only", () => {
  const file = "bin/websocket-channel-conformance.js";
  const ok = `#!/usr/bin/env node
import { spawn } from "node:child_process";
import process from "node:process";
const lazy = () => import("node:tls");
export { spawn, process, lazy };`;
  assert.deepEqual(scanBin(file, ok), []);
  assert.match(scanBin(file, ok.replace("#!/usr/bin/env node\n", ""))[0], /#!\/usr\/bin\/env node/);
  for (const specifier of ["ws", "./chunk.js", "npm:ws", "jsr:@std/path"]) {
    const problems = scanBin(file, `${ok}\nimport "${specifier}";`);
    assert.equal(problems.length, 1, specifier);
    assert.match(problems[0], /node: builtins only/);
  }
  assert.match(scanBin(file, `${ok}\nconst ws = require("ws");`).join("\n"), /require\(\)/);
});
