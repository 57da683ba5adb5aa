/**
 * The client against a real, independent peer: a `ws` server in a child
 * process (system Node), reached over loopback through the default
 * connector (`WebSocketChannel.connect`, engine transport, which the `./client` entry point
 * installs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { WebSocketClient } from "../../src/client/mod.ts";
import type { ClosedState } from "../../src/client/state.ts";
import type { UnconfirmedMessages } from "../../src/client/delivery.ts";
import { deadline, delay, waitFor } from "../_util/async.ts";
import { repoRoot, runtimes } from "../_util/runtimes.ts";

const script = join(repoRoot, "test", "client", "fixtures", "ws_server.mjs");

interface ServerProcess {
  port: number;
  lines: string[];
  child: ChildProcess;
  exited: Promise<void>;
  /** Resolves once the process exited and all its output was read. */
  drained: Promise<void>;
}

async function startServer(
  port: number,
  mode: "echo" | "noping" | "forbidden",
): Promise<ServerProcess> {
  const child = spawn(runtimes.node20, [script, String(port), mode], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  let buffer = "";
  let onPort: (port: number) => void = () => {};
  const portKnown = new Promise<number>((resolve) => (onPort = resolve));
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const match = /^PORT (\d+)$/.exec(line);
      if (match) onPort(Number(match[1]));
      else lines.push(line);
    }
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const drained = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const actual = await deadline(portKnown, 10_000, "the ws server to listen");
  return { port: actual, lines, child, exited, drained };
}

async function stopServer(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill("SIGKILL");
  }
  await deadline(server.exited, 5000, "the ws server to exit");
}

const messages = (server: ServerProcess) =>
  server.lines.filter((l) => l.startsWith("MSG ")).map((l) => l.slice(4));

test("WebSocketClient reconnects after the server process is killed and restarted; queued messages arrive once, in order", async () => {
  let server = await startServer(0, "echo");
  const port = server.port;
  const client = new WebSocketClient(`ws://127.0.0.1:${port}/`, {
    reconnect: { base: 50, max: 250 },
    connectTimeout: 2000,
    heartbeat: false,
  });
  try {
    await deadline(client.connect(), 5000, "first connect");
    await deadline(client.send("before"), 5000, "first send");
    await waitFor(() => messages(server).includes("before"), {
      what: "the first server to get 'before'",
    });
    await stopServer(server);
    await waitFor(() => client.state.type === "closed", { what: "the client to see the loss" });
    assert.equal((client.state as ClosedState).willReconnect, true);
    const queued = ["q1", "q2", "q3", "q4", "q5"];
    const sends = queued.map((m) => client.send(m));
    await waitFor(() => client.metrics().failedAttempts >= 1, {
      what: "a failed reconnect attempt",
    });
    server = await startServer(port, "echo");
    await deadline(Promise.all(sends), 10_000, "queued sends to be delivered");
    await waitFor(() => messages(server).length >= queued.length, {
      what: "the restarted server to get them",
    });
    await client.send("after");
    await waitFor(() => messages(server).includes("after"), { what: "'after'" });
    assert.deepEqual(
      messages(server),
      [...queued, "after"],
      "once each, in order, nothing from before",
    );
    const metrics = client.metrics();
    assert.equal(metrics.reconnects, 1);
    assert.equal(metrics.state, "open");
  } finally {
    await client.close().catch(() => {});
    await stopServer(server);
  }
});

/**
 * Streams m0…m599 in batches, kills the server (SIGKILL) after it printed
 * 100 of them (the stream waits at m300 for that), restarts it on the same
 * port and waits for the last one.
 */
async function killMidStream(resendUnconfirmed: boolean) {
  const first = await startServer(0, "echo");
  let second: ServerProcess | undefined;
  const client = new WebSocketClient(`ws://127.0.0.1:${first.port}/`, {
    reconnect: { base: 50, max: 250 },
    connectTimeout: 2000,
    heartbeat: false,
    delivery: { resendUnconfirmed },
  });
  const events: UnconfirmedMessages[] = [];
  client.on("unconfirmed", (event) => events.push(event));
  const total = 600;
  const expected = Array.from({ length: total }, (_, i) => `m${i}`);
  let killed!: () => void;
  const afterKill = new Promise<void>((resolve) => (killed = resolve));
  try {
    await deadline(client.connect(), 5000, "first connect");
    const producing = (async () => {
      for (let i = 0; i < total; i += 20) {
        if (i === 300) await afterKill;
        // Batches without waiting in between, so several messages are in flight at the kill.
        await Promise.all(expected.slice(i, i + 20).map((m) => client.send(m)));
        await delay(2);
      }
    })();
    await waitFor(() => messages(first).length >= 100, { what: "the first server mid-stream" });
    first.child.kill("SIGKILL");
    killed();
    await deadline(first.drained, 5000, "the killed server's output");
    await waitFor(() => client.state.type !== "open", { what: "the client to see the loss" });
    const server = second = await startServer(first.port, "echo");
    await deadline(producing, 20_000, "every send to resolve");
    await waitFor(() => messages(server).includes(`m${total - 1}`), {
      timeout: 10_000,
      what: "the last message at the restarted server",
    });
    const before = messages(first);
    assert.ok(before.length < total, "the kill happened mid-stream");
    assert.deepEqual(before, expected.slice(0, before.length), "the first server got a prefix");
    return { expected, before, after: messages(server), events, metrics: client.metrics() };
  } finally {
    await client.close().catch(() => {});
    await stopServer(first);
    if (second) await stopServer(second);
  }
}

