/**
 * Session layer overhead: the same traffic over plain channels and over
 * `wsc.session.1`, in one Deno process over loopback (`serve()` of
 * `./server/deno`, engine clients).
 *
 * - sends: one client sends N messages as fast as the transport takes them
 *   (plain: `WebSocketClient.send`, resolved when written; session:
 *   `SessionClient.send`, resolved when the server's handler ran and its
 *   ACK came back, a window of W in flight). Messages/s until the server's
 *   application has them all.
 * - publish: S subscribers, N messages published (plain: `TopicHub`;
 *   session: `SessionHub` with `MemorySessionStore`, positions and history).
 *   Messages/s until every subscriber has every message.
 * - bytes on the wire per message, both directions, from the frame layouts
 *   (RFC 6455 header, client mask, session header, ACK), exact for the
 *   payload size given.
 *
 * Interleaved rounds, medians. Usage:
 * `deno run -A bench/session.ts [--messages 20000] [--subscribers 20] [--size 64] [--rounds 3] [--window 1000]`
 *
 * @module
 */
import { serve } from "../src/adapters/deno.ts";
import { WebSocketClient } from "../src/client/web_socket_client.ts";
import { connect } from "../mod.ts";
import { TopicHub } from "../src/fanout/topic_hub.ts";
import { frameHeaderSize } from "../src/engine/frame_encoder.ts";
import { encodeFrame, encodePublish, SESSION_PROTOCOL } from "../src/session/frames.ts";
import { SessionHub } from "../src/session/session_hub.ts";
import { SessionClient } from "../src/session/session_client.ts";
import { fmt, median, option, rotated, table } from "./_harness.ts";

const opt = (name: string, fallback: string) => Number(option(Deno.args, name, fallback));
const N = opt("messages", "20000");
const S = opt("subscribers", "20");
const SIZE = opt("size", "64");
const ROUNDS = opt("rounds", "3");
const WINDOW = opt("window", "1000");
const payload = "x".repeat(SIZE);
const TOPIC = "bench";

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 1));
}

async function plainSends(): Promise<number> {
  let received = 0;
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    onChannel: async (channel) => {
      for await (const _ of channel.stream) received++;
    },
  });
  const client = new WebSocketClient(`ws://127.0.0.1:${server.port}/`, { heartbeat: false });
  await client.connect();
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    const sent = client.send(payload);
    if (i % WINDOW === WINDOW - 1) await sent;
  }
  await until(() => received === N);
  const rate = N / ((performance.now() - start) / 1000);
  await client.close();
  await server.close();
  return rate;
}

async function sessionSends(): Promise<number> {
  let received = 0;
  const hub = new SessionHub({ onMessage: () => void received++ });
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    protocols: [SESSION_PROTOCOL],
    onChannel: (channel) => void hub.accept(channel),
  });
  const client = new SessionClient(`ws://127.0.0.1:${server.port}/`, {
    heartbeat: false,
    outbox: { maxMessages: WINDOW * 2 },
  });
  await client.connect();
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    inFlight.push(client.send(payload));
    if (inFlight.length === WINDOW) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  await until(() => received === N);
  const rate = N / ((performance.now() - start) / 1000);
  await client.close();
  await hub.close();
  await server.close();
  return rate;
}

async function plainPublish(): Promise<number> {
  const hub = new TopicHub();
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    onChannel: (channel) => void hub.subscribe(channel, TOPIC),
  });
  const counts = new Array(S).fill(0);
  const channels = await Promise.all(Array.from({ length: S }, async (_, k) => {
    const channel = connect(`ws://127.0.0.1:${server.port}/`, { transport: "engine" });
    await channel.ready;
    void (async () => {
      for await (const _ of channel.stream) counts[k]++;
    })().catch(() => {});
    return channel;
  }));
  await until(() => hub.subscriberCount(TOPIC) === S);
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    hub.publish(TOPIC, payload);
    if (i % 100 === 99) await until(() => counts.every((c) => c >= i - 2000));
  }
  await until(() => counts.every((c) => c === N));
  const rate = N / ((performance.now() - start) / 1000);
  await Promise.all(channels.map((c) => c.sink.close()));
  await hub.close();
  await server.close();
  return rate;
}

async function sessionPublish(): Promise<number> {
  const hub = new SessionHub();
  const server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    protocols: [SESSION_PROTOCOL],
    onChannel: (channel) => void hub.accept(channel),
  });
  const counts = new Array(S).fill(0);
  const clients = await Promise.all(Array.from({ length: S }, async (_, k) => {
    const client = new SessionClient(`ws://127.0.0.1:${server.port}/`, { heartbeat: false });
    client.on("message", () => counts[k]++);
    client.subscribe(TOPIC);
    await client.connect();
    await until(() => client.positions()[TOPIC] !== undefined);
    return client;
  }));
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    await hub.publish(TOPIC, payload);
    if (i % 100 === 99) await until(() => counts.every((c) => c >= i - 2000));
  }
  await until(() => counts.every((c) => c === N));
  const rate = N / ((performance.now() - start) / 1000);
  await Promise.all(clients.map((c) => c.close()));
  await hub.close();
  await server.close();
  return rate;
}

const cases: [string, () => Promise<number>][] = [
  ["sends, plain", plainSends],
  ["sends, session (acknowledged)", sessionSends],
  [`publish to ${S}, plain TopicHub`, plainPublish],
  [`publish to ${S}, SessionHub`, sessionPublish],
];
const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of rotated(cases, round)) results.get(name)!.push(await run());
}
const seqBytes = encodeFrame({ kind: "send", seq: 1000, data: payload }).byteLength;
const ack = encodeFrame({ kind: "ack", seq: 1000 }).byteLength;
const pub = encodePublish(TOPIC, 1000, payload).byteLength;
const wsClient = (n: number) => frameHeaderSize(n, true) + n;
const wsServer = (n: number) => frameHeaderSize(n, false) + n;

console.log(
  `${N} messages of ${SIZE} bytes, ${ROUNDS} rounds, medians (Deno ${Deno.version.deno})\n`,
);
console.log(table(
  ["case", "messages/s", "vs plain"],
  cases.map(([name], k) => {
    const rate = median(results.get(name)!);
    const base = median(results.get(cases[k - (k % 2)][0])!);
    return [name, fmt(rate), fmt(rate / base, 2)];
  }),
));
console.log(
  `\n${
    table(
      [`bytes on the wire per ${SIZE}-byte message (seq/position 1000)`, "plain", "session"],
      [
        ["client → server send", wsClient(SIZE), wsClient(seqBytes)],
        ["server → client acknowledgement", 0, wsServer(ack)],
        [`server → client topic message (topic "${TOPIC}")`, wsServer(SIZE), wsServer(pub)],
      ],
    )
  }`,
);
