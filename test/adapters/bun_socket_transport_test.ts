// The Bun.listen transport under real peers (a Bun listener with the shared
// handlers, node:net / node:tls clients on loopback), and its write queue's
// bookkeeping on every runtime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as connectNet, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import {
  type BunSocketHandlers,
  bunSocketHandlers,
  BunSocketIo,
} from "../../src/adapters/bun_socket_transport.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import { deadline, delay, waitFor } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { testCertificates } from "./fixtures/certs.ts";

const skip = currentRuntime === "bun" ? false : "needs Bun";

interface Listener {
  port: number;
  stop(force?: boolean): void;
}

/** A Bun listener on 127.0.0.1 whose accepted transports arrive in order. */
function listen(tls?: { timeout: number }) {
  const accepted: BunSocketIo[] = [];
  const certs = tls ? testCertificates() : undefined;
  // deno-lint-ignore no-explicit-any
  const bun = (globalThis as any).Bun as {
    listen(options: {
      hostname: string;
      port: number;
      allowHalfOpen: boolean;
      tls?: { cert: string; key: string };
      socket: BunSocketHandlers;
    }): Listener;
  };
  const listener = bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    allowHalfOpen: true,
    tls: certs ? { cert: certs.cert, key: certs.key } : undefined,
    socket: bunSocketHandlers((io) => void accepted.push(io), tls),
  });
  return {
    port: listener.port,
    next: (): Promise<BunSocketIo> =>
      waitFor(() => accepted.shift(), { what: "an accepted socket" }) as Promise<BunSocketIo>,
    stop: () => listener.stop(true),
  };
}

function connect(port: number): Promise<Socket> {
  return deadline(
    new Promise<Socket>((resolve, reject) => {
      const socket = connectNet(port, "127.0.0.1", () => resolve(socket));
      socket.once("error", reject);
    }),
    5000,
    "connect",
  );
}

/** Runs `body` with an accepted transport and its connected peer, then stops both. */
async function withPeer(body: (io: BunSocketIo, client: Socket) => Promise<void>): Promise<void> {
  const server = listen();
  const client = await connect(server.port);
  try {
    await body(await server.next(), client);
  } finally {
    client.destroy();
    server.stop();
  }
}

/** Collects what a socket receives until its FIN. */
function collect(socket: Socket): { bytes: () => number; ended: Promise<Uint8Array> } {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const ended = new Promise<Uint8Array>((resolve, reject) => {
    socket.on("data", (chunk: Uint8Array) => {
      chunks.push(chunk);
      total += chunk.byteLength;
    });
    socket.once("end", () => {
      const all = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        all.set(chunk, offset);
        offset += chunk.byteLength;
      }
      resolve(all);
    });
    socket.once("error", reject);
  });
  return { bytes: () => total, ended };
}

function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

test(
  "Bun socket transport: writes past what the kernel takes wait for drain, in order, and close() sends FIN after them",
  {
    skip,
  },
  async () => {
    await withPeer(async (io, client) => {
      client.pause();
      const { writer } = io.transport().direct!();
      const pieces = [pattern(7, 1), pattern(8 * 1024 * 1024, 2), pattern(100, 3), pattern(3, 4)];
      // Small pieces gathered, the large one written as it is: the kernel takes part of it.
      const pending = writer.writeMany!(pieces.slice(0, 2));
      assert.ok(pending instanceof Promise, "8 MiB to a peer that does not read must wait");
      let settled = false;
      pending.then(() => (settled = true));
      const later = writer.write(pieces[2]);
      await delay(100);
      assert.equal(settled, false, "resolved before the peer read");
      const closing = writer.close();
      const received = collect(client);
      client.resume();
      await deadline(
        Promise.all([pending, later, writer.write(pieces[3]).catch(() => "refused")]),
        10_000,
        "drain",
      );
      await deadline(closing, 10_000, "close()");
      const all = await deadline(received.ended, 10_000, "FIN");
      const expected = new Uint8Array(pieces.slice(0, 3).reduce((n, p) => n + p.byteLength, 0));
      let offset = 0;
      for (const piece of pieces.slice(0, 3)) {
        expected.set(piece, offset);
        offset += piece.byteLength;
      }
      assert.equal(all.byteLength, expected.byteLength);
      assert.ok(all.every((byte, i) => byte === expected[i]), "bytes in order");
    });
  },
);

