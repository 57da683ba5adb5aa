import { test } from "node:test";
import assert from "node:assert/strict";
import { socketStreams } from "../../src/adapters/node_socket_streams.ts";
import { connectedSocketPair } from "../_util/tcp.ts";
import { deadline, waitFor } from "../_util/async.ts";

test("socketStreams yields plain Uint8Arrays (not Buffers) and ends on FIN", async () => {
  const pair = await connectedSocketPair();
  try {
    const { readable } = socketStreams(pair.client);
    pair.serverSide.end("hello");
    const chunks: Uint8Array[] = [];
    for await (const chunk of readable) chunks.push(chunk);
    assert.equal(Object.getPrototypeOf(chunks[0]), Uint8Array.prototype);
    assert.equal(new TextDecoder().decode(chunks[0]), "hello");
  } finally {
    await pair.close();
  }
});

test("socketStreams pauses the socket while nobody reads and resumes when read", async () => {
  const pair = await connectedSocketPair();
  try {
    const { readable } = socketStreams(pair.client);
    const big = new Uint8Array(4 * 1024 * 1024);
    pair.serverSide.write(big);
    await waitFor(() => pair.client.isPaused(), { timeout: 5000, what: "the socket to pause" });
    const reader = readable.getReader();
    let received = 0;
    await deadline(
      (async () => {
        while (received < big.byteLength) received += (await reader.read()).value!.byteLength;
      })(),
      10_000,
      "all bytes",
    );
    assert.equal(received, big.byteLength);
  } finally {
    await pair.close();
  }
});

test("socketStreams write waits for drain and rejects after the socket is destroyed", async () => {
  const pair = await connectedSocketPair();
  try {
    const { writable, close } = socketStreams(pair.client);
    const writer = writable.getWriter();
    await writer.write(new Uint8Array([1, 2, 3]));
    close();
    await assert.rejects(writer.write(new Uint8Array([4])));
  } finally {
    await pair.close();
  }
});
