/**
 * The reconnecting client in headless Chromium (playwright-core driving
 * /usr/bin/chromium): the browser bundle of the `./client` entry point over
 * the native WebSocket, against a `ws` server in a Node child process.
 * Browsers cannot send ping frames, so this is where the application-level
 * heartbeat fallback is proven.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { deadline } from "../_util/async.ts";
import { repoRoot, runtimes } from "../_util/runtimes.ts";
import { browserBundle, chromiumSkip as skip, withChromium } from "../_util/chromium.ts";
import { serveHere } from "../_util/serve_here.ts";
import { startProxy } from "../adapters/fixtures/pairs.ts";

async function startWsServer(): Promise<{ port: number; lines: string[]; child: ChildProcess }> {
  const script = join(repoRoot, "test", "client", "fixtures", "ws_server.mjs");
  const child = spawn(runtimes.node20, [script, "0", "echo"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const port = await deadline(
    new Promise<number>((resolve) => {
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (chunk: string) => {
        for (const line of chunk.split("\n").filter(Boolean)) {
          const match = /^PORT (\d+)$/.exec(line);
          if (match) resolve(Number(match[1]));
          else lines.push(line);
        }
      });
    }),
    10_000,
    "the ws server",
  );
  return { port, lines, child };
}

const SCRIPT = `
  const { WebSocketClient } = await import("/wsc.js");
  const client = new WebSocketClient(arg.url, {
    heartbeat: { interval: 100, timeout: 2000, pingMessage: "ping", pongMessage: "pong" },
    reconnect: { base: 50, max: 100 },
  });
  const states = [];
  client.on("state", (s) => states.push(s.type));
  const errors = [];
  client.on("error", (e) => errors.push(e.code));
  const reader = client.stream.getReader();
  await client.connect();
  await client.send("hello");
  const first = (await reader.read()).value;
  await new Promise((r) => setTimeout(r, 450));
  const beforeDrop = client.metrics();
  await client.send("drop");
  await new Promise((resolve) => {
    const check = () => (client.state.type === "open" && client.metrics().connects === 2 ? resolve() : setTimeout(check, 20));
    setTimeout(check, 20);
  });
  await client.send("after");
  const second = (await reader.read()).value;
  const metrics = client.metrics();
  await client.close(4000, "browser done");
  return { first, second, states, errors, rttSamples: beforeDrop.rttSamples, metrics };
`;

test("WebSocketClient in Chromium: native transport, message heartbeat, reconnect after a drop", {
  skip,
}, async () => {
  // The browser field of package.json leaves the engine transport out of the bundle.
  const bundle = await browserBundle("src/client/mod.ts");
  const server = await startWsServer();
  try {
    await withChromium(bundle, async (run) => {
      const result = await run<Record<string, unknown>>(SCRIPT, {
        url: `ws://127.0.0.1:${server.port}/`,
      });
      assert.equal(result.first, "hello");
      assert.equal(result.second, "after");
      assert.ok(
        (result.rttSamples as number) >= 2,
        `heartbeat answered ${result.rttSamples} times`,
      );
      assert.deepEqual(result.errors, [], "no WS_HEARTBEAT_UNSUPPORTED: the fallback took over");
      const states = result.states as string[];
      assert.deepEqual(states.slice(0, 2), ["connecting", "open"]);
      assert.ok(states.includes("closed") && states.lastIndexOf("open") > 1, states.join(" "));
      const metrics = result.metrics as { reconnects: number; messagesReceived: number };
      assert.equal(metrics.reconnects, 1);
      assert.equal(metrics.messagesReceived, 2, "pongs are not user messages");
    });
    assert.deepEqual(server.lines.filter((l) => l.startsWith("MSG ")), ["MSG hello", "MSG after"]);
  } finally {
    server.child.kill("SIGKILL");
  }
});

test(
  "WebSocketClient in Chromium: a pingMessage heartbeat, answered by our serve({ answerPingMessages }), detects a dead server",
  {
    skip,
  },
  async () => {
    const bundle = await browserBundle("src/client/mod.ts");
    const seen: unknown[] = [];
    const server = await serveHere({
      answerPingMessages: true,
      idleTimeout: 0,
      onChannel: async (channel) => {
        try {
          for await (const message of channel.stream) {
            seen.push(message);
            await channel.sink.add(message);
          }
        } catch { /* the frozen connection ends abnormally when the proxy closes */ }
      },
    });
    const proxy = await startProxy(server.port);
    const url = `ws://127.0.0.1:${proxy.port}/`;
    try {
      await withChromium(bundle, async (run) => {
        // Asked for where the WebSocket cannot ping, without pingMessage: refused at construction.
        const refused = await run<Record<string, string> | null>(
          `const { WebSocketClient } = await import("/wsc.js");
        try {
          new WebSocketClient(arg.url, { heartbeat: { interval: 100 } });
          return null;
        } catch (error) {
          return { name: error.name, code: error.code, message: error.message };
        }`,
          { url },
        );
        assert.equal(refused?.code, "WS_OPTION_UNSUPPORTED");
        assert.match(refused!.message, /heartbeat needs heartbeat\.pingMessage/);

        const open = await run<{ echo: string; rttSamples: number }>(
          `const { WebSocketClient } = await import("/wsc.js");
        const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
        const client = new WebSocketClient(arg.url, {
          heartbeat: { interval: 100, timeout: 1000, pingMessage: "ping" },
          reconnect: { base: 50, max: 100 },
        });
        Object.assign(globalThis, { client, sleep, states: [], errors: [] });
        client.on("state", (state) => globalThis.states.push(state.type));
        client.on("error", (error) => globalThis.errors.push(error.code));
        globalThis.reader = client.stream.getReader();
        await client.connect();
        await client.send("hello");
        const echo = (await globalThis.reader.read()).value;
        while (client.metrics().rttSamples < 3) await sleep(20);
        return { echo, rttSamples: client.metrics().rttSamples };`,
          { url },
        );
        assert.equal(open.echo, "hello");
        assert.ok(open.rttSamples >= 3, "our server answered the ping messages");
        assert.deepEqual(seen, ["hello"], "the pings never reached the application");

        // The path goes dead: no data, no FIN, no reset. Only the heartbeat can tell.
        proxy.freeze();
        const after = await run<Record<string, unknown>>(
          `const { client, sleep, reader } = globalThis;
        while (client.metrics().heartbeatTimeouts < 1) await sleep(20);
        while (!(client.state.type === "open" && client.metrics().connects === 2)) await sleep(20);
        await client.send("after");
        const echo = (await reader.read()).value;
        const metrics = client.metrics();
        await client.close(1000);
        return {
          echo,
          states: globalThis.states,
          errors: globalThis.errors,
          heartbeatTimeouts: metrics.heartbeatTimeouts,
          connects: metrics.connects,
          messagesReceived: metrics.messagesReceived,
        };`,
          null,
        );
        assert.equal(after.echo, "after");
        assert.equal(after.heartbeatTimeouts, 1);
        assert.equal(after.connects, 2, "reconnected after the heartbeat timeout");
        assert.equal(after.messagesReceived, 2, "pongs are not user messages");
        assert.deepEqual(after.errors, []);
        const states = after.states as string[];
        assert.ok(states.indexOf("closed") > states.indexOf("open"), states.join(" "));
        assert.deepEqual(seen, ["hello", "after"]);
      });
    } finally {
      await proxy.close();
      await server.close();
    }
  },
);
