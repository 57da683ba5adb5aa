import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect as netConnect } from "node:net";
import { deadline } from "../_util/async.ts";
import { bundleForNode20 } from "../_util/node_bundle.ts";
import { currentRuntime, repoRoot, runtimes } from "../_util/runtimes.ts";

// serve() on Node builds the upgrade's Request only when something reads it: a server
// whose onChannel declares only the channel never loads Node's fetch implementation
// (its first Request or Headers costs about 2 MB of heap). Checked in a Node 20 process of
// its own, since the fetch globals load once per process.

const fixture = join(repoRoot, "test/adapters/fixtures/lazy_request_server.ts");

/** A raw client: the upgrade (with `x-probe`), then unmasked-free text frames as a client sends them. */
function rawClient(port: number) {
  const socket = netConnect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  let buffer = new Uint8Array(0);
  let headDone = false;
  const texts: string[] = [];
  let wake = () => {};
  socket.on("data", (chunk: Uint8Array) => {
    const joined = new Uint8Array(buffer.length + chunk.length);
    joined.set(buffer);
    joined.set(chunk, buffer.length);
    buffer = joined;
    if (!headDone) {
      const end = new TextDecoder("latin1").decode(buffer).indexOf("\r\n\r\n");
      if (end < 0) return;
      assert.match(new TextDecoder().decode(buffer.subarray(0, end)), /^HTTP\/1\.1 101 /);
      headDone = true;
      buffer = buffer.subarray(end + 4);
    }
    // Server frames: unmasked, short text frames only in this test.
    while (buffer.length >= 2 && buffer.length >= 2 + (buffer[1] & 0x7f)) {
      const length = buffer[1] & 0x7f;
      assert.ok(length < 126, "a short frame");
      texts.push(new TextDecoder().decode(buffer.subarray(2, 2 + length)));
      buffer = buffer.subarray(2 + length);
    }
    wake();
  });
  socket.write(
    "GET /room?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Probe: yes\r\n\r\n",
  );
  return {
    send(text: string) {
      const payload = new TextEncoder().encode(text);
      const mask = [1, 2, 3, 4];
      const frame = new Uint8Array(6 + payload.length);
      frame.set([0x81, 0x80 | payload.length, ...mask]);
      for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ mask[i & 3];
      socket.write(frame);
    },
    async next(): Promise<string> {
      while (texts.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return texts.shift()!;
    },
    close: () => socket.destroy(),
  };
}

test(
  "serve (Node 20): an onChannel of one parameter loads no fetch global; one that reads the request gets it",
  { skip: currentRuntime !== "deno" && "one runtime spawns the Node 20 server" },
  async () => {
    const bundle = bundleForNode20(fixture);
    const child = spawn(runtimes.node20, [bundle.path], { stdio: ["pipe", "pipe", "inherit"] });
    try {
      const ports = await deadline(
        new Promise<number[]>((resolve) => {
          let out = "";
          child.stdout!.on("data", (chunk) => {
            out += chunk;
            const line = /PORT (\d+) (\d+)/.exec(out);
            if (line) resolve([Number(line[1]), Number(line[2])]);
          });
        }),
        20_000,
        "the server's ports",
      );
      const one = rawClient(ports[0]);
      one.send("hello");
      assert.equal(await deadline(one.next(), 5000, "the echo"), "hello");
      one.send("touched?");
      assert.deepEqual(JSON.parse(await deadline(one.next(), 5000, "the report")), []);
      one.close();

      const two = rawClient(ports[1]);
      assert.equal(
        await deadline(two.next(), 5000, "the request"),
        "http://127.0.0.1/room?x=1 yes",
      );
      two.send("touched?");
      const touched = JSON.parse(await deadline(two.next(), 5000, "the report"));
      assert.ok(touched.includes("Request"), `the request was built: ${touched}`);
      two.close();
    } finally {
      child.stdin!.end();
      await deadline(
        new Promise((resolve) => child.on("exit", resolve)),
        10_000,
        "the server to exit",
      )
        .catch(() => child.kill());
      rmSync(bundle.dir, { recursive: true, force: true });
    }
  },
);
