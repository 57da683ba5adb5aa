import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import type { Browser, Page } from "playwright-core";
import { deadline, delay, waitFor } from "../_util/async.ts";
import { redisSkip, startRedisServer } from "../_util/redis_server.ts";
import { repoRoot, runtimes } from "../_util/runtimes.ts";
import { chromiumSkip, launchChromium } from "../_util/chromium.ts";

// examples/chat/server.ts as users run it, on three runtimes at once behind
// one Redis: Deno (Deno.serve + upgrade), Bun (Bun.serve + createBunHandler,
// native topics) and Node 24 (node:http + attach, the .ts file run by type
// stripping). Headless Chromium opens the page of each server, joins one
// room, and chats; then the Node server restarts on its port and its page's
// reconnecting client must rejoin on its own.

const skip = chromiumSkip || redisSkip;

const example = join(repoRoot, "examples/chat/server.ts");
type ChatRuntime = "deno" | "bun" | "node";

interface ChatServer {
  child: ChildProcess;
  port: number;
  output: string;
  exited: Promise<number | null>;
}

async function startChat(runtime: ChatRuntime, port: number, redis: string): Promise<ChatServer> {
  const args = [example, "--port", String(port), "--redis", redis];
  const [cmd, ...rest] = runtime === "deno"
    ? [runtimes.deno, "run", "-A", ...args]
    : runtime === "bun"
    ? [runtimes.bun, ...args]
    : [runtimes.node, ...args];
  const child = spawn(cmd, rest, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  const server: ChatServer = {
    child,
    port: 0,
    output: "",
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
  child.stdout!.on("data", (chunk) => server.output += chunk);
  child.stderr!.on("data", (chunk) => server.output += chunk);
  server.port = await waitFor(() => {
    if (child.exitCode !== null) {
      throw new Error(`${runtime} chat server exited with ${child.exitCode}: ${server.output}`);
    }
    return Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(server.output)?.[1] ?? 0);
  }, { timeout: 30_000, interval: 20, what: `${runtime} chat server to listen` });
  return server;
}

/** SIGTERM: the server closes its connections with 1001 and exits 0 (SIGKILL after 10 s). */
async function stopChat(server: ChatServer): Promise<number | string | null> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    // Not child.kill(): Deno's node:child_process then reports the signal as the
    // cause of exit even when the child handled it and exited 0.
    process.kill(server.child.pid!, "SIGTERM");
    const timer = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
    await server.exited;
    clearTimeout(timer);
  }
  return server.child.exitCode ?? server.child.signalCode;
}

async function openPage(browser: Browser, port: number, nick: string): Promise<Page> {
  const context = await browser.newContext(); // its own localStorage (the nickname)
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`http://127.0.0.1:${port}/?room=it%20works`);
  await page.fill("#nick", nick);
  await page.click("#join-button");
  await page.waitForSelector('#status[data-state="open"]');
  return page;
}

/** Texts of the chat lines of a page (system lines excluded), as `nick: text`. */
function lines(page: Page): Promise<string[]> {
  return page.$$eval(
    "#messages li",
    (items) =>
      items.filter((li) => li.querySelector(".nick")).map((li) =>
        `${li.querySelector(".nick")!.textContent}: ${li.querySelector(".text")!.textContent}`
      ),
  );
}

const joins = (page: Page) =>
  page.$$eval(
    "#messages li .system",
    (items) => items.filter((s) => s.textContent!.startsWith("joined #it works")).length,
  );

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

/**
 * `from` says `text #1`, `text #2`, … until every page in `to` shows one of
 * them: a server subscribes to Redis just after its client joined, so the
 * very first message may come too early for it (Redis pub/sub keeps nothing).
 * Returns the line that arrived.
 */
async function sayUntilEveryoneHears(from: Page, to: Page[], text: string): Promise<string> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    await say(from, `${text} #${attempt}`);
    try {
      const heard = await waitFor(async () => {
        const all = await Promise.all(to.map(lines));
        const shared = all[0].filter((l) => l.includes(text) && all.every((p) => p.includes(l)));
        return shared[0];
      }, { timeout: 500, interval: 25, what: text });
      return heard;
    } catch { /* not everywhere yet: say it again */ }
  }
  throw new Error(`"${text}" never reached every page`);
}

test(
  "chat example: pages on Deno, Bun and Node servers share a room over Redis; a restarted server is rejoined",
  { skip, timeout: 120_000 },
  async () => {
    const redis = await startRedisServer();
    const servers: ChatServer[] = [];
    let browser: Browser | undefined;
    let codes: (number | string | null)[] = [];
    try {
      // Each kept as it starts, so that one failing to start leaves none of the others running.
      const started = await Promise.allSettled(
        (["deno", "bun", "node"] as const).map((r) => startChat(r, 0, redis.url)),
      );
      for (const result of started) if (result.status === "fulfilled") servers.push(result.value);
      const failed = started.find((result) => result.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      browser = await launchChromium();
      const [alice, bob, carol] = await Promise.all([
        openPage(browser, servers[0].port, "alice"),
        openPage(browser, servers[1].port, "bob"),
        openPage(browser, servers[2].port, "carol"),
      ]);
      const pages = [alice, bob, carol];

      // A message typed on the Deno server's page shows on every page, the sender's included.
      const hello = await sayUntilEveryoneHears(alice, pages, "hello from alice");
      assert.match(hello, /^alice: hello from alice #\d+$/);
      const fromBun = await sayUntilEveryoneHears(bob, pages, "hi, bob here");
      assert.match(fromBun, /^bob: hi, bob here #\d+$/);
      // Text is shown as text.
      const tags = await sayUntilEveryoneHears(carol, pages, "<b>not bold</b>");
      assert.match(tags, /^carol: <b>not bold<\/b> #\d+$/);
      assert.equal(await carol.$$eval("#messages b", (found) => found.length), 0);

      // The Node server restarts on the same port; carol's client reconnects by itself.
      const node = servers[2];
      assert.equal(
        await deadline(stopChat(node), 15_000, "the node server to stop"),
        0,
        node.output,
      );
      assert.match(node.output, /SIGTERM: closing/);
      await waitFor(() => carol.$eval("#status", (s) => s.dataset.state !== "open"), {
        timeout: 5_000,
        what: "carol's page to notice",
      });
      await delay(300); // a reconnect attempt or two meet a closed port
      servers[2] = await startChat("node", node.port, redis.url);
      await waitFor(async () => await joins(carol) >= 2, {
        timeout: 15_000,
        interval: 50,
        what: "carol's page to rejoin",
      });
      const after = await sayUntilEveryoneHears(alice, pages, "still there, carol?");
      assert.match(after, /^alice: still there, carol\? #\d+$/);
      const back = await sayUntilEveryoneHears(carol, pages, "yes, back");
      assert.match(back, /^carol: yes, back #\d+$/);
      for (const page of pages) assert.equal(await joins(page), page === carol ? 2 : 1);
    } finally {
      await browser?.close();
      codes = await Promise.all(servers.map(stopChat));
      await redis.stop();
    }
    // SIGTERM ends every server cleanly.
    assert.deepEqual(codes, [0, 0, 0], servers.map((s) => s.output).join("\n"));
  },
);
