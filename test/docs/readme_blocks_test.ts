import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { connect } from "../../mod.ts";
import {
  allCodeBlocks,
  type BlockKind,
  type CodeBlock,
  localizeImports,
  onLoopbackPorts,
} from "../../scripts/_util/code_blocks.ts";
import { deadline, delay, waitFor } from "../_util/async.ts";
import { freePort } from "../_util/server_process.ts";
import { currentRuntime, repoRoot, runtimes } from "../_util/runtimes.ts";

// Every TypeScript/JavaScript block of README.md, npm/README.md,
// conformance/README.md and examples/*/README.md, type-checked against the
// current sources with the package's specifiers mapped to them: Deno blocks
// by `deno check`, Bun blocks by tsc with bun-types, Node blocks by tsc with
// @types/node, runtime-neutral blocks by tsc with the DOM lib only (the kind
// rules are in scripts/_util/code_blocks.ts). The checks run once, in the
// Deno stage. Then the README's quick starts run as real processes on each
// runtime: the runtime's server block (echo on 8080, "welcome" on 8081, here
// on free loopback ports) and the channel quick start against it; on Deno
// with their imports as written, through the Install section's deno.json.

const blocks = allCodeBlocks(repoRoot);
const work = mkdtempSync(join(tmpdir(), "wsc-readme-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

const checkSkip = currentRuntime === "deno" ? false : "type checks run once, in the Deno stage";

/** One checker diagnostic, placed in its Markdown file. */
interface Finding {
  line: number;
  column: number;
  message: string;
}

interface CheckRun {
  /** Findings per block file name. */
  byFile: Map<string, Finding[]>;
  /** The checker's output when it failed without a finding in any block. */
  failure?: string;
}

const fileNames = new Map<CodeBlock, string>();
const fileName = (block: CodeBlock, index: number) => {
  const name = `${block.kind}_${index}_${block.file.replace(/[^\w]+/g, "_")}_${block.line}.${
    block.lang === "js" ? "js" : "ts"
  }`;
  fileNames.set(block, name);
  return name;
};

const checks = new Map<BlockKind, Promise<CheckRun>>();

function checkKind(kind: BlockKind): Promise<CheckRun> {
  let pending = checks.get(kind);
  if (!pending) {
    pending = runChecker(kind, blocks.filter((b) => b.kind === kind && !b.ignored));
    checks.set(kind, pending);
  }
  return pending;
}

async function runChecker(kind: BlockKind, mine: CodeBlock[]): Promise<CheckRun> {
  const files = mine.map((block, i) => {
    const name = fileName(block, i);
    // Deno type-checks a JS file only with `@ts-check` (one line more).
    const head = kind === "deno" && block.lang === "js" ? "// @ts-check\n" : "";
    writeFileSync(
      join(work, name),
      `${head}${localizeImports(block.code, repoRoot)}\nexport {};\n`,
    );
    return name;
  });
  if (kind === "bun" && !existsSync(join(repoRoot, "node_modules/bun-types"))) {
    return { byFile: new Map(), failure: "bun-types is not installed: run npm ci" };
  }
  if (kind === "deno") {
    // Deno's own checker and the project's compiler options.
    const result = await runProcess(runtimes.deno, [
      "check",
      `--config=${join(repoRoot, "deno.json")}`,
      ...files,
    ], { cwd: work, timeoutMs: 180_000 });
    return parseDeno(result.output, result.code);
  }
  const config = `tsconfig.${kind}.json`;
  writeFileSync(
    join(work, config),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "es2022",
        module: "esnext",
        moduleResolution: "bundler",
        allowImportingTsExtensions: true,
        allowJs: true,
        checkJs: true,
        skipLibCheck: true,
        lib: ["es2023", "dom", "dom.iterable"],
        types: { web: [], node: ["node"], bun: ["bun-types"] }[kind],
        typeRoots: [join(repoRoot, "node_modules/@types"), join(repoRoot, "node_modules")],
      },
      files,
    }),
  );
  const result = await runProcess(join(repoRoot, "node_modules/.bin/tsc"), [
    "-p",
    config,
    "--pretty",
    "false",
  ], { cwd: work, timeoutMs: 180_000 });
  return parseTsc(result.output, result.code);
}

