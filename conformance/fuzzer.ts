/**
 * The Autobahn fuzzer (`wstest`) as the harness runs it: installed by install.sh (Docker image or a
 * Python 2.7 virtualenv), always through wstest_driver.py (the same arguments as wstest, plus live
 * per-case results, reports on SIGUSR1 and `--merge-reports`). Used by run.ts (the matrix) and
 * external.ts (anyone's implementation); node:* modules only, so it runs on Deno, Bun and Node.
 *
 * @example
 * ```ts
 * const fuzzer = await loadFuzzer("conformance", { install: false });
 * fuzzer.argv(["-m", "fuzzingclient", "-s", "spec.json"], {});
 * ```
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { type Index, mergeReportDirs } from "./split.ts";

/** How to start the fuzzer driver. */
export interface Fuzzer {
  /** `venv` or `docker`. */
  mode: string;
  /** argv running wstest_driver.py with `args` (wstest's own arguments), given `env`. */
  argv(args: string[], env: Record<string, string>): string[];
  /** The environment the process needs besides the harness's own. */
  env(env: Record<string, string>): Record<string, string>;
}

/**
 * Writes a wstest spec file for `cases` (explicit ids: wstest matches patterns as prefixes) with
 * reports to `outdir`; `peer` is `{ servers: [...] }` for a fuzzing client or `{ url }` for a fuzzing
 * server. Resolves with the file's path.
 *
 * @example
 * ```ts
 * await writeSpec("out/spec.json", "out/autobahn", ["1.1.1"], { url: "ws://127.0.0.1:9001" });
 * ```
 */
export async function writeSpec(
  path: string,
  outdir: string,
  cases: readonly string[],
  peer: { servers: Record<string, unknown>[] } | { url: string },
): Promise<string> {
  const spec = { ...peer, outdir, cases, "exclude-cases": [], "exclude-agent-cases": {} };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(spec, null, 2));
  return path;
}

/**
 * Runs install.sh (unless `install` is false) and returns how to start the driver.
 *
 * @example
 * ```ts
 * const fuzzer = await loadFuzzer("/repo/conformance", { install: true });
 * ```
 */
export async function loadFuzzer(home: string, options: { install: boolean }): Promise<Fuzzer> {
  if (options.install) {
    const t = Date.now();
    const result = spawnSync("bash", [join(home, "install.sh")], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status !== 0) throw new Error("conformance/install.sh failed (see above)");
    console.log(`wstest ready (${((Date.now() - t) / 1000).toFixed(1)}s)`);
  }
  let state: { mode: string; command: string[] };
  try {
    state = JSON.parse(await readFile(join(home, ".cache", "wstest.json"), "utf8"));
  } catch {
    throw new Error(`wstest is not installed: run bash ${join(home, "install.sh")}`);
  }
  const driver = join(home, "wstest_driver.py");
  if (state.mode === "docker") {
    // docker run … IMAGE wstest → the image's Python 2 (PyPy in the official image) runs the driver;
    // the conformance folder is mounted at the same path, so spec, outdir and driver paths hold.
    const prefix = state.command.slice(0, -2);
    const image = state.command.at(-2)!;
    return {
      mode: "docker",
      argv: (args, env) => [
        ...prefix,
        ...Object.entries({ PYTHONUNBUFFERED: "1", ...env }).flatMap((
          [k, v],
        ) => ["-e", `${k}=${v}`]),
        "--entrypoint",
        "sh",
        image,
        "-c",
        'exec "$(command -v pypy || command -v python2 || command -v python)" "$0" "$@"',
        driver,
        ...args,
      ],
      env: () => ({}),
    };
  }
  const python = join(dirname(state.command[0]), "python");
  return {
    mode: state.mode,
    argv: (args) => [python, "-u", driver, ...args],
    env: (env) => ({ PYTHONUNBUFFERED: "1", ...env }),
  };
}

/**
 * One report out of the wstest output folders of several parts (split.ts): per-case files copied
 * into `outdir`, a merged `index.json`, and wstest's `index.html` rebuilt over all of them by the
 * driver. Resolves with the merged index.
 *
 * @example
 * ```ts
 * await mergeFuzzerReports(fuzzer, ["out/parts/1", "out/parts/2"], "out");
 * ```
 */
export async function mergeFuzzerReports(
  fuzzer: Fuzzer,
  partDirs: readonly string[],
  outdir: string,
): Promise<Index> {
  const index = await mergeReportDirs(partDirs, outdir);
  const [cmd, ...args] = fuzzer.argv(["--merge-reports", outdir], {});
  const output = await new Promise<{ code: number | null; text: string }>((done) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...fuzzer.env({}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (chunk) => text += chunk);
    child.stderr.on("data", (chunk) => text += chunk);
    child.on("error", (error) => done({ code: 127, text: error.message }));
    child.on("close", (code) => done({ code, text }));
  });
  if (output.code !== 0) {
    throw new Error(`merging the fuzzer's HTML reports failed:\n${output.text}`);
  }
  return index;
}
