/**
 * The page side of the Chromium client testee: bundled for the browser (by chromium_client.ts) from
 * mod.ts, it exposes `runAutobahn(base, agent)` which drives the fuzzing server with
 * `WebSocketChannel.connect(url, { transport: "native" })` — the browser's own WebSocket.
 *
 * @example
 * ```ts
 * await globalThis.runAutobahn("ws://127.0.0.1:9001", "native-chromium");
 * ```
 * @module
 */
import { WebSocketChannel } from "../../mod.ts";
import { runFuzzingClient } from "./fuzzing_client.ts";

(globalThis as { runAutobahn?: unknown }).runAutobahn = (base: string, agent: string) =>
  runFuzzingClient({
    base,
    agent,
    connect: (url) =>
      WebSocketChannel.connect(url, { transport: "native", maxMessageSize: 64 * 1024 * 1024 }),
    onCase: (i, n) => {
      if (i % 50 === 0 || i === n) console.log(`case ${i}/${n}`);
    },
  });
