/**
 * JSR readiness of the package: what `deno publish` and the JSR score look
 * at, run offline over the `deno.json` exports.
 *
 * Checks, each counted once:
 * - `deno check` of every export (with the code blocks of its JSDoc, `--doc`);
 * - `deno lint` and `deno fmt --check` of the repository;
 * - `deno doc --lint` of every export (every exported symbol documented, no
 *   private type leaking into a public signature, explicit return types);
 * - every exported function, class and constant has an `@example`
 *   (from `deno doc --json`; interfaces and type aliases are listed only);
 * - the JSR score items checkable offline: an `@module` doc with an example
 *   in every entry point, a root `README.md` and `LICENSE`;
 * - `deno test --doc` runs the examples of `mod.ts` and `src/`;
 * - `deno publish --dry-run --allow-dirty` (needs jsr.io to resolve the
 *   package's scope; without network it is reported as skipped, with the
 *   reason, and not counted).
 *
 * Findings are printed grouped per file, so each owner sees theirs. The last
 * line is `N passed, N failed`.
 *
 * Usage: `deno run -A scripts/check_jsr.ts [--only check,lint,fmt,doc-lint,examples,score,doc-test,publish]`
 * (also `deno task check:jsr`).
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const deno = Deno.env.get("WSC_DENO") ?? `${root}/node_modules/.bin/deno`;

interface Result {
  name: string;
  status: "passed" | "failed" | "skipped";
  findings: string[];
  note?: string;
}

const results: Result[] = [];

async function run(args: string[], timeoutMs = 300_000): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(deno, {
    args,
    cwd: root,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  let output = stripAnsi(decoder.decode(out.stdout) + decoder.decode(out.stderr));
  if (timedOut) output += `\ndeno ${args[0]} timed out after ${timeoutMs / 1000} s and was killed`;
  return { code: out.code, output };
}

// deno-lint-ignore no-control-regex
const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** Turns tool output into `file:line: message` findings, relative to the repository. */
function findings(output: string): string[] {
  const lines = output.split("\n");
  const found: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    // `error[missing-jsdoc]: message` … `--> /path:line:col` (lint, doc --lint, check)
    const where = /^\s*(?:-->|at) (?:file:\/\/)?(\/[^\s:]+):(\d+):\d+/.exec(lines[i]);
    if (where) {
      let message = "";
      for (let j = i - 1; j >= Math.max(0, i - 4); j--) {
        const head = /^(?:error|warning)(?:\[([\w-]+)\])?: (.*)$|^(TS\d+ \[ERROR\]: .*)$/.exec(
          lines[j].trim(),
        );
        if (head) {
          message = head[3] ?? (head[1] ? `${head[1]}: ${head[2]}` : head[2]);
          break;
        }
      }
      found.push(`${relative(where[1])}:${where[2]}: ${message || "(see output)"}`);
      continue;
    }
    // `from /path:` (fmt --check)
    const fmt = /^from (\/\S+):$/.exec(lines[i].trim());
    if (fmt) found.push(`${relative(fmt[1])}: not formatted (deno fmt)`);
  }
  return [...new Set(found)];
}

const relative = (path: string) => path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path;

async function step(
  name: string,
  body: () => Promise<Omit<Result, "name">>,
): Promise<void> {
  const start = performance.now();
  let result: Result;
  try {
    result = { name, ...(await body()) };
  } catch (error) {
    result = { name, status: "failed", findings: [String(error)] };
  }
  results.push(result);
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  const label = { passed: "ok  ", failed: "FAIL", skipped: "skip" }[result.status];
  console.log(`${label} ${name} (${seconds} s)${result.note ? `: ${result.note}` : ""}`);
  for (const line of groupByFile(result.findings)) console.log(`     ${line}`);
}

/** `file` headers with the file's findings under them. */
function groupByFile(found: string[]): string[] {
  const byFile = new Map<string, string[]>();
  for (const finding of found) {
    const file = /^([^:\s]+\.(?:ts|md|json|mjs|js)|LICENSE):/.exec(finding)?.[1] ?? "(general)";
    byFile.set(file, [
      ...(byFile.get(file) ?? []),
      finding.slice(file === "(general)" ? 0 : file.length + 1),
    ]);
  }
  const lines: string[] = [];
  for (const [file, items] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`${file} (${items.length})`);
    for (const item of items) lines.push(`  ${item.trim()}`);
  }
  return lines;
}

async function exportFiles(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const files: string[] = [];
  for (const [subpath, file] of Object.entries(config.exports as Record<string, string>)) {
    try {
      await Deno.stat(`${root}/${file}`);
      files.push(file);
    } catch {
      console.log(`warning: export ${subpath} (${file}) does not exist yet`);
    }
  }
  return files;
}

const commandStep = (
  args: string[],
  note?: (output: string) => string | undefined,
  timeoutMs?: number,
) =>
async () => {
  const { code, output } = await run(args, timeoutMs);
  const found = findings(output);
  if (code !== 0 && found.length === 0) found.push(output.trim().split("\n").slice(-5).join("\n"));
  return {
    status: code === 0 ? "passed" as const : "failed" as const,
    findings: found,
    note: note?.(output),
  };
};

interface DocSymbol {
  name: string;
  declarations: {
    kind?: string;
    location: { filename: string; line: number };
    jsDoc?: { tags?: { kind: string }[] };
  }[];
}

