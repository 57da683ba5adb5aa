// Browsers: the package as a bundler sees it (esbuild, platform browser, which honours the
// package's "browser" field; built by scripts/check_npm.ts into ../browser_bundle.js), loaded into
// headless Chromium, echoing through the native WebSocket with attach() from server/node.
// playwright-core comes from the repository (WSC_PLAYWRIGHT), the browser from WSC_CHROMIUM.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { attach } from "websocket-channel/server/node";

const { chromium } = await import(process.env.WSC_PLAYWRIGHT);
const bundle = readFileSync(new URL("../browser_bundle.js", import.meta.url), "utf8");

const deadline = setTimeout(() => {
  console.error("timed out after 30 s");
  process.exit(1);
}, 30_000);
deadline.unref();

const server = createServer((req, res) => {
  if (req.url === "/bundle.js") {
    res.writeHead(200, { "content-type": "text/javascript" });
    res.end(bundle);
  } else {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>websocket-channel smoke</title>");
  }
});
attach(server, {
  async onChannel(channel) {
    for await (const message of channel.stream) await channel.sink.add(message);
  },
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.WSC_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  await page.goto(origin);
  const result = await page.evaluate(async (url) => {
    const { WebSocketChannel, CloseCode } = await import("/bundle.js");
    const channel = WebSocketChannel.connect(url);
    await channel.ready;
    const reader = channel.stream.getReader();
    await channel.sink.add("hello from the browser");
    const text = (await reader.read()).value;
    await channel.sink.add(new Uint8Array([0, 1, 255]));
    const bytes = Array.from((await reader.read()).value);
    reader.releaseLock();
    // No TCP in browsers: the engine transport must fail with a typed error (thrown or as `ready`).
    let engine;
    try {
      await WebSocketChannel.connect(url, { transport: "engine" }).ready;
      engine = "connected?!";
    } catch (error) {
      engine = `${error.name} ${error.code}`;
    }
    await channel.sink.close(CloseCode.normalClosure, "done");
    return { text, bytes, engine, closed: await channel.closed };
  }, origin.replace("http:", "ws:") + "/smoke");
  const expected = {
    text: "hello from the browser",
    bytes: [0, 1, 255],
    closed: { code: 1000, reason: "done", wasClean: true },
  };
  for (const key of Object.keys(expected)) {
    if (JSON.stringify(result[key]) !== JSON.stringify(expected[key])) {
      throw new Error(
        `${key}: got ${JSON.stringify(result[key])}, want ${JSON.stringify(expected[key])}`,
      );
    }
  }
  if (!/^(UnsupportedError|ConnectError) WS_/.test(result.engine)) {
    throw new Error(`transport "engine" in a browser: got ${result.engine}`);
  }
  console.log(
    `chromium ${browser.version()}: ok (text, binary, close 1000; engine transport: ${result.engine})`,
  );
} finally {
  await browser.close();
  server.close();
}
