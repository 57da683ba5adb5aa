/**
 * Interop with two Go WebSocket libraries as real clients of our engine
 * server with permessage-deflate (test/_util/go_peer): gorilla/websocket
 * (no context takeover) and coder/websocket (context takeover). coder's
 * inflater keeps one stream for the connection, so a message that ends in a
 * BFINAL block (what a fresh `CompressionStream` per message gives on Node
 * and Bun) makes it fail on the second compressed message ("flate: corrupt
 * input"); with the node:zlib codec every message is sync-flushed and the
 * exchange passes. Skipped where `go` is not installed; the first run
 * fetches the two modules through the Go module proxy.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { zlibCodec } from "../../src/adapters/zlib_codec.ts";
import { startEngineServer } from "../_util/engine_server.ts";
import { repoRoot } from "../_util/runtimes.ts";

function run(file: string, args: string[], options: { cwd?: string; timeout: number }) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(file, args, { ...options, encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

// Built once per process into the temp directory (Go's build cache makes later builds quick).
let built: Promise<string | null> | undefined;
function goPeer(): Promise<string | null> {
  built ??= (async () => {
    const output = join(tmpdir(), `wsc-go-peer-${process.pid}`);
    const result = await run("go", ["build", "-o", output, "."], {
      cwd: join(repoRoot, "test/_util/go_peer"),
      timeout: 240_000,
    });
    return result.code === 0 ? output : null;
  })();
  return built;
}

const goInstalled = (await run("go", ["version"], { timeout: 10_000 })).code === 0;

for (const library of ["gorilla", "coder"] as const) {
  test(
    `Go interop: ${library}/websocket exchanges 6 compressed messages with our server (zlib codec)`,
    { skip: goInstalled ? false : "go is not installed" },
    async (t) => {
      const peer = await goPeer();
      if (peer === null) {
        t.skip("the Go peer did not build (no module proxy reachable?)");
        return;
      }
      const server = await startEngineServer({ compression: { threshold: 512, codec: zlibCodec } });
      try {
        const accepted = server.accept().then(({ channel }) => {
          channel.stream.pipeTo(channel.sink).catch(() => {});
          return channel;
        });
        const result = await run(peer, [library, server.url, "6"], { timeout: 60_000 });
        assert.equal(result.code, 0, `${library}: ${result.stderr}`);
        const channel = await accepted;
        // gorilla asks for no context takeover both ways; coder keeps context, and so do we.
        const expected = library === "gorilla"
          ? "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
          : "permessage-deflate";
        assert.equal(result.stdout.trim(), `OK 6 ${expected}`);
        assert.equal(channel.extensions, expected);
      } finally {
        await server.close();
      }
    },
  );
}
