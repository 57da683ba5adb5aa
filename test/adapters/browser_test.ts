import { test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import {
  browserBundle,
  chromiumSkip as skip,
  type PageRun,
  withChromium,
} from "../_util/chromium.ts";
import { echoOrClose } from "../_util/fixture_process.ts";
import { serveHere } from "../_util/serve_here.ts";

// Headless Chromium (playwright-core driving /usr/bin/chromium) runs the
// browser bundle of mod.ts against our servers: the browser client of the
// contract, plus the options a browser cannot honour.

test("the browser ESM bundle of mod.ts holds no node:, Deno. or Bun. code", async () => {
  // The browser field of package.json drops the engine transport's installer.
  const code = await browserBundle("mod.ts");
  assert.ok(code.includes("WebSocketChannel"));
});

/** Echoes; `close:<code>:<reason>` closes with that code. Records what the server saw. */
function echoHandler(log: { closes: { code: number; reason: string }[]; protocols: string[] }) {
  return (channel: WebSocketChannel) => {
    log.protocols.push(channel.protocol);
    channel.closed.then(({ code, reason }) => log.closes.push({ code, reason }));
    return echoOrClose(channel);
  };
}

async function withBrowser(fn: (run: PageRun) => Promise<void>) {
  await withChromium(await browserBundle("mod.ts"), fn);
}

const ECHO_SCRIPT = `
  const { WebSocketChannel } = await import("/wsc.js");
  const channel = WebSocketChannel.connect(arg.url, { protocols: ["chat"] });
  await channel.ready;
  const reader = channel.stream.getReader();
  const sent = ["hello", new Uint8Array([1, 2, 3]), "", "ünï 𝄞", new Uint8Array(100000).fill(5)];
  for (const m of sent) await channel.sink.add(m);
  const got = [];
  for (let i = 0; i < sent.length; i++) {
    const { value } = await reader.read();
    got.push(typeof value === "string" ? value : { bytes: value.byteLength, first: value[0] ?? null });
  }
  const ping = await channel.ping().then(() => "ok", (e) => e.code);
  await channel.sink.add("close:4005:server bye");
  const info = await channel.closed;
  const second = WebSocketChannel.connect(arg.url, { protocols: ["chat"] });
  await second.ready;
  await second.sink.close(4006, "browser bye");
  return { protocol: channel.protocol, got, ping, info, second: await second.closed };
`;

test(
  "browser (Chromium) client ↔ engine serve(): echo, subprotocol, close codes both ways, no ping",
  { skip },
  async () => {
    const log = { closes: [] as { code: number; reason: string }[], protocols: [] as string[] };
    const server = await serveHere({ protocols: ["chat"], onChannel: echoHandler(log) });
    try {
      await withBrowser(async (run) => {
        const result = await run<Record<string, unknown>>(ECHO_SCRIPT, {
          url: `ws://127.0.0.1:${server.port}/b`,
        });
        assert.equal(result.protocol, "chat");
        assert.deepEqual(result.got, ["hello", { bytes: 3, first: 1 }, "", "ünï 𝄞", {
          bytes: 100000,
          first: 5,
        }]);
        assert.equal(result.ping, "WS_PING_UNSUPPORTED");
        assert.deepEqual(result.info, { code: 4005, reason: "server bye", wasClean: true });
        assert.deepEqual(result.second, { code: 4006, reason: "browser bye", wasClean: true });
      });
      assert.deepEqual(log.protocols, ["chat", "chat"]);
      assert.ok(
        log.closes.some((c) => c.code === 4006 && c.reason === "browser bye"),
        JSON.stringify(log.closes),
      );
    } finally {
      await server.close();
    }
  },
);

test("browser (Chromium) refuses headers and the engine transport with typed errors naming them", {
  skip,
}, async () => {
  await withBrowser(async (run) => {
    const result = await run<Record<string, string>>(
      `
      const { WebSocketChannel } = await import("/wsc.js");
      const out = {};
      try { WebSocketChannel.connect("ws://127.0.0.1:1/", { headers: { authorization: "x" } }); }
      catch (e) { out.headers = e.code + " " + e.message; }
      try {
        const engine = WebSocketChannel.connect("ws://127.0.0.1:1/", { transport: "engine" });
        out.engine = await engine.ready.then(() => "opened", (e) => e.code + " " + e.message);
      } catch (e) { out.engine = e.code + " " + e.message; }
      return out;
    `,
      {},
    );
    assert.match(result.headers, /^WS_OPTION_UNSUPPORTED .*headers/);
    assert.match(result.engine, /^WS_OPTION_UNSUPPORTED/);
  });
});

test(
  "browser (Chromium) sees a refused upgrade (403 origin) as a typed connect failure",
  { skip },
  async () => {
    const log = { closes: [], protocols: [] as string[] };
    const server = await serveHere({
      origins: ["https://elsewhere.example"],
      onChannel: echoHandler(log),
    });
    try {
      await withBrowser(async (run) => {
        const code = await run<string>(
          `
        const { WebSocketChannel } = await import("/wsc.js");
        const channel = WebSocketChannel.connect(arg.url);
        return await channel.ready.then(() => "opened", (e) => e.name + " " + e.code);
      `,
          { url: `ws://127.0.0.1:${server.port}/` },
        );
        // Browsers hide the HTTP status of a refused WebSocket upgrade.
        assert.equal(code, "ConnectError WS_CONNECT_FAILED");
      });
      assert.deepEqual(log.protocols, []);
    } finally {
      await server.close();
    }
  },
);
