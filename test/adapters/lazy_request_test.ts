import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect } from "../../mod.ts";
import { deadline } from "../_util/async.ts";
import { bundleForNode20 } from "../_util/node_bundle.ts";
import { currentRuntime, repoRoot, runtimes } from "../_util/runtimes.ts";

// serve() on Node builds the upgrade's Request only when something reads it: a server
// whose onChannel declares only the channel never loads Node's fetch implementation
// (its first Request or Headers costs about 2 MB of heap). Checked in a Node 20 process of
// its own, since the fetch globals load once per process.

const fixture = join(repoRoot, "test/adapters/fixtures/lazy_request_server.ts");

/** An engine client of this runtime, sending `x-probe`; its messages in order. */
function client(port: number) {
  const channel = connect(`ws://127.0.0.1:${port}/room?x=1`, {
    transport: "engine",
    headers: { "x-probe": "yes" },
  });
  const reader = channel.stream.getReader();
  return {
    send: (text: string) => void channel.sink.add(text).catch(() => {}),
    next: async () => String((await reader.read()).value),
    close: () => channel.sink.close(1000).catch(() => {}),
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
      const one = client(ports[0]);
      one.send("hello");
      assert.equal(await deadline(one.next(), 5000, "the echo"), "hello");
      one.send("touched?");
      assert.deepEqual(JSON.parse(await deadline(one.next(), 5000, "the report")), []);
      await one.close();

      const two = client(ports[1]);
      assert.equal(
        await deadline(two.next(), 5000, "the request"),
        `http://127.0.0.1:${ports[1]}/room?x=1 yes`,
      );
      two.send("touched?");
      const touched = JSON.parse(await deadline(two.next(), 5000, "the report"));
      assert.ok(touched.includes("Request"), `the request was built: ${touched}`);
      await two.close();
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
