// NatsBackplane against a real nats-server on loopback: two backplanes (two
// "hubs") per server, outages made by killing the server or by cutting one
// hub's link through a relay.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import {
  BackplaneError,
  type BackplaneErrorCode,
  type BackplaneMessage,
  type BackplaneStatus,
} from "../../src/fanout/backplane.ts";
import {
  NatsBackplane,
  type NatsBackplaneOptions,
  topicToSubject,
} from "../../src/backplane/nats.ts";
import { deadline, delay, waitFor } from "../_util/async.ts";
import {
  freePort,
  type LinkProxy,
  type NatsServer,
  natsSkip,
  startLinkProxy,
  startNatsServer,
} from "../_util/nats_server.ts";
import { AWKWARD_TOPICS } from "./awkward_topics.ts";

const skip = natsSkip;

/** What a hub would see: messages, status changes, errors. */
function recorder() {
  const messages: BackplaneMessage[] = [];
  const statuses: BackplaneStatus[] = [];
  const errors: Error[] = [];
  return {
    messages,
    statuses,
    errors,
    receiver: {
      message: (message: BackplaneMessage) => messages.push(message),
      status: (status: BackplaneStatus) => statuses.push(status),
    },
    onError: (error: Error) => errors.push(error),
  };
}
type Recorder = ReturnType<typeof recorder>;

const isBackplaneError = (code: BackplaneErrorCode) => (error: unknown) =>
  error instanceof BackplaneError && error.code === code;

/** A started backplane with its recorder; closed by `run`. */
interface Hub {
  backplane: NatsBackplane;
  seen: Recorder;
}

/** Runs `body` with a fresh nats-server; stops it and closes every hub and relay opened. */
async function run(
  body: (env: {
    server: NatsServer;
    hub: (options?: NatsBackplaneOptions) => Promise<Hub>;
    relay: () => Promise<LinkProxy>;
  }) => Promise<void>,
): Promise<void> {
  const server = await startNatsServer();
  const backplanes: NatsBackplane[] = [];
  const relays: LinkProxy[] = [];
  try {
    await body({
      server,
      hub: async (options = {}) => {
        const seen = recorder();
        const backplane = new NatsBackplane({
          servers: server.url,
          reconnectWait: 50,
          connectTimeout: 5000,
          onError: seen.onError,
          ...options,
        });
        backplanes.push(backplane);
        await deadline(backplane.start(seen.receiver), 10_000, "start()");
        return { backplane, seen };
      },
      relay: async () => {
        const relay = await startLinkProxy(server.port);
        relays.push(relay);
        return relay;
      },
    });
  } finally {
    await deadline(Promise.all(backplanes.map((b) => b.close())), 10_000, "close()");
    await Promise.all(relays.map((r) => r.close()));
    await server.stop();
  }
}

const waitMessages = (seen: Recorder, count: number, what = `${count} messages`) =>
  waitFor(() => seen.messages.length >= count, { timeout: 10_000, what });

/** Waits until `seen` reported `status` as its latest status change. */
const waitStatus = (seen: Recorder, status: BackplaneStatus, what: string) =>
  waitFor(() => seen.statuses.at(-1) === status, { timeout: 10_000, what });

const bytesOf = (data: string | Uint8Array) => data instanceof Uint8Array ? [...data] : data;

test("NatsBackplane refuses a bad prefix or option before connecting", () => {
  for (const prefix of ["wsc", "a..", ".", "a b.", "*.", ">.", "a.*."]) {
    assert.throws(() => new NatsBackplane({ prefix }), TypeError, prefix);
  }
  for (const prefix of ["", "a.", "app.ws.", "a-b_c."]) new NatsBackplane({ prefix });
  assert.throws(() => new NatsBackplane({ maxBufferedBytes: -1 }), RangeError);
  assert.throws(() => new NatsBackplane({ bufferTimeout: Number.NaN }), RangeError);
  assert.throws(() => new NatsBackplane({ connectTimeout: 0 }), RangeError);
  assert.throws(() => new NatsBackplane({ reconnectWait: -5 }), RangeError);
});

// --- against nats-server ---

