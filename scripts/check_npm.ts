/**
 * Checks the npm package the way a user meets it: builds and packs it, installs
 * the tarball into a fresh temporary project with `npm install <tarball>`, and
 * runs the programs in `npm/smoke/` there:
 *
 * - Node 20 (`/usr/bin/node`, no global WebSocket): the engine client and the
 *   `auto` transport against `serve()` from `websocket-channel/server/node`,
 *   the `engine`, `testing` and `client` subpaths (the reconnecting client
 *   against the same server), and `require()` of the ESM package;
 * - the `websocket-channel-conformance` command as npm links it
 *   (`node_modules/.bin/`, through its shebang, Node 20 first on PATH):
 *   `--help` prints the usage and exits 0, bad invocations exit 2 and install
 *   nothing (no fuzzer run: `conformance/external_test.ts` covers that);
 * - the newer Node (`node_modules/.bin/node`): the native global WebSocket
 *   client against the same server;
 * - Bun: `websocket-channel/server/bun` and `server/node`;
 * - the README's Install path for Node and Bun: its Node quick start saved as
 *   `.mjs` under Node 20 and its Bun quick start under Bun, each with the
 *   channel quick start against it, importing the installed package;
 * - Deno consuming the npm package: `websocket-channel/server/deno`;
 * - a browser bundler: esbuild resolves the package for the browser (the
 *   `browser` field leaves the engine transport out) with no `node:` code,
 *   and headless Chromium (when `/usr/bin/chromium` exists, else the check is
 *   skipped and not counted) runs that bundle against `server/node`;
 * - TypeScript consumers type-checked with `tsc --strict --noEmit`, module
 *   `nodenext`, against the shipped `.d.ts`: every subpath with `@types/node`,
 *   and the runtime-neutral subpaths with DOM types only.
 *
 * Every check counts once. The last line is `N passed, N failed` (read by
 * `scripts/test.ts`, stage `npm`); the exit code is non-zero when any check
 * failed. Needs no network: the package has no dependencies.
 *
 * Everything happens in a temporary folder (package root, tarball, test
 * project), so runs never collide with each other or with `npm/dist`.
 *
 * Usage: `deno run -A scripts/check_npm.ts [--keep]` (`--keep` leaves the
 * temporary folder in place and prints its path).
 *
 * @module
 */
import { buildNpm, CONFORMANCE_BIN, type NpmBuildResult } from "./build_npm.ts";
import { allCodeBlocks, onLoopbackPorts } from "./_util/code_blocks.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const bin = (name: string) => `${root}/node_modules/.bin/${name}`;
const node20 = Deno.env.get("WSC_NODE20") ?? "/usr/bin/node";

interface Outcome {
  name: string;
  ok: boolean;
  detail: string;
}

const outcomes: Outcome[] = [];

async function check(name: string, body: () => Promise<string | void>): Promise<boolean> {
  const start = performance.now();
  try {
    const detail = (await body()) ?? "";
    outcomes.push({ name, ok: true, detail });
    console.log(
      `ok   ${name} (${((performance.now() - start) / 1000).toFixed(1)} s)${
        detail ? `: ${detail}` : ""
      }`,
    );
    return true;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    outcomes.push({ name, ok: false, detail });
    console.log(`FAIL ${name}\n${indent(detail)}`);
    return false;
  }
}

const indent = (text: string) =>
  text.trimEnd().split("\n").map((line) => `     ${line}`).join("\n");

/** Runs a program with a deadline; resolves with its output, rejects with it on a non-zero exit. */
async function run(
  cmd: string,
  args: string[],
  options: { cwd: string; timeoutMs?: number; env?: Record<string, string> },
): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: { NO_COLOR: "1", FORCE_COLOR: "0", npm_config_update_notifier: "false", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  const output = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  const text = (decoder.decode(output.stdout) + decoder.decode(output.stderr)).trim();
  if (timedOut) {
    throw new Error(`${cmd} ${args.join(" ")} timed out after ${timeoutMs / 1000} s\n${text}`);
  }
  if (!output.success) {
    throw new Error(`${cmd} ${args.join(" ")} exited with ${output.code}\n${text}`);
  }
  return text;
}

