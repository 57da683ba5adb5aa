/**
 * Client testee in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core), run
 * by Node: bundles browser_client.ts for the browser, serves it on a loopback page and lets the
 * page run every fuzzing case through the browser's WebSocket via our native channel.
 *
 * @example
 * ```sh
 * node .cache/bundles/chromium_client.mjs --port 9001 --agent native-chromium
 * ```
 * @module
 */
import { createServer } from "node:http";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";
import { exit, parseArgs, runtimeArgs } from "./args.ts";

const args = parseArgs(runtimeArgs());
const root = process.cwd(); // conformance/run.ts starts testees from the repository root

// The `browser` field of package.json leaves the engine transport (and node:net) out of the bundle.
const { outputFiles } = await esbuild.build({
  entryPoints: [join(root, "conformance/testees/browser_client.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  write: false,
  logLevel: "warning",
});
const bundle = outputFiles[0].text;

const page = createServer((request, response) => {
  if (request.url === "/client.js") {
    response.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
  } else {
    response.writeHead(200, { "content-type": "text/html" })
      .end('<!doctype html><script type="module" src="/client.js"></script>');
  }
});
await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${(page.address() as { port: number }).port}`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
  ],
});
let code = 1;
try {
  const tab = await browser.newPage();
  tab.on("console", (message) => console.log(`[page] ${message.text()}`));
  tab.on("pageerror", (error) => console.log(`[page error] ${error.message}`));
  await tab.goto(origin);
  await tab.waitForFunction(() =>
    typeof (globalThis as { runAutobahn?: unknown }).runAutobahn === "function"
  );
  const count = await tab.evaluate(
    ([base, agent]) =>
      (globalThis as unknown as { runAutobahn(b: string, a: string): Promise<number> }).runAutobahn(
        base,
        agent,
      ),
    [`ws://${args.host}:${args.port}`, args.agent] as const,
  );
  console.log(`done ${count}`);
  code = 0;
} catch (error) {
  console.error(error);
} finally {
  await browser.close().catch(() => {});
  page.close();
}
exit(code);