test("Bun socket transport: after close() (our FIN) the peer's bytes are still read, then EOF", {
  skip,
}, async () => {
  await withPeer(async (io, client) => {
    const { reader, writer } = io.transport().direct!();
    client.on("end", () => client.end("after our FIN"));
    client.resume();
    await writer.write(new TextEncoder().encode("bye"));
    await writer.close();
    let text = "";
    for (;;) {
      const { value, done } = await deadline(reader.read(), 5000, "read");
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.equal(text, "after our FIN");
    await reader.closed;
  });
});

test(
  "Bun socket transport: a peer's reset fails reads, closed and waiting writes",
  { skip },
  async () => {
    await withPeer(async (io, client) => {
      client.pause();
      const { reader, writer } = io.transport().direct!();
      const pending = writer.write(pattern(8 * 1024 * 1024, 5));
      const read = reader.read();
      client.resetAndDestroy();
      await assert.rejects(deadline(read, 5000, "read"));
      await assert.rejects(deadline(pending, 5000, "write"));
      await assert.rejects(deadline(reader.closed, 5000, "closed"));
      await assert.rejects(writer.write(new Uint8Array(1)));
    });
  },
);

test("Bun socket transport: 64 KiB unread pause the socket; reads resume it and get every byte", {
  skip,
}, async () => {
  await withPeer(async (io, client) => {
    const { reader } = io.transport().direct!();
    const sent = pattern(1024 * 1024, 6);
    const wrote = new Promise<void>((resolve) => client.write(sent, () => resolve()));
    let got = 0;
    const received = new Uint8Array(sent.byteLength);
    while (got < sent.byteLength) {
      const { value, done } = await deadline(reader.read(), 5000, "read");
      assert.equal(done, false);
      received.set(value!, got);
      got += value!.byteLength;
      // A slow reader: the transport holds at most 64 KiB and a chunk meanwhile.
      if (got % 4 === 0) await delay(0);
    }
    await deadline(wrote, 5000, "client write");
    assert.ok(received.every((byte, i) => byte === sent[i]));
  });
});

test("Bun socket transport: cancel() closes the socket and ends a waiting read; no Web Streams", {
  skip,
}, async () => {
  await withPeer(async (io, client) => {
    const transport = io.transport();
    assert.throws(() => transport.readable, TypeError);
    assert.throws(() => transport.writable, TypeError);
    const { reader } = transport.direct!();
    const read = reader.read();
    const ended = collect(client).ended;
    await reader.cancel();
    assert.deepEqual(await deadline(read, 5000, "read"), { done: true, value: undefined });
    await deadline(ended, 5000, "the peer sees the end");
  });
});

test(
  "Bun socket transport over TLS: a peer that never completes the TLS handshake is closed after the timeout",
  {
    skip,
  },
  async () => {
    const server = listen({ timeout: 300 });
    const raw = await connect(server.port);
    try {
      const closed = new Promise<void>((resolve) => raw.once("close", () => resolve()));
      raw.on("error", () => {});
      raw.resume();
      await deadline(closed, 5000, "closed by the server");
      // A TLS client completes its handshake and is accepted, then talks.
      const certs = testCertificates();
      const secure = connectTls({ port: server.port, host: "127.0.0.1", ca: certs.ca });
      const io = await server.next();
      const { reader } = io.transport().direct!();
      secure.write("over tls");
      const { value } = await deadline(reader.read(), 5000, "read");
      assert.equal(new TextDecoder().decode(value), "over tls");
      await delay(400);
      assert.equal(secure.destroyed, false, "the timer stopped at the handshake");
      secure.destroy();
    } finally {
      server.stop();
    }
  },
);

/**
 * The write queue's bookkeeping, on every runtime: a socket stand-in whose
 * kernel takes a seeded number of bytes per write (as `write()` reports),
 * drained by hand. The real-peer tests above cover Bun's own sockets.
 */
class KernelStandIn {
  data: BunSocketIo | undefined;
  budget = 0;
  out: Uint8Array[] = [];
  writes = 0;
  /** As Bun's: `byteOffset` and `byteLength` within the view given. */
  write(data: Uint8Array, byteOffset = 0, byteLength = data.byteLength - byteOffset): number {
    this.writes++;
    const n = Math.min(this.budget, byteLength);
    this.budget -= n;
    this.out.push(data.slice(byteOffset, byteOffset + n));
    return n;
  }
  end(): void {}
  shutdown(): void {}
  pause(): void {}
  resume(): void {}
  setNoDelay(): boolean {
    return true;
  }
}

test("Bun socket transport queue: any partial writes keep every byte in order, on two connections at once; writes wait until the queue is empty", async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = new SeededRandom(seed);
    // Two connections whose bursts and drains interleave (their gathered writes share a buffer).
    const peers = [0, 1].map(() => {
      const socket = new KernelStandIn();
      socket.budget = random.int(40_000);
      return {
        socket,
        io: new BunSocketIo(socket),
        sent: [] as Uint8Array[],
        pending: [] as Promise<void>[],
      };
    });
    // Frame-like bursts: a small header and a payload of any size, several per burst.
    for (let burst = 0; burst < 6; burst++) {
      for (const peer of peers) {
        const pieces: Uint8Array[] = [];
        for (let i = random.int(3) + 1; i > 0; i--) {
          pieces.push(random.bytes(random.int(10) + 2));
          pieces.push(random.bytes(random.pick([0, 5, 900, 16_384, 20_000, 70_000, 200_000])));
        }
        peer.sent.push(...pieces);
        const result = peer.io.writeMany(pieces, burst === 5);
        if (result) peer.pending.push(result);
      }
      await Promise.resolve();
    }
    for (const peer of peers) {
      const expected = concat(peer.sent);
      let settled = false;
      const all = Promise.all(peer.pending).then(() => (settled = true));
      for (
        let rounds = 0;
        rounds < 10_000 && written(peer.socket) < expected.byteLength;
        rounds++
      ) {
        await Promise.resolve();
        if (peer.pending.length > 0) {
          assert.equal(settled, false, "a write resolved before its bytes left");
        }
        // Both drain, in turn: the other connection gathers in between.
        for (const each of peers) {
          each.socket.budget = random.int(50_000) + 1;
          each.io.onDrain();
        }
      }
      await all;
      const out = concat(peer.socket.out);
      assert.equal(out.byteLength, expected.byteLength, `seed ${seed}`);
      assert.ok(out.every((byte, i) => byte === expected[i]), `seed ${seed}: bytes in order`);
    }
  }
});

