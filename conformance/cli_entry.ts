/**
 * The `websocket-channel-conformance` command of the npm package: the outside-implementation mode of
 * the conformance harness (external.ts) as a bin.
 *
 *   npx websocket-channel-conformance --server ws://127.0.0.1:9001/ --exclude '12.*,13.*'
 *   npx websocket-channel-conformance --client "python3 my_client.py {url}"
 *
 * The options are those of `npm run conformance -- --server/--client` (see external.ts). The npm
 * build (scripts/build_npm.ts) bundles this module into `bin/websocket-channel-conformance.js` and
 * ships `install.sh`, `requirements-py27.txt` and `wstest_driver.py` in the package's
 * `conformance/` folder: `../conformance/` from the bundle, which is this folder in the repository.
 *
 * Where the fuzzer is installed (the harness's "home": install.sh, the driver and `.cache/`):
 * - `WSC_CONFORMANCE_HOME` when set (e.g. a repository's `conformance/` folder, to reuse its
 *   install; the three files are copied there only when it has no install.sh);
 * - run from the repository: the repository's `conformance/` folder, as `npm run conformance`;
 * - otherwise a user cache folder, `$XDG_CACHE_HOME/websocket-channel/conformance` (default
 *   `~/.cache/websocket-channel/conformance`), refreshed from the package when the files differ, so
 *   the Python 2.7 virtualenv survives reinstalls and `npx` cache clean-ups.
 *
 * Reports default to `conformance/report/external` under the current directory (`--report DIR`
 * overrides). `--help` prints the usage and exits 0; bad usage exits 2 before anything is installed.
 *
 * @module
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { main, parseExternalArgs, runExternal } from "./external.ts";

const NAME = "websocket-channel-conformance";
/** What the harness needs at run time besides its own code. */
export const CONFORMANCE_ASSETS = ["install.sh", "requirements-py27.txt", "wstest_driver.py"];

/** The shipped conformance files: `../conformance/` from the bundle in `bin/`, this folder in the repository. */
const ASSETS_DIR = fileURLToPath(new URL("../conformance/", import.meta.url)).replace(/\/$/, "");

/** Whether `dir` is the repository's conformance folder (it holds the harness's sources). */
function isRepository(dir: string): boolean {
  return existsSync(join(dir, "external.ts")) && existsSync(join(dir, "run.ts"));
}

/**
 * The folder the harness works in (install.sh, wstest_driver.py, `.cache/`), prepared: see the module
 * documentation for the order.
 */
export function conformanceHome(
  env: Record<string, string | undefined> = process.env,
  assets = ASSETS_DIR,
): string {
  const chosen = env.WSC_CONFORMANCE_HOME;
  if (chosen) {
    const home = resolve(chosen);
    if (!existsSync(join(home, "install.sh"))) copyAssets(assets, home);
    return home;
  }
  if (isRepository(assets)) return assets;
  const cache = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const home = join(cache, "websocket-channel", "conformance");
  copyAssets(assets, home);
  return home;
}

function copyAssets(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of CONFORMANCE_ASSETS) {
    const source = join(from, name);
    const target = join(to, name);
    if (!existsSync(source)) throw new Error(`${source} is missing (a broken install?)`);
    if (existsSync(target) && readFileSync(target).equals(readFileSync(source))) continue;
    copyFileSync(source, target);
  }
}

/** The harness's usage text, with this command's name. */
async function usage(): Promise<string> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    await runExternal(["--help"], ASSETS_DIR);
  } finally {
    console.error = original;
  }
  return lines.join("\n")
    .replace(/^( {2})conformance /gm, `$1${NAME} `)
    .replace("(default conformance/report/external)", "(default ./conformance/report/external)") +
    `\nenvironment:\n  WSC_CONFORMANCE_HOME  where the fuzzer is installed (default: ${
      isRepository(ASSETS_DIR)
        ? ASSETS_DIR
        : "${XDG_CACHE_HOME:-~/.cache}/websocket-channel/conformance"
    })`;
}

/** Runs the command; exits the process. */
export async function cli(argv: readonly string[]): Promise<never> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(await usage());
    process.exit(0);
  }
  try {
    parseExternalArgs(argv, ASSETS_DIR);
  } catch (error) {
    console.error(`${NAME}: ${error instanceof Error ? error.message : error}`);
    console.error(await usage());
    process.exit(2);
  }
  const args = [...argv];
  if (!args.some((a) => a === "--report" || a.startsWith("--report="))) {
    args.push("--report", resolve("conformance", "report", "external"));
  }
  let home: string;
  try {
    home = conformanceHome();
  } catch (error) {
    console.error(`${NAME}: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
  return await main(args, home);
}

// Node 24 sets import.meta.main for a bundle that imports this module; the npm bin is a bundle of
// this module alone and calls cli() itself (scripts/build_npm.ts), so only a direct run counts here.
if (import.meta.main && import.meta.url.endsWith("/cli_entry.ts")) {
  await cli(process.argv.slice(2));
}