test("start() where nothing listens rejects with WS_BACKPLANE_UNAVAILABLE", async () => {
  const port = await freePort();
  const backplane = new NatsBackplane({
    servers: `nats://127.0.0.1:${port}`,
    connectTimeout: 2000,
  });
  const started = Date.now();
  await deadline(
    assert.rejects(backplane.start({ message() {} }), isBackplaneError("WS_BACKPLANE_UNAVAILABLE")),
    5000,
    "start() to fail",
  );
  assert.ok(Date.now() - started < 3000, "refused at once, not after retrying");
  await deadline(backplane.close(), 2000, "close()");
  await assert.rejects(
    backplane.publish({ topic: "t", data: "x", origin: "o" }),
    isBackplaneError("WS_BACKPLANE_CLOSED"),
  );
});

test("publish and subscribe before start() reject with WS_BACKPLANE_UNAVAILABLE", async () => {
  const backplane = new NatsBackplane();
  await assert.rejects(
    backplane.publish({ topic: "t", data: "x", origin: "o" }),
    isBackplaneError("WS_BACKPLANE_UNAVAILABLE"),
  );
  await assert.rejects(backplane.subscribe("t"), isBackplaneError("WS_BACKPLANE_UNAVAILABLE"));
  await backplane.close();
});

test("two backplanes: text and bytes both ways, origin kept, no echo", { skip }, async () => {
  await run(async ({ hub }) => {
    const a = await hub();
    const b = await hub();
    await a.backplane.subscribe("chat");
    await b.backplane.subscribe("chat");
    await a.backplane.publish({ topic: "chat", data: "hé from a", origin: "hub-a" });
    await b.backplane.publish({
      topic: "chat",
      data: new Uint8Array([0, 1, 255]),
      origin: "hub-b",
    });
    await b.backplane.publish({ topic: "chat", data: "", origin: "hub-b" });
    await a.backplane.publish({ topic: "chat", data: new Uint8Array(0), origin: "hub-a" });
    await waitMessages(b.seen, 2);
    await waitMessages(a.seen, 2);
    assert.deepEqual(b.seen.messages.map((m) => [m.topic, bytesOf(m.data), m.origin]), [
      ["chat", "hé from a", "hub-a"],
      ["chat", [], "hub-a"],
    ]);
    assert.ok(b.seen.messages[1].data instanceof Uint8Array);
    assert.deepEqual(a.seen.messages.map((m) => [m.topic, bytesOf(m.data), m.origin]), [
      ["chat", [0, 1, 255], "hub-b"],
      ["chat", "", "hub-b"],
    ]);
    assert.ok(a.seen.messages[0].data instanceof Uint8Array);
    assert.equal(typeof a.seen.messages[1].data, "string");
    await delay(50);
    assert.equal(a.seen.messages.length, 2, "a never hears its own publishes");
    assert.deepEqual([...a.seen.errors, ...b.seen.errors], []);
    assert.deepEqual([...a.seen.statuses, ...b.seen.statuses], []);
  });
});

test("1,000 messages of one publisher arrive in publish order", { skip }, async () => {
  await run(async ({ hub }) => {
    const a = await hub();
    const b = await hub();
    await b.backplane.subscribe("order");
    const sent: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) {
      const data = i % 3 === 0 ? new Uint8Array([i >> 8, i & 0xff]) : String(i);
      sent.push(a.backplane.publish({ topic: "order", data, origin: "a" }));
    }
    await deadline(Promise.all(sent), 5000, "publishes");
    await waitMessages(b.seen, 1000);
    const received = b.seen.messages.map((m) =>
      m.data instanceof Uint8Array ? (m.data[0] << 8) | m.data[1] : Number(m.data)
    );
    assert.deepEqual(received, Array.from({ length: 1000 }, (_, i) => i));
  });
});