async function examplesStep(files: string[]): Promise<Omit<Result, "name">> {
  const { code, output } = await run(["doc", "--json", ...files]);
  if (code !== 0) throw new Error(`deno doc --json failed:\n${output.slice(-2000)}`);
  const doc = JSON.parse(output.slice(output.indexOf("{")));
  const missing: string[] = [];
  const typesOnly: string[] = [];
  const seen = new Set<string>();
  for (const node of Object.values(doc.nodes) as { symbols?: DocSymbol[] }[]) {
    for (const symbol of node.symbols ?? []) {
      const declaration = symbol.declarations[0];
      if (!declaration) continue;
      // Re-exports (`export { x } from`) are checked where they are declared.
      if (symbol.declarations.every((d) => d.kind === "reference")) continue;
      const key = `${declaration.location.filename}:${symbol.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const hasExample = symbol.declarations.some((d) =>
        d.jsDoc?.tags?.some((t) => t.kind === "example")
      );
      if (hasExample) continue;
      const kind = declaration.kind ?? "unknown";
      const line =
        `${
          relative(declaration.location.filename.replace("file://", ""))
        }:${declaration.location.line}: ` +
        `${kind} ${symbol.name} has no @example`;
      if (kind === "interface" || kind === "typeAlias") typesOnly.push(line);
      else missing.push(line);
    }
  }
  return {
    status: missing.length === 0 ? "passed" : "failed",
    findings: [...missing, ...typesOnly.map((line) => `${line} (type; informational)`)],
    note:
      `${seen.size} exported symbols, ${missing.length} functions/classes/constants without an example`,
  };
}

/** The JSR score items that can be checked locally: module docs with an example per entry point, a README. */
async function scoreStep(files: string[]): Promise<Omit<Result, "name">> {
  const { code, output } = await run(["doc", "--json", ...files]);
  if (code !== 0) throw new Error(`deno doc --json failed:\n${output.slice(-2000)}`);
  const doc = JSON.parse(output.slice(output.indexOf("{")));
  const found: string[] = [];
  for (const file of files) {
    const node = doc.nodes[`file://${root}/${file.replace(/^\.\//, "")}`];
    const moduleDoc = node?.module_doc as { doc?: string; tags?: { kind: string }[] } | undefined;
    if (!moduleDoc?.doc) found.push(`${file}:1: entry point has no @module documentation`);
    else if (!moduleDoc.tags?.some((t) => t.kind === "example")) {
      found.push(`${file}:1: the @module documentation has no example`);
    }
  }
  for (const required of ["README.md", "LICENSE"]) {
    try {
      await Deno.stat(`${root}/${required}`);
    } catch {
      found.push(
        `${required}: missing at the repository root (JSR shows it; deno.json publish includes it)`,
      );
    }
  }
  return { status: found.length === 0 ? "passed" : "failed", findings: found };
}

async function publishStep(): Promise<Omit<Result, "name">> {
  const { code, output } = await run(["publish", "--dry-run", "--allow-dirty"], 120_000);
  if (code === 0) return { status: "passed", findings: [], note: "dry run succeeded" };
  const offline =
    /error sending request|dns error|failed to lookup|Connection refused|network|jsr\.io/i.test(
      output,
    );
  if (offline) {
    const reason = output.trim().split("\n").find((line) => /error/i.test(line)) ?? output.trim();
    return {
      status: "skipped",
      findings: [],
      note: `cannot run offline (publish resolves the scope on jsr.io): ${reason.trim()}`,
    };
  }
  return {
    status: "failed",
    findings: findings(output).concat(output.trim().split("\n").slice(-8)),
  };
}

const all = ["check", "lint", "fmt", "doc-lint", "examples", "score", "doc-test", "publish"];
const onlyIndex = Deno.args.indexOf("--only");
const only = onlyIndex >= 0 ? Deno.args[onlyIndex + 1].split(",") : all;
const files = await exportFiles();
const sources = ["mod.ts", "src/"].filter((path) => {
  try {
    Deno.statSync(`${root}/${path}`);
    return true;
  } catch {
    return false;
  }
});

if (only.includes("check")) {
  await step("deno check --doc (exports)", commandStep(["check", "--doc", ...files]));
}
if (only.includes("lint")) await step("deno lint", commandStep(["lint"]));
if (only.includes("fmt")) await step("deno fmt --check", commandStep(["fmt", "--check"]));
if (only.includes("doc-lint")) {
  await step("deno doc --lint (exports)", commandStep(["doc", "--lint", ...files]));
}
if (only.includes("examples")) {
  await step("@example on every exported function, class, constant", () => examplesStep(files));
}
if (only.includes("score")) {
  await step(
    "JSR score: module docs with examples in every entry point, README, LICENSE",
    () => scoreStep(files),
  );
}
if (only.includes("doc-test")) {
  await step(
    "deno test --doc (mod.ts, src/)",
    commandStep(["test", "--doc", "-A", "--permit-no-files", ...sources], (output) => {
      const summary = /^(?:ok|FAILED) \| (\d+) passed.*?\| (\d+) failed/m.exec(output);
      return summary ? `${summary[1]} examples passed, ${summary[2]} failed` : undefined;
    }, 900_000), // type-checks and runs every example of src/: minutes on a loaded machine
  );
}
if (only.includes("publish")) await step("deno publish --dry-run --allow-dirty", publishStep);

const passed = results.filter((r) => r.status === "passed").length;
const failed = results.filter((r) => r.status === "failed").length;
const skipped = results.filter((r) => r.status === "skipped").length;
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
Deno.exit(failed === 0 ? 0 : 1);