test("WebSocketClient: when a server is killed mid-stream, every resolved send that never arrived is reported as unconfirmed", async () => {
  const { expected, before, after, events, metrics } = await killMidStream(false);
  const reported = events.flatMap((event) => event.messages as string[]);
  assert.ok(events.every((event) => !event.requeued && event.omitted === 0));
  const arrived = new Set([...before, ...after]);
  const lost = expected.filter((m) => !arrived.has(m));
  assert.deepEqual(lost.filter((m) => !reported.includes(m)), [], "no silent loss");
  assert.equal(metrics.unconfirmedMessages, reported.length);
  assert.equal(metrics.resentMessages, 0);
  // The restarted server gets what was sent after the loss, and only that.
  assert.deepEqual(after, expected.slice(expected.indexOf(after[0])));
});

test("WebSocketClient with resendUnconfirmed: a server killed mid-stream loses nothing; every send arrives at least once, in order", async () => {
  const { expected, before, after, events, metrics } = await killMidStream(true);
  const reported = events.flatMap((event) => event.messages as string[]);
  assert.ok(events.every((event) => event.requeued));
  // The second server's run starts no later than where the first one stopped.
  const resumeAt = expected.indexOf(after[0]);
  assert.ok(resumeAt >= 0 && resumeAt <= before.length, `resumed at ${after[0]}`);
  assert.deepEqual(after, expected.slice(resumeAt), "in order, nothing skipped");
  assert.deepEqual(reported, expected.slice(resumeAt, resumeAt + reported.length));
  assert.equal(metrics.resentMessages, reported.length);
  assert.equal(metrics.unconfirmedMessages, 0);
});

test("WebSocketClient's heartbeat detects a server that stops answering pings within interval + timeout", async () => {
  const server = await startServer(0, "noping");
  const client = new WebSocketClient(`ws://127.0.0.1:${server.port}/`, {
    reconnect: false,
    heartbeat: { interval: 200, timeout: 300 },
  });
  try {
    await deadline(client.connect(), 5000, "connect");
    const openedAt = Date.now();
    await waitFor(() => client.state.type === "closed", {
      timeout: 3000,
      what: "the heartbeat timeout",
    });
    const elapsed = Date.now() - openedAt;
    const state = client.state as ClosedState;
    assert.equal(state.code, 1006);
    assert.equal(state.reason, "heartbeat timeout");
    assert.equal((state.error as { code?: string }).code, "WS_HEARTBEAT_TIMEOUT");
    // Deadline check, not a performance measurement: detection must not wait for TCP.
    assert.ok(elapsed >= 450, `detected after ${elapsed} ms, before the deadline could pass`);
    assert.equal(client.metrics().heartbeatTimeouts, 1);
  } finally {
    await client.close().catch(() => {});
    await stopServer(server);
  }
});

test("WebSocketClient does not reconnect when the server refuses the handshake with HTTP 403", async () => {
  const server = await startServer(0, "forbidden");
  const client = new WebSocketClient(`ws://127.0.0.1:${server.port}/`, {
    reconnect: { base: 10, max: 20 },
    heartbeat: false,
  });
  try {
    const error = await deadline(
      client.connect().then(() => undefined, (e) => e),
      5000,
      "the refusal",
    );
    assert.ok(error, "connect() rejected");
    assert.equal((error as { status?: number }).status, 403);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(server.lines.filter((l) => l === "UPGRADE").length, 1, "exactly one attempt");
    const state = client.state as ClosedState;
    assert.equal(state.type, "closed");
    assert.equal(state.willReconnect, false);
  } finally {
    await client.close().catch(() => {});
    await stopServer(server);
  }
});