test("unsubscribe stops delivery; subscribe and unsubscribe are idempotent", { skip }, async () => {
  await run(async ({ hub }) => {
    const a = await hub();
    const b = await hub();
    await b.backplane.subscribe("x");
    await b.backplane.subscribe("x");
    await b.backplane.subscribe("sentinel");
    await a.backplane.publish({ topic: "x", data: "1", origin: "a" });
    await waitMessages(b.seen, 1);
    await b.backplane.unsubscribe("x");
    await b.backplane.unsubscribe("x");
    await b.backplane.unsubscribe("never-subscribed");
    await a.backplane.publish({ topic: "x", data: "2", origin: "a" });
    await a.backplane.publish({ topic: "sentinel", data: "3", origin: "a" });
    await waitMessages(b.seen, 2);
    assert.deepEqual(b.seen.messages.map((m) => [m.topic, m.data]), [["x", "1"], [
      "sentinel",
      "3",
    ]]);
    // Subscribed again after unsubscribing: delivered again, once.
    await b.backplane.subscribe("x");
    await a.backplane.publish({ topic: "x", data: "4", origin: "a" });
    await waitMessages(b.seen, 3);
    await delay(50);
    assert.deepEqual(b.seen.messages.map((m) => m.data), ["1", "3", "4"]);
  });
});

test("awkward topic names round-trip without collision", { skip }, async () => {
  await run(async ({ hub }) => {
    const a = await hub();
    const b = await hub();
    for (const topic of AWKWARD_TOPICS) await b.backplane.subscribe(topic);
    for (const [i, topic] of AWKWARD_TOPICS.entries()) {
      await a.backplane.publish({ topic, data: String(i), origin: "a" });
    }
    await waitMessages(b.seen, AWKWARD_TOPICS.length);
    await delay(50); // a collision would show up as an extra delivery
    assert.equal(b.seen.messages.length, AWKWARD_TOPICS.length);
    for (const [i, message] of b.seen.messages.entries()) {
      assert.equal(message.topic, AWKWARD_TOPICS[i]);
      assert.equal(message.data, String(i));
    }
  });
});

test("undecodable payloads are dropped and reported, delivery goes on", { skip }, async () => {
  await run(async ({ server, hub }) => {
    const a = await hub();
    const b = await hub();
    await b.backplane.subscribe("t");
    const raw = await connect({ servers: server.url });
    try {
      const subject = topicToSubject("t");
      raw.publish(subject, "plain text from another program");
      raw.publish(subject, new Uint8Array(0));
      raw.publish(subject, new Uint8Array([9, 1, 0, 0])); // unknown version
      raw.publish(subject, new Uint8Array([1, 1, 0, 9, 97])); // origin past the end
      raw.publish(subject, new Uint8Array([1, 1, 0, 0, 0xff])); // text not UTF-8
      await raw.flush();
    } finally {
      await raw.close();
    }
    await a.backplane.publish({ topic: "t", data: "good", origin: "a" });
    await waitMessages(b.seen, 1);
    await waitFor(() => b.seen.errors.length >= 5, { timeout: 5000, what: "5 errors" });
    assert.deepEqual(b.seen.messages.map((m) => m.data), ["good"]);
    assert.equal(b.seen.errors.length, 5);
    for (const error of b.seen.errors) {
      assert.ok(isBackplaneError("WS_BACKPLANE_BAD_MESSAGE")(error), String(error));
      assert.match(error.message, /wsc\.t/);
    }
  });
});

test("a receiver that throws is reported, and delivery goes on", { skip }, async () => {
  await run(async ({ server, hub }) => {
    const a = await hub();
    const errors: Error[] = [];
    const got: unknown[] = [];
    const b = new NatsBackplane({ servers: server.url, onError: (e) => errors.push(e) });
    try {
      await b.start({
        message(m) {
          got.push(m.data);
          throw new Error("hub bug");
        },
      });
      await b.subscribe("t");
      await a.backplane.publish({ topic: "t", data: "1", origin: "a" });
      await a.backplane.publish({ topic: "t", data: "2", origin: "a" });
      await waitFor(() => got.length === 2, { timeout: 5000, what: "2 messages" });
      assert.deepEqual(errors.map((e) => e.message), ["hub bug", "hub bug"]);
    } finally {
      await b.close();
    }
  });
});

