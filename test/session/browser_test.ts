/**
 * The session client in headless Chromium (playwright-core driving
 * /usr/bin/chromium): the browser bundle of the `./session` entry point over
 * the native WebSocket, against a `SessionHub` served by this test's runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { browserBundle, chromiumSkip, withChromium } from "../_util/chromium.ts";
import { serveHub } from "./_rig.ts";
import { internalsOf } from "../../src/channel/channel_internals.ts";
import { SessionHub } from "../../src/session/session_hub.ts";

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
  { skip: chromiumSkip },
  async () => {
    // The browser field of package.json leaves the engine transport out of the bundle.
    const bundle = await browserBundle("src/session/mod.ts");
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
    const server = await serveHub(hub);
    try {
      await withChromium(bundle, async (run) => {
        const result = await run<{ messages: [number, string][]; gaps: unknown[] }>(SCRIPT, {
          url: `ws://127.0.0.1:${server.port}/`,
        });
        assert.deepEqual(result.messages, [[1, "a"], [2, "b"], [3, "c"], [4, "d"], [5, "e"]]);
        assert.deepEqual(result.gaps, []);
      });
      assert.deepEqual(received, [
        "publish three",
        "drop, then publish two",
        new Uint8Array([1, 2, 3]),
      ], "each send reached the application once");
    } finally {
      await hub.close();
      await server.close();
    }
  },
);
