/**
 * One behavioural suite for every `WebSocketChannel` implementation and
 * every client × server pairing (engine pair in memory, native WebSocket ↔
 * engine server, each runtime adapter). Call {@linkcode testChannelContract}
 * from a `_test.ts` file with a factory for connected pairs.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Message, WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline, delay } from "../_util/async.ts";

/** A connected client/server pair made for one test. */
export interface ContractPair {
  /** The client end (already connecting or open). */
  client: WebSocketChannel;
  /** The server end. */
  server: WebSocketChannel;
  /** Drops the connection without a close handshake (abrupt TCP loss); leave out if impossible. */
  breakConnection?(): void;
  /** Releases servers and sockets; called after every test, pass or fail. */
  dispose?(): void | Promise<void>;
}

/** What the implementations under test can do. Everything defaults to `true`. */
export interface ContractCapabilities {
  /** The client can `ping()` (false for WHATWG WebSocket clients). */
  clientPing?: boolean;
  /** The server can `ping()`. */
  serverPing?: boolean;
  /** A server that does not read makes the client's writes wait (false for native servers that cannot pause). */
  backpressure?: boolean;
  /** `breakConnection` is available. */
  abruptLoss?: boolean;
  /** Registers every test as skipped with this reason (the running runtime cannot host the pair). */
  skipAll?: string;
}

const WAIT = 10_000;

/** Reads `count` messages (or fewer if the stream ends), bounded by a deadline. */
export async function readMessages(
  reader: ReadableStreamDefaultReader<Message>,
  count: number,
  ms = WAIT,
): Promise<Message[]> {
  const out: Message[] = [];
  await deadline(
    (async () => {
      while (out.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        out.push(value);
      }
    })(),
    ms,
    `${count} messages`,
  );
  return out;
}

