import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocketStream } from "../../src/channel/web_socket_stream.ts";
// The engine transport of connect(), as the entry points install it.
import "../../src/adapters/engine_connect.ts";
import { deadline } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { startWssContractServers } from "./fixtures/wss_contract_server.ts";
import {
  nativeTransportDepartures,
  type WssConstructor,
  wssContract,
  type WssEnv,
  type WssLike,
} from "./web_socket_stream_contract.ts";

/** Ours, with the transport forced. */
function ours(transport: "engine" | "native"): WssConstructor {
  return class extends WebSocketStream {
    constructor(url: string, options: { protocols?: string[]; signal?: AbortSignal } = {}) {
      super(url, { ...options, connectOptions: { transport } });
    }
  };
}

const nativeWss = (globalThis as { WebSocketStream?: WssConstructor }).WebSocketStream;

/**
 * Where a native WebSocketStream departs from the standard, measured: the
 * case's outcome must match (so a fixed runtime is noticed).
 */
const denoDeviations: Record<string, RegExp> = {
  "http: URLs are taken as ws: (the standard's URL steps)": /Only ws & wss schemes/,
  "writes take any BufferSource: ArrayBuffer, DataView, other typed arrays":
    /may only be either a string or an Uint8Array/,
  "an abrupt loss rejects closed with a WebSocketError (1006) and errors both streams":
    /closeCode: got null, want 1006/,
  "an unparsable URL throws SyntaxError at construction": /got "TypeError", want "SyntaxError"/,
  "a subprotocol that is not an HTTP token throws SyntaxError at construction":
    /should have thrown/,
};

const implementations: {
  name: string;
  ctor?: WssConstructor;
  skip: string | false;
  deviations?: Record<string, RegExp>;
}[] = [
  { name: "WebSocketStream (engine transport)", ctor: ours("engine"), skip: false },
  {
    name: "WebSocketStream (native WebSocket transport)",
    ctor: ours("native"),
    skip: typeof WebSocket === "function" ? false : "no global WebSocket in this runtime",
    deviations: nativeTransportDepartures,
  },
  {
    name: `${currentRuntime}'s own WebSocketStream`,
    ctor: nativeWss,
    skip: nativeWss ? false : `${currentRuntime} has no global WebSocketStream`,
    deviations: currentRuntime === "deno" ? denoDeviations : {},
  },
];

for (const { name, ctor, skip, deviations = {} } of implementations) {
  for (const contractCase of wssContract) {
    const deviation = deviations[contractCase.name];
    const title = deviation
      ? `${name}: departs from the standard as known: ${contractCase.name}`
      : `${name}: ${contractCase.name}`;
    test(title, { skip }, async () => {
      const servers = await startWssContractServers();
      try {
        const env: WssEnv = { ...servers, WebSocketStream: ctor! };
        const running = deadline(
          Promise.resolve().then(() => contractCase.run(env)),
          60_000,
          contractCase.name,
        );
        if (!deviation) return await running;
        // The outcome as the Chromium test sees it: "ok", or the error's name and message.
        const outcome = await running.then(
          () => "ok",
          (error) => `${error?.name}: ${error?.message}`,
        );
        assert.match(outcome, deviation, "the known departure");
      } finally {
        await servers.close();
      }
    });
  }
}

test("WebSocketStream.writable refuses what is not a string or a BufferSource with a TypeError", async () => {
  const servers = await startWssContractServers();
  try {
    for (const value of [42, null, { a: 1 }, new Blob(["x"])]) {
      const wss: WssLike = new WebSocketStream(servers.url);
      const { writable, readable } = await wss.opened;
      await assert.rejects(writable.getWriter().write(value), TypeError, String(value));
      await readable.cancel(); // the connection itself is fine: close it
      assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
    }
  } finally {
    await servers.close();
  }
});

test("WebSocketStream passes its connectOptions to connect(): a message over the limit closes with 1009", async () => {
  const servers = await startWssContractServers();
  try {
    const wss = new WebSocketStream(servers.url, { connectOptions: { maxMessageSize: 10 } });
    const { writable, readable } = await wss.opened;
    await writable.getWriter().write("x".repeat(11)); // echoed back: too big for us
    const error = await readable.getReader().read().then(() => undefined, (e) => e);
    assert.equal(error?.name, "WebSocketError");
    assert.equal(error?.closeCode, 1009);
    await assert.rejects(wss.closed, { name: "WebSocketError", closeCode: 1009 });
  } finally {
    await servers.close();
  }
});

test("WebSocketStream.close() before open fails the opening; nothing is left unhandled", async () => {
  const servers = await startWssContractServers();
  try {
    const wss = new WebSocketStream(servers.hangUrl);
    wss.close({ closeCode: 1000 });
    await assert.rejects(deadline(wss.opened, 10_000, "opened"));
    await assert.rejects(deadline(wss.closed, 10_000, "closed"));
    // Never observed: must not become an unhandled rejection.
    new WebSocketStream(servers.refusedUrl);
    const observed = new WebSocketStream(servers.refusedUrl);
    await assert.rejects(deadline(observed.closed, 10_000, "closed"));
  } finally {
    await servers.close();
  }
});
