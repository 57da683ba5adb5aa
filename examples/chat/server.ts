/**
 * A chat server with rooms, the same file on Deno, Bun and Node.
 *
 * A WebSocket that connects to `ws://HOST:PORT/rooms/<name>` joins room
 * `<name>`; every text message it sends goes to every member of that room,
 * itself included, in every process that shares the Redis given with
 * `--redis`. `GET /` serves a chat page that uses the library's reconnecting
 * browser client, bundled with esbuild when the server starts.
 *
 * Run from a clone of the repository, after `npm ci`:
 *
 * ```sh
 * deno run -A examples/chat/server.ts --port 8080
 * bun examples/chat/server.ts --port 8080
 * node examples/chat/server.ts --port 8080   # Node 24 (or 22.18+): runs .ts by type stripping
 * # Node 20: bundle it first (the library's own files are inlined, npm packages stay external)
 * node_modules/.bin/esbuild examples/chat/server.ts --bundle --platform=node --format=esm \
 *   --packages=external --outfile=examples/chat/.build/server.mjs && \
 *   node examples/chat/.build/server.mjs --port 8080
 * ```
 *
 * Options: `--port N` (default 8080; 0 picks a free port), `--host H`
 * (default 127.0.0.1), `--redis redis://HOST:PORT` (share rooms between
 * processes). Once ready it prints `listening on http://HOST:PORT`.
 * SIGINT/SIGTERM close every connection with 1001 (browsers reconnect to the
 * next server) and then the Redis connection.
 *
 * In an application, the imports below are `@wsc/websocket-channel`,
 * `@wsc/websocket-channel/server/{deno,bun,node}` and
 * `@wsc/websocket-channel/backplane/redis` (npm: `websocket-channel/…`).
 *
 * @module
 */
import process from "node:process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { ChannelSet, type WebSocketChannel } from "../../mod.ts";
import { TopicHub } from "../../src/fanout/mod.ts";
import { buildBrowser } from "../../scripts/build_browser.ts";

const usage = "usage: server.ts [--port 8080] [--host 127.0.0.1] [--redis redis://HOST:PORT]";

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const port = Number(option("port") ?? 8080);
const hostname = option("host") ?? "127.0.0.1";
const redisUrl = option("redis");
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(usage);
  process.exit(2);
}

/** Larger messages close the sender's connection with 1009. */
const maxMessageSize = 64 * 1024;

// ── rooms ──────────────────────────────────────────────────────────────────

const hub = new TopicHub({
  backplane: redisUrl
    ? new (await import("../../src/backplane/redis.ts")).RedisBackplane({ url: redisUrl })
    : undefined,
  // Rooms keep working locally while Redis is away; other processes are out of reach.
  onBackplaneStatus: (status) => console.log(`redis ${status}`),
  onError: (error) => console.error("hub:", error instanceof Error ? error.message : error),
});

/** `/rooms/<name>` → the room's name; anything else → undefined. */
function roomOf(url: string): string | undefined {
  const match = /^\/rooms\/([^/]{1,100})$/.exec(new URL(url).pathname);
  try {
    return match ? decodeURIComponent(match[1]) : undefined;
  } catch {
    return undefined; // malformed %-escape
  }
}

/** One member: subscribed to its room, and every text it sends is published to the room. */
async function join(channel: WebSocketChannel, request: Request): Promise<void> {
  const room = roomOf(request.url);
  if (room === undefined) {
    // Applications close with 1000 or 3000–4999; 4xxx also stops reconnecting clients.
    await channel.sink.close(4404, "Not a room: connect to /rooms/<name>");
    return;
  }
  const topic = `room:${room}`;
  hub.subscribe(channel, topic);
  try {
    for await (const message of channel.stream) {
      // No `except`: the sender sees its own message, in the room's order.
      if (typeof message === "string") void hub.publish(topic, message);
    }
  } catch { /* the connection ended; the hub drops its subscription by itself */ }
}

// ── the page and the browser bundle ────────────────────────────────────────