function pattern(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/**
 * Registers the contract tests, each named `"<name>: …"`, as flat `test()`
 * calls (so the count is the same on every runtime; unsupported cases are
 * registered as skipped).
 */
export function testChannelContract(
  name: string,
  makePair: () => Promise<ContractPair>,
  capabilities: ContractCapabilities = {},
): void {
  const can = {
    clientPing: capabilities.clientPing ?? true,
    serverPing: capabilities.serverPing ?? true,
    backpressure: capabilities.backpressure ?? true,
    abruptLoss: capabilities.abruptLoss ?? true,
  };
  const check = (
    title: string,
    fn: (pair: ContractPair) => Promise<void>,
    skip: string | false = false,
  ) => {
    test(`${name}: ${title}`, { skip: capabilities.skipAll ?? skip }, async () => {
      const pair = await deadline(makePair(), WAIT, "a connected pair");
      try {
        await deadline(pair.client.ready, WAIT, "client ready");
        await deadline(pair.server.ready, WAIT, "server ready");
        await fn(pair);
      } finally {
        if (pair.client.closeCode === undefined) pair.client.sink.close().catch(() => {});
        await deadline(
          Promise.all([pair.client.closed, pair.server.closed]),
          WAIT,
          "both ends closed",
        )
          .catch(() => pair.breakConnection?.());
        await pair.dispose?.();
      }
    });
  };

  check(
    "delivers text, binary and empty messages in order, one message per chunk",
    async ({ client, server }) => {
      const serverReader = server.stream.getReader();
      const clientReader = client.stream.getReader();
      const sent: Message[] = [
        "hello",
        new Uint8Array([1, 2, 3]),
        "",
        new Uint8Array(0),
        "ünïcödé ✓ 𝄞",
      ];
      for (const message of sent) await deadline(client.sink.add(message), WAIT, "add");
      assert.deepEqual(await readMessages(serverReader, sent.length), sent);
      for (const message of sent) await deadline(server.sink.add(message), WAIT, "add");
      assert.deepEqual(await readMessages(clientReader, sent.length), sent);
    },
  );

  check(
    "accepts ArrayBuffer, other views and Blob as binary messages",
    async ({ client, server }) => {
      const reader = server.stream.getReader();
      await client.sink.add(new Uint8Array([9, 8]).buffer);
      await client.sink.add(new Uint16Array([0x0102]));
      await client.sink.add(new DataView(new Uint8Array([7, 6, 5]).buffer, 1, 2));
      await client.sink.add(new Blob([new Uint8Array([4, 4])]));
      const got = await readMessages(reader, 4);
      assert.deepEqual(got.slice(0, 1), [new Uint8Array([9, 8])]);
      assert.equal((got[1] as Uint8Array).byteLength, 2);
      assert.deepEqual(got.slice(2), [new Uint8Array([6, 5]), new Uint8Array([4, 4])]);
    },
  );

  check("delivers 16 MiB messages whole in both directions", async ({ client, server }) => {
    const big = pattern(16 * 1024 * 1024, 7);
    const serverReader = server.stream.getReader();
    const clientReader = client.stream.getReader();
    const [received] = await Promise.all([
      readMessages(serverReader, 1, 60_000),
      client.sink.add(big),
    ]);
    assert.equal((received[0] as Uint8Array).byteLength, big.byteLength);
    assert.deepEqual(received[0], big);
    const text = "x".repeat(4 * 1024 * 1024) + "é";
    const [echoed] = await Promise.all([
      readMessages(clientReader, 1, 60_000),
      server.sink.add(text),
    ]);
    assert.equal(echoed[0], text);
  });

  check(
    "keeps the order of 1000 messages of mixed sizes sent without waiting",
    async ({ client, server }) => {
      const sent: Message[] = [];
      for (let i = 0; i < 1000; i++) {
        sent.push(
          i % 3 === 0 ? `m${i}` : pattern(i % 7 === 0 ? 70_000 : i, i),
        );
      }
      const reader = server.stream.getReader();
      const receiving = readMessages(reader, sent.length, 30_000);
      await deadline(
        Promise.all(sent.map((message) => client.sink.add(message))),
        30_000,
        "1000 adds",
      );
      assert.deepEqual(await receiving, sent);
    },
  );

  check(
    "client close runs the handshake: codes and reasons on both ends",
    async ({ client, server }) => {
      assert.equal(client.closeCode, undefined);
      assert.equal(server.closeReason, undefined);
      const serverReader = server.stream.getReader();
      await deadline(client.sink.close(4001, "client says bye"), WAIT, "close");
      assert.equal(client.closeCode, 4001);
      assert.equal(client.closeReason, "client says bye");
      assert.deepEqual(await deadline(client.closed, WAIT, "client closed"), {
        code: 4001,
        reason: "client says bye",
        wasClean: true,
      });
      assert.deepEqual(await deadline(server.closed, WAIT, "server closed"), {
        code: 4001,
        reason: "client says bye",
        wasClean: true,
      });
      assert.equal(server.closeCode, 4001);
      assert.equal(server.closeReason, "client says bye");
      assert.deepEqual(await readMessages(serverReader, 1), [], "server stream ends without error");
    },
  );

  check("server close reaches the client with its code and reason", async ({ client, server }) => {
    const clientReader = client.stream.getReader();
    await server.sink.add("last words");
    const closing = server.sink.close(3000, "server going");
    assert.deepEqual(await readMessages(clientReader, 2), ["last words"], "message, then the end");
    await deadline(closing, WAIT, "server close");
    const info = await deadline(client.closed, WAIT, "client closed");
    assert.deepEqual(info, { code: 3000, reason: "server going", wasClean: true });
    assert.equal(client.closeCode, 3000);
    assert.equal(client.closeReason, "server going");
    assert.equal(server.closeCode, 3000);
  });

  check("close without a code reports 1005 on both ends", async ({ client, server }) => {
    await deadline(client.sink.close(), WAIT, "close");
    assert.equal((await client.closed).code, 1005);
    assert.equal((await deadline(server.closed, WAIT, "server closed")).code, 1005);
    assert.equal(server.closeCode, 1005);
  });

  check("a reason without a code closes with 1000", async ({ client, server }) => {
    await deadline(client.sink.close(undefined, "just a reason"), WAIT, "close");
    assert.deepEqual(await deadline(server.closed, WAIT, "server closed"), {
      code: 1000,
      reason: "just a reason",
      wasClean: true,
    });
  });

  check(
    "invalid close codes and reasons are refused before anything is sent",
    async ({ client, server }) => {
      // Programming errors: thrown at the call, not a rejection.
      for (const code of [999, 1001, 1004, 1005, 1006, 1011, 1015, 2999, 5000]) {
        assert.throws(() => client.sink.close(code), RangeError, `code ${code}`);
      }
      assert.throws(() => client.sink.close(3000.5), RangeError);
      assert.throws(() => client.sink.close("1000" as unknown as number), TypeError);
      assert.throws(() => client.sink.close(1000, "é".repeat(62)), RangeError, "124-byte reason");
      assert.equal(client.closeCode, undefined, "no state change");
      await client.sink.add("still open");
      assert.deepEqual(await readMessages(server.stream.getReader(), 1), ["still open"]);
      await client.sink.close(1000, "é".repeat(61) + "x"); // exactly 123 bytes
      assert.equal(
        (await deadline(server.closed, WAIT, "server closed")).reason,
        "é".repeat(61) + "x",
      );
    },
  );

  check(
    "values that are not messages throw a TypeError at sink.add on both ends and send nothing",
    async ({ client, server }) => {
      const shared = typeof SharedArrayBuffer === "undefined"
        ? []
        : [new Uint8Array(new SharedArrayBuffer(4)), new SharedArrayBuffer(4)];
      const garbage: unknown[] = [42, { a: 1 }, null, undefined, true, [1, 2], 10n, ...shared];
      for (const end of [client, server]) {
        for (const value of garbage) {
          assert.throws(
            () => end.sink.add(value as unknown as string),
            (error: unknown) =>
              error instanceof TypeError &&
              error.message.startsWith(
                "sink.add expects a string, ArrayBuffer, ArrayBufferView or Blob; got ",
              ),
            String(value),
          );
        }
      }
      assert.throws(() => client.sink.add(42 as unknown as string), /got number 42$/);
      assert.throws(() => client.sink.add(null as unknown as string), /got null$/);
      assert.throws(() => client.sink.add({ a: 1 } as unknown as string), /got Object \{"a":1\}$/);
      // Through a writer, the refused chunk errors the writable; the connection stays usable.
      const writer = client.sink.getWriter();
      await assert.rejects(writer.write(42 as unknown as string), TypeError);
      writer.releaseLock();
      await deadline(client.sink.add("after"), WAIT, "add after a refused value");
      await deadline(server.sink.add(new Uint8Array([7])), WAIT, "server add");
      assert.deepEqual(await readMessages(server.stream.getReader(), 1), ["after"]);
      assert.deepEqual(await readMessages(client.stream.getReader(), 1), [new Uint8Array([7])]);
    },
  );

  check("sink.add after close rejects with ConnectionClosedError", async ({ client, server }) => {
    await client.sink.close(1000);
    await assert.rejects(client.sink.add("too late"), {
      name: "ConnectionClosedError",
      code: "WS_CONNECTION_CLOSED",
    });
    await deadline(server.closed, WAIT, "server closed");
    await assert.rejects(server.sink.add("too late"), { code: "WS_CONNECTION_CLOSED" });
    await client.sink.close(1000); // closing again is fine
  });

  check("closed never rejects and stream errors with 1006 after abrupt loss", async (pair) => {
    const { client, server } = pair;
    const clientReader = client.stream.getReader();
    await server.sink.add("before");
    assert.deepEqual(await readMessages(clientReader, 1), ["before"]);
    pair.breakConnection!();
    const info = await deadline(client.closed, WAIT, "client closed");
    assert.deepEqual(info, { code: 1006, reason: "", wasClean: false });
    assert.deepEqual((await deadline(server.closed, WAIT, "server closed")).code, 1006);
    await assert.rejects(deadline(clientReader.read(), WAIT, "read"), {
      name: "ConnectionClosedError",
      closeCode: 1006,
    });
    assert.equal(client.closeCode, 1006);
    await assert.rejects(client.sink.add("x"), { code: "WS_CONNECTION_CLOSED" });
  }, can.abruptLoss ? false : "cannot break this connection");

  check(
    "pipeTo into the sink sends every chunk, then closes the connection",
    async ({ client, server }) => {
      const chunks: Message[] = ["a", new Uint8Array([1]), "b", new Uint8Array(100_000).fill(3)];
      const source = new ReadableStream<Message>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk);
          controller.close();
        },
      });
      const reader = server.stream.getReader();
      await deadline(source.pipeTo(client.sink), WAIT, "pipeTo");
      assert.deepEqual(await readMessages(reader, chunks.length + 1), chunks);
      assert.equal((await deadline(server.closed, WAIT, "server closed")).code, 1005);
    },
  );

  check("an echo through stream.pipeTo(sink) returns every message", async ({ client, server }) => {
    server.stream.pipeTo(server.sink).catch(() => {});
    const reader = client.stream.getReader();
    const sent: Message[] = ["one", new Uint8Array([2]), "three"];
    for (const message of sent) await client.sink.add(message);
    assert.deepEqual(await readMessages(reader, 3), sent);
  });

  check(
    "a server that does not read keeps the client's writes waiting",
    async ({ client, server }) => {
      const chunk = new Uint8Array(64 * 1024);
      const limit = 2048; // 128 MiB: far more than any socket and queue buffers
      let sent = 0;
      let stalledAt = -1;
      const writing = (async () => {
        while (sent < limit && stalledAt < 0) {
          await client.sink.add(chunk);
          sent++;
        }
      })();
      writing.catch(() => {});
      // Ends the test early once the writer has made no progress for a while.
      let last = -1;
      for (let i = 0; i < 600 && sent < limit; i++) {
        await delay(50);
        if (sent === last) {
          stalledAt = sent;
          break;
        }
        last = sent;
      }
      assert.ok(sent < limit, `the writer pushed ${sent * 64} KiB with nobody reading`);
      // Reading drains everything that was sent.
      const reader = server.stream.getReader();
      let received = 0;
      await deadline(
        (async () => {
          while (received < stalledAt) {
            const { done } = await reader.read();
            if (done) break;
            received++;
          }
        })(),
        30_000,
        "draining",
      );
      await deadline(writing, WAIT, "the writer to finish");
      assert.ok(received >= stalledAt);
    },
    can.backpressure ? false : "the server cannot stop reading",
  );

  check("ping resolves with the round-trip time", async ({ client, server }) => {
    if (can.clientPing) {
      const rtt = await deadline(client.ping(), WAIT, "client ping");
      assert.ok(typeof rtt === "number" && rtt >= 0);
      assert.ok((await deadline(client.ping("payload"), WAIT, "ping with data")) >= 0);
    } else {
      await assert.rejects(client.ping(), { code: "WS_PING_UNSUPPORTED" });
    }
    if (can.serverPing) {
      // The client must be reading for its engine to see the ping.
      client.stream.pipeTo(new WritableStream()).catch(() => {});
      assert.ok((await deadline(server.ping(new Uint8Array([1, 2])), WAIT, "server ping")) >= 0);
    } else {
      await assert.rejects(server.ping(), { code: "WS_PING_UNSUPPORTED" });
    }
  });

  check(
    "cancelling the stream keeps the connection usable for sending",
    async ({ client, server }) => {
      await client.stream.cancel();
      const reader = server.stream.getReader();
      await server.sink.add("dropped");
      await client.sink.add("still sending");
      assert.deepEqual(await readMessages(reader, 1), ["still sending"]);
      await client.sink.close(1000);
      assert.equal((await deadline(server.closed, WAIT, "server closed")).wasClean, true);
    },
  );

  check("both ends closing at once completes cleanly", async ({ client, server }) => {
    await Promise.all(
      [client.sink.close(4000, "a"), server.sink.close(4000, "a")].map((p) =>
        deadline(p, WAIT, "close")
      ),
    );
    assert.equal((await client.closed).code, 4000);
    assert.equal((await server.closed).code, 4000);
  });

  check("reports the negotiated subprotocol the same on both ends", async ({ client, server }) => {
    await Promise.all([client.ready, server.ready]);
    assert.equal(typeof client.protocol, "string");
    assert.equal(client.protocol, server.protocol);
    assert.equal(typeof client.extensions, "string");
  });

  check(
    "listen() hands each message over synchronously, in order, then onDone",
    async ({ client, server }) => {
      const got: Message[] = [];
      let ended = "";
      const done = new Promise<void>((resolve) => {
        server.listen((message) => {
          got.push(message);
          // An echo from inside the listener: the per-message path of a server.
          server.sink.add(message).catch(() => {});
        }, {
          onDone: () => {
            ended = `done after ${got.length}`;
            resolve();
          },
          onError: (error) => {
            ended = `error ${error}`;
            resolve();
          },
        });
      });
      const reader = client.stream.getReader();
      const sent: Message[] = [];
      for (let i = 0; i < 200; i++) sent.push(i % 3 === 0 ? pattern(i, i) : `m${i}`);
      for (const message of sent) client.sink.add(message).catch(() => {});
      assert.deepEqual(await readMessages(reader, sent.length), sent);
      assert.deepEqual(got, sent);
      await deadline(client.sink.close(1000), WAIT, "close");
      await deadline(done, WAIT, "the listener's end");
      assert.equal(ended, "done after 200");
    },
  );

  check(
    "send() from inside listen() echoes each message as it came and still refuses what is not one",
    async ({ client, server }) => {
      const shared = typeof SharedArrayBuffer === "undefined"
        ? undefined
        : new Uint8Array(new SharedArrayBuffer(4));
      const refused: string[] = [];
      server.listen((message) => {
        for (const bad of [42, shared]) {
          if (bad === undefined) continue;
          try {
            void server.send(bad as never);
          } catch (error) {
            if (error instanceof TypeError) refused.push(typeof bad);
          }
        }
        server.send(message).catch(() => {});
      });
      const sent: Message[] = [
        new Uint8Array([1, 2, 3]),
        new Uint8Array(0),
        pattern(300, 5),
        "short",
        "",
        "é".repeat(200),
      ];
      for (const message of sent) client.sink.add(message).catch(() => {});
      assert.deepEqual(await readMessages(client.stream.getReader(), sent.length), sent);
      const perMessage = shared === undefined ? ["number"] : ["number", "object"];
      assert.deepEqual(refused, sent.flatMap(() => perMessage));
    },
  );

  check(
    "listen(): pause holds messages, resume delivers them in order, cancel keeps the connection",
    async ({ client, server }) => {
      const got: Message[] = [];
      let arrived = () => {};
      const subscription = server.listen((message) => {
        got.push(message);
        arrived();
      });
      const next = (count: number) =>
        deadline(
          new Promise<void>((resolve) => {
            arrived = () => got.length >= count && resolve();
            arrived();
          }),
          WAIT,
          `${count} messages`,
        );
      await client.sink.add("a");
      await next(1);
      subscription.pause();
      assert.equal(subscription.isPaused, true);
      for (const m of ["b", "c", "d"]) await client.sink.add(m);
      // Time for b–d to reach the server; none may be delivered while paused.
      await delay(50);
      assert.deepEqual(got, ["a"]);
      const reader = client.stream.getReader();
      subscription.resume();
      await next(4);
      assert.deepEqual(got, ["a", "b", "c", "d"]);
      subscription.cancel();
      await client.sink.add("dropped");
      await server.sink.add("still open");
      assert.deepEqual(await readMessages(reader, 1), ["still open"]);
      assert.deepEqual(got, ["a", "b", "c", "d"]);
    },
  );

  check(
    "listen() ends with onError after an abrupt loss",
    async (pair) => {
      const error = new Promise<unknown>((resolve) => {
        pair.server.listen(() => {}, { onError: resolve, onDone: () => resolve("done") });
      });
      await pair.client.sink.add("x");
      pair.breakConnection!();
      const ended = await deadline(error, WAIT, "onError");
      assert.ok(ended instanceof Error, `expected an error, got ${ended}`);
    },
    can.abruptLoss ? false : "no abrupt loss for this pair",
  );

  check("the messages have one reader: stream or listen()", async ({ client, server }) => {
    server.listen(() => {});
    assert.equal(server.stream.locked, true);
    assert.throws(() => server.listen(() => {}), { name: "InvalidStateError" });
    assert.equal(client.stream.locked, false);
    assert.throws(() => client.listen(() => {}), { name: "InvalidStateError" });
    await client.sink.add("still works");
  });

  check(
    "send() keeps order with sink.add(), throws for a non-message, rejects while a writer holds the sink and once closed",
    async ({ client, server }) => {
      const reader = client.stream.getReader();
      // Before the server's sink is made, then beside it.
      await deadline(server.send("one"), WAIT, "send");
      await deadline(server.send(new Uint8Array([1, 2])), WAIT, "send");
      await deadline(server.sink.add("two"), WAIT, "add");
      await deadline(server.send("three"), WAIT, "send");
      assert.deepEqual(await readMessages(reader, 4), [
        "one",
        new Uint8Array([1, 2]),
        "two",
        "three",
      ]);
      assert.throws(() => server.send(42 as never), TypeError);
      const writer = server.sink.getWriter();
      await assert.rejects(server.send("held"), { name: "InvalidStateError" });
      writer.releaseLock();
      await deadline(server.send("four"), WAIT, "send");
      assert.deepEqual(await readMessages(reader, 1), ["four"]);
      await deadline(server.sink.close(), WAIT, "close");
      await assert.rejects(server.send("late"));
    },
  );
}
