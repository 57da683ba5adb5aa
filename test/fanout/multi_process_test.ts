import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect } from "../../mod.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline, waitFor } from "../_util/async.ts";
import { redisSkip, startRedisServer } from "../_util/redis_server.ts";
import { currentRuntime, repoRoot, runtimes } from "../_util/runtimes.ts";
import { bundleForNode20 } from "../_util/node_bundle.ts";

// Three server processes on three runtimes (Deno, Bun, Node 20 running an
// esbuild bundle), each a TopicHub over one real Redis
// (fixtures/hub_server.ts), and engine clients of this test's runtime spread
// over them. Checks exactly-once, per-publisher ordered delivery across
// processes, then what Redis pub/sub allows through a Redis restart and
// after one server dies.
//
// The whole matrix runs from every test stage (deno, bun, node, node24): it
// takes a few seconds (the children start in parallel and every wait ends as
// soon as its condition holds), and each stage brings its own engine client
// (Deno.connect, Bun's and Node's node:net), which is coverage worth having.

type Runtime = "deno" | "bun" | "node";
const RUNTIMES: Runtime[] = ["deno", "bun", "node"];
const fixture = join(repoRoot, "test/fanout/fixtures/hub_server.ts");
/** Messages per publisher per phase. */
const N = 100;
const TOPIC = "room";

interface Server {
  runtime: Runtime;
  child: ChildProcess;
  port: number;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

async function startServer(runtime: Runtime, redisUrl: string, bundle: string): Promise<Server> {
  const args = ["--redis", redisUrl, "--port", "0"];
  const [cmd, ...rest] = runtime === "deno"
    ? [runtimes.deno, "run", "-A", fixture, ...args]
    : runtime === "bun"
    ? [runtimes.bun, fixture, ...args]
    : [runtimes.node20, bundle, ...args];
  const child = spawn(cmd, rest, { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] });
  const server: Server = {
    runtime,
    child,
    port: 0,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
  child.stdout!.on("data", (chunk) => server.stdout += chunk);
  child.stderr!.on("data", (chunk) => server.stderr += chunk);
  const port = await waitFor(
    () => {
      if (child.exitCode !== null) {
        throw new Error(`${runtime} server exited with ${child.exitCode}: ${server.stderr}`);
      }
      return Number(/^PORT (\d+)$/m.exec(server.stdout)?.[1] ?? 0);
    },
    { timeout: 30_000, interval: 20, what: `${runtime} hub server to listen` },
  );
  server.port = port;
  return server;
}

const count = (server: Server, line: string) =>
  server.stdout.split("\n").filter((l) => l === line).length;

/** Closes stdin (the fixture exits 0), with SIGKILL as the bounded fallback. */
async function stopServer(server: Server): Promise<number | null> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.stdin!.end();
    const timer = setTimeout(() => server.child.kill("SIGKILL"), 5_000);
    await server.exited;
    clearTimeout(timer);
  }
  return server.child.exitCode;
}

interface Client {
  name: string;
  server: Server;
  channel: WebSocketChannel;
  /** Every message received, in order. */
  got: string[];
  /** Settles when the read loop ends (clean close, or an error for a lost peer). */
  done: Promise<void>;
}

async function openClient(name: string, server: Server): Promise<Client> {
  const channel = connect(`ws://127.0.0.1:${server.port}/${TOPIC}`, { transport: "engine" });
  await deadline(channel.ready, 10_000, `${name} to connect`);
  const got: string[] = [];
  const done = (async () => {
    try {
      for await (const message of channel.stream) got.push(String(message));
    } catch { /* a killed server: 1006 */ }
  })();
  return { name, server, channel, got, done };
}