test("Bun socket transport queue: a small header leaves together with the start of its large payload", () => {
  const socket = new KernelStandIn();
  socket.budget = Number.MAX_SAFE_INTEGER;
  const io = new BunSocketIo(socket);
  assert.equal(io.writeMany([new Uint8Array(4), new Uint8Array(100_000)]), undefined);
  assert.deepEqual(socket.out.map((c) => c.byteLength), [4 + 16_384, 100_000 - 16_384]);
});

test("Bun socket transport queue: a header and a 16 KiB payload leave in one write, and a burst of small pieces in one", () => {
  const socket = new KernelStandIn();
  socket.budget = Number.MAX_SAFE_INTEGER;
  const io = new BunSocketIo(socket);
  const header = Uint8Array.of(0x82, 126, 0x40, 0x00);
  const payload = new Uint8Array(16_384).map((_, i) => i);
  assert.equal(io.writeMany([header, payload]), undefined);
  // No second (empty) write of the payload gathered whole.
  assert.equal(socket.writes, 1);
  assert.deepEqual(socket.out[0], concat([header, payload]));
  // Small pieces gathered in the shared buffer go out by offset and length: exactly their bytes.
  const small = [Uint8Array.of(1, 2), Uint8Array.of(3), Uint8Array.of(4, 5, 6)];
  assert.equal(io.writeMany(small, true), undefined);
  assert.equal(socket.writes, 2);
  assert.deepEqual(socket.out[1], Uint8Array.of(1, 2, 3, 4, 5, 6));
});

function written(socket: KernelStandIn): number {
  return socket.out.reduce((n, c) => n + c.byteLength, 0);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}

test("Bun socket handlers: a TLS socket closed before its handshake ends leaves no timer behind", () => {
  const accepted: BunSocketIo[] = [];
  const handlers = bunSocketHandlers((io) => void accepted.push(io), { timeout: 60_000 });
  const socket = new KernelStandIn();
  handlers.open(socket);
  const io = socket.data!;
  assert.notEqual(io.timer, undefined, "the handshake is timed");
  handlers.close(socket);
  assert.equal(io.timer, undefined);
  // A handshake that completes stops the timer and hands the socket over.
  const other = new KernelStandIn();
  handlers.open(other);
  handlers.handshake!(other, true, null);
  assert.equal(other.data!.timer, undefined);
  assert.deepEqual(accepted, [other.data]);
  handlers.close(other);
});
