/**
 * The session client in headless Chromium (playwright-core driving
 * /usr/bin/chromium): the browser bundle of the `./session` entry point over
 * the native WebSocket, against a `SessionHub` served by this test's runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { deadline } from "../_util/async.ts";
import { currentRuntime, repoRoot } from "../_util/runtimes.ts";
import { serveHere } from "../_util/serve_here.ts";
import { internalsOf } from "../../src/channel/channel_internals.ts";
import { SESSION_PROTOCOL } from "../../src/session/frames.ts";
import { SessionHub } from "../../src/session/session_hub.ts";

const CHROMIUM = "/usr/bin/chromium";
const skip = currentRuntime === "bun"
  ? "playwright-core runs under Node or Deno"
  : !existsSync(CHROMIUM)
  ? "no Chromium at /usr/bin/chromium"
  : false;

/** The browser bundle of src/session/mod.ts (without the engine transport: package.json's `browser` field). */
async function buildBundle(): Promise<string> {
  try {
    const result = await esbuild.build({
      entryPoints: [join(repoRoot, "src", "session", "mod.ts")],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    return new TextDecoder().decode(result.outputFiles[0].contents);
  } finally {
    await esbuild.stop();
  }
}

const SCRIPT = `
  const { SessionClient } = await import("/wsc.js");
  const client = new SessionClient(arg.url, { heartbeat: false, reconnect: { base: 50, max: 100 } });
  const messages = [];
  const gaps = [];
  client.on("message", ({ position, data }) => messages.push([position, data]));
  client.on("gap", (gap) => gaps.push(gap));
  client.subscribe("news");
  await client.connect();
  const until = (check) => new Promise((resolve) => {
    const poll = () => (check() ? resolve() : setTimeout(poll, 10));
    poll();
  });
  await until(() => client.positions().news !== undefined);
  await client.send("publish three");
  await until(() => messages.length === 3);
  await client.send("drop, then publish two"); // the server cuts us before it can acknowledge
  await until(() => messages.length === 5);
  await client.send(new Uint8Array([1, 2, 3]));
  await client.close();
  return { messages, gaps, session: client.sessionId };
`;

test(
  "SessionClient in Chromium: acknowledged sends, positions, resume after the server cut the connection",
  {
    skip,
  },
  async () => {
    const bundle = await buildBundle();
    assert.ok(
      !/["']node:|\bDeno\.|\bBun\./.test(bundle),
      "the session bundle holds no runtime-specific code",
    );
    const received: unknown[] = [];
    const hub: SessionHub = new SessionHub({
      onMessage: async ({ data, peer }) => {
        received.push(data);
        if (data === "publish three") {
          for (const text of ["a", "b", "c"]) await hub.publish("news", text);
        } else if (data === "drop, then publish two") {
          if (received.filter((d) => d === data).length > 1) return;
          await internalsOf(peer.channel)!.close(1012, "restarting");
          for (const text of ["d", "e"]) await hub.publish("news", text);
        }
      },
    });
    const server = await serveHere({
      protocols: [SESSION_PROTOCOL],
      onChannel: (channel) => void hub.accept(channel),
    });
    const page = createServer((req, res) => {
      res.writeHead(200, {
        "content-type": req.url === "/wsc.js" ? "text/javascript" : "text/html",
      });
      res.end(req.url === "/wsc.js" ? bundle : "<!doctype html><title>wsc session</title>");
    });
    await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
    try {
      const tab = await browser.newPage();
      await tab.goto(`http://127.0.0.1:${(page.address() as { port: number }).port}/`);
      const result = await deadline(
        tab.evaluate(
          ([body, value]) => new Function("arg", `return (async () => { ${body} })()`)(value),
          [SCRIPT, { url: `ws://127.0.0.1:${server.port}/` }] as const,
        ) as Promise<{ messages: [number, string][]; gaps: unknown[] }>,
        30_000,
        "the page script",
      );
      assert.deepEqual(result.messages, [[1, "a"], [2, "b"], [3, "c"], [4, "d"], [5, "e"]]);
      assert.deepEqual(result.gaps, []);
      assert.deepEqual(received, [
        "publish three",
        "drop, then publish two",
        new Uint8Array([1, 2, 3]),
      ], "each send reached the application once");
    } finally {
      await browser.close();
      await new Promise((resolve) => page.close(resolve));
      await hub.close();
      await server.close();
    }
  },
);
