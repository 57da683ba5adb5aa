import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { connect } from "../../mod.ts";
import type { Message } from "../../src/channel/web_socket_channel.ts";
import { deadline } from "../_util/async.ts";
import { bundleForNode20, type NodeBundle } from "../_util/node_bundle.ts";
import { currentRuntime, repoRoot, runtimes } from "../_util/runtimes.ts";
import { readMessages } from "../channel/channel_contract.ts";

// Servers of another runtime, spawned as child processes, against this
// runtime's clients: Deno ↔ Bun, Node ↔ Deno, Bun ↔ Node and so on.

type Runtime = "deno" | "bun" | "node";
const fixture = join(repoRoot, "test/adapters/fixtures/echo_server.ts");
let nodeBundle: NodeBundle | undefined;
process.on("exit", () => {
  if (nodeBundle) rmSync(nodeBundle.dir, { recursive: true, force: true });
});

function command(runtime: Runtime, kind: string): string[] {
  const args = ["--kind", kind, "--port", "0"];
  if (runtime === "deno") return [runtimes.deno, "run", "-A", fixture, ...args];
  if (runtime === "bun") return [runtimes.bun, fixture, ...args];
  nodeBundle ??= bundleForNode20(fixture);
  return [runtimes.node20, nodeBundle.path, ...args];
}

async function spawnServer(
  runtime: Runtime,
  kind: string,
): Promise<{ port: number; child: ChildProcess }> {
  const [cmd, ...args] = command(runtime, kind);
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
  const port = await deadline(
    new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (chunk) => {
        out += chunk;
        const match = /PORT (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.on(
        "exit",
        (code) => reject(new Error(`${runtime} ${kind} server exited with ${code}`)),
      );
    }),
    30_000,
    `${runtime} ${kind} server to listen`,
  );
  return { port, child };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on("exit", () => resolve());
    child.stdin!.end();
    setTimeout(() => child.kill("SIGKILL"), 3000).unref?.();
  });
}

const hasNative = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";
const servers: [Runtime, string][] = [
  ["deno", "serve"],
  ["deno", "native"],
  ["bun", "serve"],
  ["bun", "native"],
  ["node", "serve"],
  ["node", "attach"],
];

for (const [runtime, kind] of servers) {
  for (const client of ["engine", "native"] as const) {
    const skip = runtime === currentRuntime
      ? "same runtime: covered in-process by the contract suite"
      : client === "native" && !hasNative
      ? "no global WebSocket here"
      : false;
    test(
      `${currentRuntime} ${client} client ↔ ${runtime} ${kind} server: echo, 16 MiB, subprotocol, close both ways`,
      {
        skip,
      },
      async () => {
        const { port, child } = await spawnServer(runtime, kind);
        try {
          const url = `ws://127.0.0.1:${port}/cross`;
          const channel = connect(url, { transport: client, protocols: ["chat"] });
          await deadline(channel.ready, 10_000, "ready");
          assert.equal(channel.protocol, "chat");
          const reader = channel.stream.getReader();
          const sent: Message[] = [
            "hello",
            new Uint8Array([1, 2, 3]),
            "",
            "ünïcödé 𝄞",
            new Uint8Array(70_000).fill(7),
          ];
          for (const message of sent) await channel.sink.add(message);
          assert.deepEqual(await readMessages(reader, sent.length), sent);
          const big = new Uint8Array(16 * 1024 * 1024).map((_, i) => i * 31);
          await channel.sink.add(big);
          const [echoed] = await readMessages(reader, 1, 60_000);
          assert.deepEqual(echoed, big);
          // The server closes on request with our code and reason.
          await channel.sink.add("close:4002:server side");
          assert.deepEqual(await readMessages(reader, 1), []);
          assert.deepEqual(await deadline(channel.closed, 10_000, "closed"), {
            code: 4002,
            reason: "server side",
            wasClean: true,
          });
          // And a client-initiated close on a second connection.
          const second = connect(url, { transport: client, protocols: ["chat"] });
          await deadline(second.ready, 10_000, "second ready");
          await deadline(second.sink.close(4003, "client side"), 10_000, "client close");
          assert.deepEqual(await second.closed, {
            code: 4003,
            reason: "client side",
            wasClean: true,
          });
        } finally {
          await stop(child);
        }
      },
    );
  }
}