/** Indices of `phase` messages from `publisher` that `client` received, in arrival order. */
function indices(client: Client, phase: string, publisher: string): number[] {
  const prefix = `${phase}:${publisher}:`;
  return client.got.filter((m) => m.startsWith(prefix)).map((m) => Number(m.slice(prefix.length)));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function publishAll(publishers: Client[], phase: string, n: number): Promise<void> {
  await Promise.all(publishers.map(async (p) => {
    for (let i = 0; i < n; i++) await p.channel.sink.add(`${phase}:${p.name}:${i}`);
  }));
}

/** Waits until every client has every `phase` message of every publisher. */
async function allReceived(clients: Client[], publishers: Client[], phase: string, n: number) {
  await waitFor(
    () => clients.every((c) => publishers.every((p) => indices(c, phase, p.name).length >= n)),
    { timeout: 15_000, what: `phase ${phase}: ${n} messages of each publisher at every client` },
  ).catch((error) => {
    const counts = clients.map((c) =>
      `${c.name}: ${publishers.map((p) => indices(c, phase, p.name).length).join("/")}`
    );
    throw new Error(`${error.message} (${counts.join(", ")})`);
  });
}

/**
 * Each publisher sends `warm:<name>:<k>` until every client heard one from
 * every publisher: a hub subscribes to Redis asynchronously after a client
 * joined, and nothing says when that subscription is active.
 */
async function warmUp(clients: Client[], publishers: Client[]): Promise<void> {
  await waitFor(async () => {
    await Promise.all(publishers.map((p) => p.channel.sink.add(`warm:${p.name}:0`)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    return clients.every((c) => publishers.every((p) => indices(c, "warm", p.name).length > 0));
  }, { timeout: 15_000, interval: 0, what: "every subscription to reach Redis" });
}

test(
  `${currentRuntime} engine clients ↔ Deno, Bun and Node 20 hub servers over one Redis: ` +
    "exactly once and in order, a Redis restart, a killed server",
  { skip: redisSkip, timeout: 120_000 },
  async () => {
    const redis = await startRedisServer();
    const bundle = bundleForNode20(fixture);
    const servers: Server[] = [];
    const clients: Client[] = [];
    try {
      servers.push(
        ...await Promise.all(RUNTIMES.map((r) => startServer(r, redis.url, bundle.path))),
      );
      // Two clients per server; the first of each publishes.
      for (const server of servers) {
        for (const k of [1, 2]) clients.push(await openClient(`${server.runtime}${k}`, server));
      }
      const publishers = clients.filter((c) => c.name.endsWith("1"));

      // 1. Steady state: every message exactly once, in each publisher's order.
      await warmUp(clients, publishers);
      await publishAll(publishers, "a", N);
      await allReceived(clients, publishers, "a", N);
      for (const c of clients) {
        for (const p of publishers) assert.deepEqual(indices(c, "a", p.name), range(N), c.name);
      }

      // 2. Redis restarts. Published while it is down: the publisher's own
      // server delivers all of it locally; elsewhere each message arrives at
      // most once and in order (it is buffered and published on reconnect,
      // which other processes hear only if they resubscribed first).
      const ups = servers.map((s) => count(s, "BACKPLANE up"));
      const D = 20;
      await redis.restart(async () => {
        await waitFor(() => servers.every((s) => count(s, "BACKPLANE down") === 1), {
          timeout: 10_000,
          what: "every server to see Redis go down",
        });
        await publishAll(publishers, "d", D);
        await waitFor(
          () =>
            clients.every((c) =>
              publishers.every((p) => p.server !== c.server || indices(c, "d", p.name).length === D)
            ),
          { timeout: 10_000, what: "local delivery while Redis is down" },
        );
      });
      await waitFor(() => servers.every((s, i) => count(s, "BACKPLANE up") > ups[i]), {
        timeout: 15_000,
        what: "every server to be back on Redis",
      });
      // 3. After recovery everything arrives again, without a warm-up.
      await publishAll(publishers, "r", N);
      await allReceived(clients, publishers, "r", N);
      for (const c of clients) {
        for (const p of publishers) {
          const local = p.server === c.server;
          const d = indices(c, "d", p.name);
          if (local) assert.deepEqual(d, range(D), `${c.name} ← ${p.name} (local, outage)`);
          else assert.deepEqual(d, [...new Set(d)].sort((x, y) => x - y), `${c.name} ← ${p.name}`);
          assert.deepEqual(indices(c, "r", p.name), range(N), `${c.name} ← ${p.name} (recovered)`);
          // Per publisher, no phase overtakes an earlier one.
          const phases = c.got.filter((m) => m.includes(`:${p.name}:`)).map((m) => m[0]);
          const order = "wadr";
          assert.ok(
            phases.every((x, i) => i === 0 || order.indexOf(phases[i - 1]) <= order.indexOf(x)),
            `${c.name} ← ${p.name}: ${phases.join("")}`,
          );
        }
      }

      // 4. The Bun server dies: its clients lose their connection, the other
      // two servers keep serving each other.
      const victim = servers.find((s) => s.runtime === "bun")!;
      victim.child.kill("SIGKILL");
      await deadline(victim.exited, 10_000, "the killed server to exit");
      const lost = clients.filter((c) => c.server === victim);
      await deadline(Promise.all(lost.map((c) => c.done)), 10_000, "its clients to see the end");
      const alive = clients.filter((c) => c.server !== victim);
      const livePublishers = publishers.filter((p) => p.server !== victim);
      await publishAll(livePublishers, "k", N);
      await allReceived(alive, livePublishers, "k", N);
      for (const c of alive) {
        for (const p of livePublishers) assert.deepEqual(indices(c, "k", p.name), range(N));
      }
      for (const s of servers) {
        if (s !== victim) assert.equal(s.child.exitCode, null, `${s.runtime} still runs`);
      }

      await Promise.all(alive.map((c) => deadline(c.channel.sink.close(1000), 5_000, "close")));
      for (const s of servers.filter((s) => s !== victim)) {
        assert.equal(await stopServer(s), 0, `${s.runtime} exits cleanly`);
        assert.equal(s.stderr, "", `${s.runtime} wrote to stderr`);
        assert.match(s.stdout, /^STATS /m);
      }
      assert.equal(victim.stderr, "", "bun wrote to stderr before it was killed");
    } finally {
      for (const c of clients) c.channel.sink.close(1000).catch(() => {});
      await Promise.all(servers.map(stopServer));
      await redis.stop();
      rmSync(bundle.dir, { recursive: true, force: true });
    }
  },
);