// `name.ts(13,11): error TS2339: message` and its indented continuation lines.
function parseTsc(output: string, code: number): CheckRun {
  const byFile = new Map<string, Finding[]>();
  let last: Finding | undefined;
  for (const line of output.split("\n")) {
    const match = /^([^\s(/][^(]*)\((\d+),(\d+)\): error (TS\d+: .*)$/.exec(line);
    if (match) {
      last = { line: Number(match[2]), column: Number(match[3]), message: match[4] };
      byFile.set(match[1], [...(byFile.get(match[1]) ?? []), last]);
    } else if (/^\S/.test(line)) last = undefined;
    else if (last && line.trim()) last.message += `\n  ${line.trim()}`;
  }
  // Errors inside the sources (checked by Deno elsewhere) do not count here;
  // a crash of the checker itself does.
  const failure = code !== 0 && !/error TS\d+/.test(output) ? output : undefined;
  return { byFile, failure };
}

// `TS2339 [ERROR]: message` … `at file:///dir/name.ts:13:11`.
function parseDeno(output: string, code: number): CheckRun {
  const byFile = new Map<string, Finding[]>();
  let message = "";
  for (const line of output.split("\n")) {
    const head = /^(TS\d+) \[ERROR\]: (.*)$/.exec(line.trim());
    if (head) message = `${head[1]}: ${head[2]}`;
    const where = /^at file:\/\/(\/\S+):(\d+):(\d+)$/.exec(line.trim());
    if (where && message) {
      const file = where[1].startsWith(`${work}/`) ? where[1].slice(work.length + 1) : where[1];
      const finding = { line: Number(where[2]), column: Number(where[3]), message };
      byFile.set(file, [...(byFile.get(file) ?? []), finding]);
      message = "";
    }
  }
  const failure = code !== 0 && byFile.size === 0 ? output : undefined;
  return { byFile, failure };
}

const checker = {
  deno: "deno check",
  bun: "tsc + bun-types",
  node: "tsc + @types/node",
  web: "tsc, DOM lib only",
};

for (const block of blocks) {
  const name = `${block.where} (${block.kind}) type-checks with ${checker[block.kind]}`;
  if (block.ignored) {
    test(`${block.where} is marked ignore`, { skip: "a fragment, not checked" }, () => {});
    continue;
  }
  test(name, { skip: checkSkip, timeout: 240_000 }, async () => {
    const run = await checkKind(block.kind);
    if (run.failure) assert.fail(`the checker failed:\n${run.failure.slice(-3000)}`);
    const findings = run.byFile.get(fileNames.get(block)!) ?? [];
    const shift = block.kind === "deno" && block.lang === "js" ? 1 : 0; // the @ts-check line
    // File line n is the block's code line n: the fence is at block.line.
    assert.deepEqual(
      findings.map((f) => `${block.file}:${block.line + f.line - shift}:${f.column} ${f.message}`),
      [],
    );
  });
}

test("the kinds of the README's quick start blocks", () => {
  const kinds = Object.fromEntries(
    blocks.filter((b) => b.file === "README.md").map((b) => [b.heading, b.kind]),
  );
  assert.equal(kinds["Deno"], "deno");
  assert.equal(kinds["Bun"], "bun");
  assert.equal(kinds["Node (20 and later)"], "node");
  assert.equal(Object.entries(kinds).find(([h]) => h.startsWith("The channel"))?.[1], "web");
});

// --- The quick starts, run -------------------------------------------------

interface Output {
  code: number | null;
  output: string;
}

function runProcess(
  command: string,
  args: string[],
  { cwd, timeoutMs }: { cwd: string; timeoutMs: number },
): Promise<{ code: number; output: string }> {
  const child = spawn(command, args, {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  });
  let output = "";
  child.stdout!.on("data", (chunk) => output += chunk);
  child.stderr!.on("data", (chunk) => output += chunk);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) => {
    child.on("error", (error) => output += `\n${error}`);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      // Deno colours console.log output when FORCE_COLOR is set, even to "0".
      // deno-lint-ignore no-control-regex
      resolve({ code: code ?? (signal ? 128 : 1), output: output.replace(/\x1b\[[0-9;]*m/g, "") });
    });
  });
}

/** The README block under `heading` (a prefix), as one quick start. */
function readmeBlock(heading: string): CodeBlock {
  const block = blocks.find((b) => b.file === "README.md" && b.heading.startsWith(heading));
  assert.ok(block, `README.md has no code block under a heading "${heading}…"`);
  return block;
}

/** The `deno.json` of README.md's Install section, linking to this repository. */
function denoInstallConfig(): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const block = [...readme.matchAll(/^\s*```json\n([\s\S]*?)^\s*```$/gm)]
    .map((match) => match[1]).find((json) => json.includes('"links"'));
  assert.ok(block, "README.md has no deno.json block with links");
  const config = JSON.parse(block);
  assert.deepEqual(config.links, ["../websocket-channel"]);
  return JSON.stringify({ ...config, links: [repoRoot] });
}

/** Writes the block as a program for `runtime` and returns the command that runs it. */
async function program(
  runtime: "deno" | "bun" | "node20" | "node",
  name: string,
  code: string,
): Promise<[string, ...string[]]> {
  if (runtime === "deno") {
    // As the README's Install section says: a deno.json whose `links` point
    // the JSR name at the repository, the imports left as written.
    const dir = join(work, "deno-app");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "deno.json"), denoInstallConfig());
    writeFileSync(join(dir, `${name}.ts`), code);
    return [runtimes.deno, "run", "-A", join(dir, `${name}.ts`)];
  }
  const source = join(work, `${name}.${runtime === "node" ? "mts" : "ts"}`);
  writeFileSync(source, localizeImports(code, repoRoot));
  if (runtime === "bun") return [runtimes.bun, source];
  if (runtime === "node") return [runtimes.node, source]; // type stripping
  const bundle = join(work, `${name}.mjs`);
  const built = await runProcess(runtimes.esbuild, [
    source,
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--target=node20",
    "--log-level=warning",
    `--outfile=${bundle}`,
  ], { cwd: work, timeoutMs: 60_000 });
  assert.equal(built.code, 0, built.output);
  return [runtimes.node20, bundle];
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

