/**
 * Headless Chromium for tests: playwright-core driving /usr/bin/chromium, a
 * page served on loopback with a script of ours at `/wsc.js`, and a way to
 * run an async script body in that page.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { createServer } from "node:http";
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
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
  });
  try {
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
    await browser.close();
    await new Promise((resolve) => server.close(resolve));
  }
}