test("server restart: down/up, resubscribed, queued publishes sent", { skip }, async () => {
  await run(async ({ server, hub, relay }) => {
    // a reaches the server through a relay, so it can be kept away after the
    // restart until b is back: messages are only delivered to subscribers
    // connected at that time.
    const link = await relay();
    const a = await hub({ servers: link.url, bufferTimeout: Infinity });
    const b = await hub();
    await a.backplane.subscribe("back");
    await b.backplane.subscribe("r");
    await b.backplane.subscribe("gone");
    const during: Promise<void>[] = [];
    await server.restart(async () => {
      link.cut();
      await waitStatus(a.seen, "down", "a down");
      await waitStatus(b.seen, "down", "b down");
      for (let i = 0; i < 50; i++) {
        during.push(a.backplane.publish({ topic: "r", data: `during ${i}`, origin: "a" }));
      }
      // Subscription changes made while down take effect after the reconnect.
      await b.backplane.unsubscribe("gone");
      await deadline(b.backplane.subscribe("late"), 1000, "subscribe while down");
    });
    await waitStatus(b.seen, "up", "b up again");
    await delay(200);
    assert.equal(a.seen.statuses.at(-1), "down", "a stays down while its link is cut");
    assert.equal(b.seen.messages.length, 0);
    link.heal();
    await waitStatus(a.seen, "up", "a up again");
    await deadline(Promise.all(during), 5000, "the outage publishes to resolve");
    await a.backplane.publish({ topic: "r", data: "after", origin: "a" });
    await a.backplane.publish({ topic: "gone", data: "unsubscribed", origin: "a" });
    await a.backplane.publish({ topic: "late", data: "late", origin: "a" });
    await waitMessages(b.seen, 52);
    await delay(50);
    assert.deepEqual(
      b.seen.messages.map((m) => m.data),
      [...Array.from({ length: 50 }, (_, i) => `during ${i}`), "after", "late"],
    );
    // a's subscription was renewed by the client after its reconnect.
    await b.backplane.publish({ topic: "back", data: "to a", origin: "b" });
    await waitMessages(a.seen, 1);
    assert.equal(a.seen.messages[0].data, "to a");
    assert.deepEqual(a.seen.statuses, ["down", "up"]);
    assert.deepEqual(b.seen.statuses, ["down", "up"]);
  });
});

test("outage: a publish over maxBufferedBytes rejects BUFFER_FULL", { skip }, async () => {
  await run(async ({ hub, relay }) => {
    const link = await relay();
    // Each message: 1000 bytes of data + 5 of header and origin + 5 of subject.
    // A bufferTimeout beyond what one timer can hold must not fire at once.
    const a = await hub({ servers: link.url, maxBufferedBytes: 4 * 1010, bufferTimeout: 3e9 });
    const b = await hub();
    await b.backplane.subscribe("f");
    link.cut();
    await waitStatus(a.seen, "down", "a down");
    const publish = (i: number) =>
      a.backplane.publish({ topic: "f", data: String(i).repeat(1000), origin: "a" });
    const fit = [0, 1, 2, 3].map(publish);
    await assert.rejects(publish(4), isBackplaneError("WS_BACKPLANE_BUFFER_FULL"));
    await delay(100);
    link.heal();
    await waitStatus(a.seen, "up", "a up");
    await deadline(Promise.all(fit), 5000, "buffered publishes");
    await publish(5);
    await waitMessages(b.seen, 5);
    assert.deepEqual(b.seen.messages.map((m) => (m.data as string)[0]), [
      "0",
      "1",
      "2",
      "3",
      "5",
    ]);
  });
});

test("maxBufferedBytes 0: publishes during an outage fail at once", { skip }, async () => {
  await run(async ({ hub, relay }) => {
    const link = await relay();
    const a = await hub({ servers: link.url, maxBufferedBytes: 0 });
    link.cut();
    await waitStatus(a.seen, "down", "a down");
    await assert.rejects(
      a.backplane.publish({ topic: "t", data: "x", origin: "a" }),
      isBackplaneError("WS_BACKPLANE_BUFFER_FULL"),
    );
  });
});

test("outage: past bufferTimeout a publish rejects and is never sent", { skip }, async () => {
  await run(async ({ hub, relay }) => {
    const link = await relay();
    const a = await hub({ servers: link.url, bufferTimeout: 200 });
    const b = await hub();
    await b.backplane.subscribe("t");
    link.cut();
    await waitStatus(a.seen, "down", "a down");
    const started = Date.now();
    const stale = a.backplane.publish({ topic: "t", data: "stale", origin: "a" });
    await delay(100);
    const staler = a.backplane.publish({ topic: "t", data: "stale too", origin: "a" });
    await deadline(
      assert.rejects(stale, isBackplaneError("WS_BACKPLANE_UNAVAILABLE")),
      5000,
      "the timeout",
    );
    assert.ok(Date.now() - started >= 190, "not before bufferTimeout");
    await deadline(
      assert.rejects(staler, isBackplaneError("WS_BACKPLANE_UNAVAILABLE")),
      5000,
      "the timeout",
    );
    link.heal();
    await waitStatus(a.seen, "up", "a up");
    await a.backplane.publish({ topic: "t", data: "fresh", origin: "a" });
    await waitMessages(b.seen, 1);
    await delay(50);
    assert.deepEqual(b.seen.messages.map((m) => m.data), ["fresh"]);
  });
});