interface RunningServer {
  child: ChildProcess;
  ports: { 8080: number; 8081: number };
  out: Output;
  exited: Promise<void>;
  context(): string;
}

/**
 * Starts the server block on two free loopback ports and waits until both
 * accept. A port taken between our probe and the server's bind (other jobs
 * share the machine) means another try with new ports, three at most.
 */
async function startServer(
  runtime: "deno" | "bun" | "node20" | "node",
  server: CodeBlock,
): Promise<RunningServer> {
  for (let attempt = 1;; attempt++) {
    const ports = { 8080: await freePort(), 8081: await freePort() };
    const [command, ...args] = await program(
      runtime,
      "server",
      onLoopbackPorts(server.code, ports),
    );
    const child = spawn(command, args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
    const out: Output = { code: null, output: "" };
    child.stdout!.on("data", (chunk) => out.output += chunk);
    child.stderr!.on("data", (chunk) => out.output += chunk);
    const exited = new Promise<void>((resolve) =>
      child.on("exit", (code) => {
        out.code = code;
        resolve();
      })
    );
    const context = () => `server ${server.where} on ${runtime}:\n${out.output}`;
    try {
      await waitFor(async () => {
        if (child.exitCode !== null) assert.fail(`exited with ${child.exitCode}; ${context()}`);
        return await accepts(ports[8080]) && await accepts(ports[8081]);
      }, { timeout: 30_000, interval: 50, what: `the server of ${server.where} to listen` });
      return { child, ports, out, exited, context };
    } catch (error) {
      child.kill("SIGKILL");
      await exited;
      if (attempt === 3 || !/EADDRINUSE|AddrInUse|in use/i.test(out.output)) {
        throw error;
      }
    }
  }
}

async function quickStart(runtime: "deno" | "bun" | "node20" | "node", heading: string) {
  const server = readmeBlock(heading);
  const client = readmeBlock("The channel");
  const { child, ports, exited, context } = await startServer(runtime, server);
  try {
    // The channel quick start, unchanged but for the port: sends "Hello!",
    // prints the echo, closes with 1000 "bye" and prints the close.
    const [clientCommand, ...clientArgs] = await program(
      runtime,
      "client",
      onLoopbackPorts(client.code, ports),
    );
    const run = await runProcess(clientCommand, clientArgs, { cwd: work, timeoutMs: 30_000 });
    assert.equal(run.code, 0, `${client.where} on ${runtime}:\n${run.output}\n${context()}`);
    assert.match(run.output, /^received Hello!$/m, run.output);
    assert.match(run.output, /^1000 bye true/m, run.output);

    // A plain HTTP request to the second server gets an answer, not a crash.
    const plain = await deadline(fetch(`http://127.0.0.1:${ports[8081]}/`), 10_000, "plain HTTP");
    await plain.body?.cancel();
    assert.ok(plain.status < 500, `plain HTTP got ${plain.status}; ${context()}`);

    // The second server of the block greets every connection.
    const channel = connect(`ws://127.0.0.1:${ports[8081]}/`);
    await deadline(channel.ready, 10_000, `a connection to ${server.where}'s second server`);
    const reader = channel.stream.getReader();
    assert.deepEqual(await deadline(reader.read(), 10_000, "welcome"), {
      value: "welcome",
      done: false,
    });
    reader.releaseLock();
    await channel.sink.close(1000, "done");
    const closed = await deadline(channel.closed, 10_000, "the close handshake");
    assert.equal(closed.wasClean, true);
    await delay(100); // a crash after the close (an unhandled rejection) shows here
    assert.equal(child.exitCode, null, `the server died; ${context()}`);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

const onDeno = currentRuntime === "deno" ? false : "runs in the Deno stage";
const onBun = currentRuntime === "bun" ? false : "runs in the Bun stage";
const onNode = currentRuntime === "node" ? false : "runs in the Node stages";
const nodeVersion = currentRuntime === "node" ? Number(process.versions.node.split(".")[0]) : 0;

test("README quick start on Deno: the Deno servers and the channel quick start", {
  skip: onDeno,
  timeout: 120_000,
}, () => quickStart("deno", "Deno"));

test("README quick start on Bun: the Bun servers and the channel quick start", {
  skip: onBun,
  timeout: 120_000,
}, () => quickStart("bun", "Bun"));

test(
  `README quick start on Node ${nodeVersion || ""}: the Node servers and the channel quick start`,
  {
    skip: onNode,
    timeout: 120_000,
  },
  () => quickStart(nodeVersion < 22 ? "node20" : "node", "Node"),
);