const lastLine = (text: string) => text.split("\n").filter(Boolean).at(-1) ?? "";

async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The TypeScript consumer programs, written into the temporary project. */
const consumers = {
  "consumer_node.ts": "npm/smoke/consumer_node.ts",
  "consumer_web.ts": "npm/smoke/consumer_web.ts",
};

function tsconfig(files: string[], types: string[], lib: string[]): string {
  return JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        lib,
        types,
        typeRoots: [`${root}/node_modules/@types`],
        skipLibCheck: false,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
      },
      files,
    },
    null,
    2,
  );
}

async function main(): Promise<number> {
  const keep = Deno.args.includes("--keep");
  const work = await Deno.makeTempDir({ prefix: "wsc-npm-check-" });
  try {
    return await checkIn(work);
  } finally {
    if (keep) console.log(`kept the package root, tarball and test project in ${work}`);
    else await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

async function checkIn(work: string): Promise<number> {
  let build: NpmBuildResult | undefined;
  await check("build: the package from the deno.json exports", async () => {
    // A private package root, so that concurrent runs and `deno task build:npm` never collide.
    build = await buildNpm({
      pack: true,
      allowMissing: true, // reported by the next check, so the rest still runs
      outDir: `${work}/dist`,
      packDestination: work,
      log: (line) => console.log(`     ${line}`),
    });
    return `${build.entries.length} exports, ${build.files.length} files, ${
      build.tarball?.split("/").at(-1)
    }`;
  });
  if (!build?.tarball) return report();

  await check("build: every deno.json export is in the package", () => {
    if (build!.missing.length > 0) {
      return Promise.reject(new Error(`missing sources for ${build!.missing.join(", ")}`));
    }
    return Promise.resolve(build!.entries.map((e) => e.subpath).join(" "));
  });
  await check(
    "build: no Deno-only, JSR, URL or bare import and no runtime global outside adapters",
    () => {
      if (build!.problems.length > 0) return Promise.reject(new Error(build!.problems.join("\n")));
      return Promise.resolve();
    },
  );
  await check(
    "pack: tarball holds every export's .js and .d.ts, README, LICENSE, the conformance command and no .ts sources",
    async () => {
      const listing = (await run("tar", ["tzf", build!.tarball!], { cwd: root })).split("\n");
      const files = new Set(listing.map((line) => line.replace(/^package\//, "")));
      const wanted = [
        "package.json",
        "README.md",
        "LICENSE",
        CONFORMANCE_BIN,
        "conformance/install.sh",
        "conformance/requirements-py27.txt",
        "conformance/wstest_driver.py",
      ];
      for (const entry of build!.entries) wanted.push(entry.js.slice(2), entry.dts.slice(2));
      const absent = wanted.filter((file) => !files.has(file));
      const sources = [...files].filter((file) =>
        /(?<!\.d)\.ts$/.test(file) || file.includes("smoke/")
      );
      if (absent.length > 0) throw new Error(`not in the tarball: ${absent.join(", ")}`);
      if (sources.length > 0) {
        throw new Error(`should not be in the tarball: ${sources.join(", ")}`);
      }
      return `${files.size} files`;
    },
  );

  const project = `${work}/project`;
  await Deno.mkdir(project);
  await Deno.writeTextFile(
    `${project}/package.json`,
    JSON.stringify({ name: "wsc-npm-smoke", private: true, type: "module" }, null, 2),
  );
  const installed = await check(
    "install: npm install <tarball> into a fresh project (offline)",
    async () => {
      await run("npm", [
        "install",
        build!.tarball!,
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--offline",
        "--loglevel=error",
      ], { cwd: project, timeoutMs: 120_000 });
      const manifest = JSON.parse(
        await Deno.readTextFile(`${project}/node_modules/websocket-channel/package.json`),
      );
      return `websocket-channel@${manifest.version}`;
    },
  );
  if (!installed) return report();
  await Deno.mkdir(`${project}/smoke`);
  for await (const entry of Deno.readDir(`${root}/npm/smoke`)) {
    if (entry.isFile) {
      await Deno.copyFile(`${root}/npm/smoke/${entry.name}`, `${project}/smoke/${entry.name}`);
    }
  }
  await smokeChecks(project);
  return report();
}

async function smokeChecks(project: string): Promise<void> {
  const smoke = (file: string) => `smoke/${file}`;
  const node20Version = (await run(node20, ["--version"], { cwd: project })).trim();
  const node24 = bin("node");
  const node24Version = (await run(node24, ["--version"], { cwd: project })).trim();

  await check(`node ${node20Version}: engine client + server/node echo`, async () => {
    return lastLine(await run(node20, [smoke("node_engine.mjs")], { cwd: project }));
  });
  await check(`node ${node20Version}: transport "auto" falls back to the engine`, async () => {
    return lastLine(await run(node20, [smoke("node_auto.mjs")], { cwd: project }));
  });
  await check(`node ${node20Version}: require() of the ESM package`, async () => {
    return lastLine(await run(node20, [smoke("node_require.cjs")], { cwd: project }));
  });
  await check(`node ${node20Version}: engine, testing and client subpaths`, async () => {
    return lastLine(await run(node20, [smoke("node_subpaths.mjs")], { cwd: project }));
  });
  await check(
    `node ${node20Version}: node_modules/.bin/websocket-channel-conformance --help and usage errors`,
    async () => {
      return lastLine(await run(node20, [smoke("conformance_bin.mjs")], { cwd: project }));
    },
  );
  await check(
    `node ${node24Version}: native global WebSocket client + server/node echo`,
    async () => {
      return lastLine(await run(node24, [smoke("node_native.mjs")], { cwd: project }));
    },
  );
  await check("bun: server/bun with the native and the engine client", async () => {
    return lastLine(await run(bin("bun"), [smoke("bun_serve.mjs")], { cwd: project }));
  });
  await check("bun: server/node under Bun's node:http", async () => {
    return lastLine(await run(bin("bun"), [smoke("bun_node_server.mjs")], { cwd: project }));
  });
  await check(
    `README quick start from the tarball, node ${node20Version}: the Node servers as server.mjs, the channel client`,
    () => readmeQuickStart(project, "Node", [node20], "mjs"),
  );
  await check(
    "README quick start from the tarball, bun: the Bun servers and the channel client",
    () => readmeQuickStart(project, "Bun", [bin("bun")], "ts"),
  );
  await check("deno: server/deno and the engine client from the npm package", async () => {
    const output = await run(bin("deno"), [
      "run",
      "-A",
      "--node-modules-dir=manual",
      smoke("deno_serve.mjs"),
    ], {
      cwd: project,
      env: { DENO_NO_UPDATE_CHECK: "1" },
    });
    return lastLine(output);
  });
  await check("browser: esbuild bundles the package for browsers without node: code", async () => {
    await Deno.writeTextFile(
      `${project}/browser_entry.mjs`,
      `export { WebSocketChannel, CloseCode } from "websocket-channel";\n` +
        `export { WebSocketClient } from "websocket-channel/client";\n`,
    );
    await run(bin("esbuild"), [
      "browser_entry.mjs",
      "--bundle",
      "--format=esm",
      "--platform=browser",
      "--minify",
      "--log-level=warning",
      "--outfile=browser_bundle.js",
    ], { cwd: project });
    const code = await Deno.readTextFile(`${project}/browser_bundle.js`);
    const found = [/node:/, /\bDeno\./, /\bBun\./, /\brequire\(/].filter((pattern) =>
      pattern.test(code)
    );
    if (found.length > 0) {
      throw new Error(`the browser bundle contains ${found.map(String).join(", ")}`);
    }
    return `${(code.length / 1024).toFixed(1)} KiB minified`;
  });
  const chromium = Deno.env.get("WSC_CHROMIUM") ?? "/usr/bin/chromium";
  if (await fileExists(chromium)) {
    await check(
      "browser: the bundled package in headless Chromium ↔ server/node echo",
      async () => {
        if (!(await fileExists(`${project}/browser_bundle.js`))) {
          throw new Error("no browser bundle (the esbuild check failed)");
        }
        const output = await run(node24, [smoke("browser_chromium.mjs")], {
          cwd: project,
          env: {
            WSC_PLAYWRIGHT: `${root}/node_modules/playwright-core/index.mjs`,
            WSC_CHROMIUM: chromium,
          },
        });
        return lastLine(output);
      },
    );
  } else {
    console.log(
      `skip browser: no Chromium at ${chromium} (scripts/setup.sh installs it); not counted`,
    );
  }
  // The three tsc runs are independent and slow: start them together, report in order.
  const lib = ["es2023", "dom", "dom.iterable"];
  const typeChecks: [string, Promise<string | void>][] = [];
  for (const [file, source] of Object.entries(consumers)) {
    const node = file === "consumer_node.ts";
    const what = node
      ? "every subpath, with @types/node"
      : "runtime-neutral subpaths, DOM lib only";
    typeChecks.push([
      `types: tsc --strict (nodenext) consumer of ${what}`,
      (async () => {
        if (!(await fileExists(`${root}/${source}`))) throw new Error(`${source} is missing`);
        await Deno.copyFile(`${root}/${source}`, `${project}/${file}`);
        const config = `tsconfig.${file.replace(/\.ts$/, "")}.json`;
        await Deno.writeTextFile(
          `${project}/${config}`,
          tsconfig([file], node ? ["node"] : [], lib),
        );
        await run(bin("tsc"), ["-p", config], { cwd: project, timeoutMs: 180_000 });
      })(),
    ]);
  }
  typeChecks.push([
    "types: the Node and runtime-neutral code blocks of the READMEs type-check against the package",
    (async () => {
      const blocks = readmeBlocks();
      if (blocks.length === 0) throw new Error("the READMEs have no ```ts example");
      await Deno.mkdir(`${project}/readme`, { recursive: true });
      for (const block of blocks) {
        await Deno.writeTextFile(`${project}/readme/${block.name}`, block.code);
      }
      const files = blocks.map((block) => `readme/${block.name}`);
      await Deno.writeTextFile(`${project}/tsconfig.readme.json`, tsconfig(files, ["node"], lib));
      await run(bin("tsc"), ["-p", "tsconfig.readme.json"], { cwd: project, timeoutMs: 180_000 });
      return `${blocks.length} examples`;
    })(),
  ]);
  for (const [, pending] of typeChecks) pending.catch(() => {}); // reported below, in order
  for (const [name, pending] of typeChecks) await check(name, () => pending);
}

/**
 * The Node and runtime-neutral code blocks of the READMEs (see
 * `scripts/_util/code_blocks.ts` for the kinds), as modules importing the
 * npm names (`@wsc/websocket-channel` → `websocket-channel`). Deno and Bun
 * blocks, and blocks marked `ignore`, are left out: there are no types for
 * those runtimes in a Node project.
 */
function readmeBlocks(): { name: string; code: string }[] {
  return allCodeBlocks(root)
    .filter((block) => !block.ignored && (block.kind === "node" || block.kind === "web"))
    .map((block) => ({
      name: `${block.file.replace(/[^\w]+/g, "_")}_line_${block.line}.${block.lang}`,
      code: `${
        block.code.replace(/(["'])(?:npm:)?@wsc\/websocket-channel/g, "$1websocket-channel")
      }\nexport {};\n`,
    }));
}

/**
 * The README's quick start as a user runs it after `npm i <tarball>`: the
 * server block under the heading `heading` (echo on 8080, "welcome" on 8081,
 * here on free loopback ports) and the channel quick start, both importing
 * `websocket-channel` from the project's node_modules. The client must print
 * the echo and a clean close; a plain HTTP request must not end the server.
 */
async function readmeQuickStart(
  project: string,
  heading: string,
  runtime: string[],
  extension: string,
): Promise<string> {
  const blocks = allCodeBlocks(root).filter((block) => block.file === "README.md");
  const server = blocks.find((block) => block.heading.startsWith(heading));
  const client = blocks.find((block) => block.heading.startsWith("The channel"));
  if (!server || !client) throw new Error(`README.md has no ${heading} or channel quick start`);
  const ports: Record<string, number> = {};
  for (const written of ["8080", "8081"]) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    ports[written] = (listener.addr as Deno.NetAddr).port;
    listener.close();
  }
  const npmNames = (code: string) =>
    onLoopbackPorts(code, ports).replace(
      /(["'])(?:npm:)?@wsc\/websocket-channel/g,
      "$1websocket-channel",
    );
  const name = heading.toLowerCase();
  await Deno.writeTextFile(`${project}/${name}_server.${extension}`, npmNames(server.code));
  await Deno.writeTextFile(`${project}/${name}_client.${extension}`, npmNames(client.code));
  const child = new Deno.Command(runtime[0], {
    args: [...runtime.slice(1), `${name}_server.${extension}`],
    cwd: project,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const serverOutput = child.output();
  let exited = false;
  serverOutput.finally(() => exited = true);
  try {
    const end = Date.now() + 30_000;
    for (const port of Object.values(ports)) {
      for (;;) {
        if (exited) throw new Error(`the ${server.where} server exited`);
        try {
          (await Deno.connect({ hostname: "127.0.0.1", port })).close();
          break;
        } catch {
          if (Date.now() > end) throw new Error(`${server.where} did not listen on ${port}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }
    const output = await run(runtime[0], [...runtime.slice(1), `${name}_client.${extension}`], {
      cwd: project,
      timeoutMs: 30_000,
    });
    if (!/^received Hello!$/m.test(output) || !/^1000 bye true/m.test(output)) {
      throw new Error(`the channel quick start printed:\n${output}`);
    }
    const plain = await fetch(`http://127.0.0.1:${ports["8081"]}/`);
    await plain.body?.cancel();
    if (plain.status >= 500) throw new Error(`plain HTTP got ${plain.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (exited) throw new Error(`the ${server.where} server exited`);
    return `${server.where} + ${client.where}: echo, close 1000 clean, plain HTTP ${plain.status}`;
  } catch (error) {
    if (!exited) child.kill("SIGKILL");
    const { stdout, stderr } = await serverOutput;
    const decoder = new TextDecoder();
    throw new Error(
      `${error instanceof Error ? error.message : error}\nserver output:\n${
        decoder.decode(stdout)
      }${decoder.decode(stderr)}`,
    );
  } finally {
    if (!exited) child.kill("SIGKILL");
    await serverOutput;
  }
}

function report(): number {
  const passed = outcomes.filter((o) => o.ok).length;
  const failed = outcomes.length - passed;
  console.log(`\n${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

// Node 24 sets import.meta.main for a test bundle that imports this module, so
// also require that this file itself is the entry point.
if (import.meta.main && import.meta.url.endsWith("/check_npm.ts")) {
  let code: number;
  try {
    code = await main();
  } catch (error) {
    console.error(error);
    outcomes.push({ name: "check_npm", ok: false, detail: String(error) });
    code = report();
  }
  Deno.exit(code);
}
