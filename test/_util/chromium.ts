/**
 * Headless Chromium for tests: playwright-core driving /usr/bin/chromium, the
 * browser bundle of one of our entry points, a page served on loopback with
 * that script at `/wsc.js`, and a way to run an async script body in that
 * page.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { Browser } from "playwright-core";
import { buildBrowser } from "../../scripts/build_browser.ts";
import { deadline } from "./async.ts";
import { currentRuntime } from "./runtimes.ts";

/** The Chromium the tests drive. */
export const CHROMIUM = "/usr/bin/chromium";

/** Why Chromium tests cannot run here, or `false` when they can. */
export const chromiumSkip: string | false = currentRuntime === "bun"
  ? "playwright-core runs under Node or Deno"
  : !existsSync(CHROMIUM)
  ? "no Chromium at /usr/bin/chromium"
  : false;

/**
 * The browser bundle (ESM, as the `browser` field of package.json maps it)
 * of the entry point at `path` from the repository root ("mod.ts",
 * "src/client/mod.ts", …); fails the test if runtime-specific code reached it.
 */
export async function browserBundle(path: string): Promise<string> {
  const { code, problems } = await buildBrowser({ contents: `export * from "./${path}";\n` });
  assert.deepEqual(problems, [], `the browser bundle of ${path} holds no runtime-specific code`);
  return code;
}

/** Launches headless Chromium (within 30 s); the caller closes it. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return deadline(
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
      ],
    }),
    30_000,
    "Chromium to start",
  );
}

/** Runs `body` (an async function body seeing `arg`) in the page; resolves with its result. */
export type PageRun = <T>(body: string, arg: unknown, ms?: number) => Promise<T>;

/**
 * Serves `script` as `/wsc.js` from a page on 127.0.0.1, opens it in headless
 * Chromium and calls `fn` with a runner; everything is stopped afterwards.
 */
export async function withChromium(
  script: string,
  fn: (run: PageRun) => Promise<void>,
): Promise<void> {
  const server = createServer((req, res) => {
    const isScript = req.url === "/wsc.js";
    res.writeHead(200, { "content-type": isScript ? "text/javascript" : "text/html" });
    res.end(isScript ? script : "<!doctype html><title>wsc</title>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
    const run: PageRun = <T>(body: string, arg: unknown, ms = 30_000) =>
      deadline(
        page.evaluate(
          ([text, value]) => new Function("arg", `return (async () => { ${text} })()`)(value),
          [body, arg] as const,
        ) as Promise<T>,
        ms,
        "the page script",
      );
    await fn(run);
  } finally {
    await browser?.close();
    await new Promise((resolve) => server.close(resolve));
  }
}