// Next to this file, or one folder up when running the Node 20 bundle from .build/.
const pagePath = ["./index.html", "../index.html"]
  .map((path) => fileURLToPath(new URL(path, import.meta.url)))
  .find((path) => existsSync(path));
if (!pagePath) throw new Error("examples/chat/index.html not found");
const page = readFileSync(pagePath, "utf8");
const browser = await buildBrowser({
  contents: `export { WebSocketClient } from "./src/client/mod.ts";\n`,
});
if (browser.problems.length > 0) throw new Error(browser.problems.join("\n"));

/** The plain-HTTP part, runtime-neutral. */
function asset(pathname: string): { status: number; type: string; body: string } {
  if (pathname === "/") return { status: 200, type: "text/html", body: page };
  if (pathname === "/websocket-channel.js") {
    return { status: 200, type: "text/javascript", body: browser.code };
  }
  return { status: 404, type: "text/plain", body: "Not found" };
}

function respond(request: Request): Response {
  const { status, type, body } = asset(new URL(request.url).pathname);
  return new Response(body, { status, headers: { "content-type": `${type}; charset=utf-8` } });
}

const isUpgrade = (request: Request) =>
  request.headers.get("upgrade")?.toLowerCase() === "websocket";

// ── one server per runtime: the runtime's own HTTP server + our WebSocket upgrade ──

interface Running {
  port: number;
  /** Closes every chat connection with 1001, then stops listening. */
  close(): Promise<void>;
}

async function startDeno(deno: typeof Deno): Promise<Running> {
  const { upgrade } = await import("../../src/adapters/deno.ts");
  const channels = new ChannelSet();
  const server = deno.serve({ port, hostname, onListen() {} }, async (request) => {
    if (!isUpgrade(request)) return respond(request);
    const upgraded = await upgrade(request, { channels, maxMessageSize });
    upgraded.channel.ready.then(() => join(upgraded.channel, upgraded.request)).catch(() => {});
    return upgraded.response;
  });
  return {
    port: server.addr.port,
    async close() {
      await channels.closeAll();
      await server.shutdown();
    },
  };
}

/** The part of `Bun.serve` used here. */
interface BunRuntime {
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: unknown): Response | Promise<Response | undefined>;
    websocket: Record<string, unknown>;
  }): { port: number; stop(closeActive?: boolean): unknown };
}

async function startBun(bun: BunRuntime): Promise<Running> {
  const { createBunHandler } = await import("../../src/adapters/bun.ts");
  const ws = createBunHandler({ maxMessageSize, onChannel: join });
  const server = bun.serve({
    port,
    hostname,
    fetch: (request, server) =>
      isUpgrade(request)
        ? ws.upgrade(request, server as Parameters<typeof ws.upgrade>[1])
        : respond(request),
    websocket: ws.websocket,
  });
  return {
    port: server.port,
    async close() {
      await ws.close();
      await server.stop(true);
    },
  };
}

async function startNode(): Promise<Running> {
  const { attach } = await import("../../src/adapters/node.ts");
  const server = createServer((req, res) => {
    const { status, type, body } = asset(new URL(req.url ?? "/", "http://localhost").pathname);
    res.writeHead(status, { "content-type": `${type}; charset=utf-8` }).end(body);
  });
  const ws = attach(server, { maxMessageSize, onChannel: join });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject).listen(port, hostname, resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      await ws.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const runtime = globalThis as { Deno?: typeof Deno; Bun?: BunRuntime };

try {
  await hub.ready; // Redis reachable (without --redis: at once)
} catch (error) {
  console.error(
    `cannot reach Redis at ${redisUrl}:`,
    error instanceof Error ? error.message : error,
  );
  process.exit(1);
}
const server = runtime.Deno
  ? await startDeno(runtime.Deno)
  : runtime.Bun
  ? await startBun(runtime.Bun)
  : await startNode();
console.log(
  `listening on http://${hostname}:${server.port}${redisUrl ? ` (redis ${redisUrl})` : ""}`,
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing ${server.port}`);
  setTimeout(() => process.exit(1), 5_000).unref?.(); // a peer that never answers our close
  await server.close();
  await hub.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