test("close() during an outage rejects waiting publishes, returns", { skip }, async () => {
  await run(async ({ hub, relay }) => {
    const link = await relay();
    const a = await hub({ servers: link.url });
    link.cut();
    await waitStatus(a.seen, "down", "a down");
    const waiting = a.backplane.publish({ topic: "t", data: "x", origin: "a" });
    const closing = a.backplane.close();
    await assert.rejects(waiting, isBackplaneError("WS_BACKPLANE_CLOSED"));
    await deadline(closing, 3000, "close() while reconnecting");
  });
});

test("close() is idempotent; later calls reject WS_BACKPLANE_CLOSED", { skip }, async () => {
  await run(async ({ hub }) => {
    const a = await hub();
    await a.backplane.subscribe("t");
    const first = a.backplane.close();
    const second = a.backplane.close();
    await deadline(Promise.all([first, second]), 3000, "close()");
    await a.backplane.close();
    const closed = isBackplaneError("WS_BACKPLANE_CLOSED");
    await assert.rejects(a.backplane.publish({ topic: "t", data: "x", origin: "a" }), closed);
    await assert.rejects(a.backplane.subscribe("u"), closed);
    await assert.rejects(a.backplane.unsubscribe("t"), closed);
    await assert.rejects(a.backplane.start({ message() {} }), closed);
  });
});

test("too long a topic or over max_payload: refused, the link survives", { skip }, async () => {
  await run(async ({ hub }) => {
    const a = await hub();
    const b = await hub();
    await assert.rejects(a.backplane.subscribe("é".repeat(1333)), RangeError);
    // The longest subject allowed (4,000 bytes) really works end to end.
    const longest = "é".repeat(1332);
    assert.equal(topicToSubject(longest).length, 4000);
    await b.backplane.subscribe(longest);
    await a.backplane.publish({ topic: longest, data: "long", origin: "a" });
    await waitMessages(b.seen, 1);
    assert.equal(b.seen.messages[0].topic, longest);
    await assert.rejects(
      a.backplane.publish({ topic: "x".repeat(4001), data: "x", origin: "a" }),
      RangeError,
    );
    await assert.rejects(
      a.backplane.publish({ topic: "t", data: new Uint8Array(1024 * 1024 + 1), origin: "a" }),
      RangeError,
    );
    await b.backplane.subscribe("t");
    await a.backplane.publish({ topic: "t", data: "still fine", origin: "a" });
    await waitMessages(b.seen, 2);
    assert.deepEqual(a.seen.statuses, []);
  });
});

test("a given connection is used and left open; its close means down", { skip }, async () => {
  await run(async ({ server, hub }) => {
    const b = await hub();
    await b.backplane.subscribe("t");
    const connection = await connect({ servers: server.url });
    try {
      const seen = recorder();
      const a = new NatsBackplane({ connection, onError: seen.onError });
      await a.start(seen.receiver);
      await a.subscribe("t");
      await a.publish({ topic: "t", data: "via given", origin: "a" });
      await waitMessages(b.seen, 1);
      // The caller's connection echoes (its settings are the caller's): the hub filters by origin.
      await waitMessages(seen, 1);
      assert.equal(seen.messages[0].origin, "a");
      await a.close();
      assert.equal(connection.isClosed(), false);
      await connection.flush();

      const c = recorder();
      const other = new NatsBackplane({ connection });
      await other.start(c.receiver);
      await connection.close();
      await waitStatus(c, "down", "down after the owner closed the connection");
      await assert.rejects(
        other.publish({ topic: "t", data: "x", origin: "c" }),
        isBackplaneError("WS_BACKPLANE_UNAVAILABLE"),
      );
      await other.close();
    } finally {
      await connection.close();
    }
  });
});
