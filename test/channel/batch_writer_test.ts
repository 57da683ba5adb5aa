import { test } from "node:test";
import assert from "node:assert/strict";
import { BatchWriter } from "../../src/channel/batch_writer.ts";
import { deferred } from "../../src/_util/deferred.ts";

function recorder() {
  const writes: Uint8Array[] = [];
  let gate = deferred<void>();
  gate.resolve();
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      writes.push(chunk);
      await gate.promise;
    },
  });
  return {
    writes,
    writer: writable.getWriter(),
    hold() {
      gate = deferred<void>();
    },
    release() {
      gate.resolve();
    },
  };
}

test("BatchWriter merges small pieces into one write", async () => {
  const { writes, writer } = recorder();
  const queue = [new Uint8Array([1]), new Uint8Array([2, 3]), new Uint8Array([4])];
  const batches = new BatchWriter(writer, {
    takeOutgoing: () => queue.splice(0),
    writeFailed: () => {},
  });
  await batches.flush();
  assert.deepEqual(writes, [new Uint8Array([1, 2, 3, 4])]);
});

test("BatchWriter writes large pieces as they are, without copying", async () => {
  const { writes, writer } = recorder();
  const big = new Uint8Array(100_000);
  const queue = [new Uint8Array([0x82, 127]), big, new Uint8Array([9])];
  const batches = new BatchWriter(writer, {
    takeOutgoing: () => queue.splice(0),
    writeFailed: () => {},
  });
  await batches.flush();
  assert.equal(writes.length, 3);
  assert.equal(writes[1], big);
});

test("BatchWriter collects what arrives during a write into the next batch", async () => {
  const rec = recorder();
  const queue: Uint8Array[] = [new Uint8Array([1])];
  const batches = new BatchWriter(rec.writer, {
    takeOutgoing: () => queue.splice(0),
    writeFailed: () => {},
  });
  rec.hold();
  const first = batches.flush();
  for (let i = 2; i <= 5; i++) {
    queue.push(new Uint8Array([i]));
    batches.flush();
  }
  assert.ok(batches.inFlight > 0);
  rec.release();
  await first;
  await batches.idle();
  assert.deepEqual(rec.writes, [new Uint8Array([1]), new Uint8Array([2, 3, 4, 5])]);
  assert.equal(batches.inFlight, 0);
});

test("BatchWriter reports a failed write once and rejects later flushes", async () => {
  const failing = new WritableStream<Uint8Array>({
    write() {
      throw new Error("broken pipe");
    },
  });
  const errors: unknown[] = [];
  const queue = [new Uint8Array([1])];
  const batches = new BatchWriter(failing.getWriter(), {
    takeOutgoing: () => queue.splice(0),
    writeFailed: (e) => void errors.push(e),
  });
  await assert.rejects(batches.flush(), /broken pipe/);
  await assert.rejects(batches.flush(), /broken pipe/);
  assert.equal(errors.length, 1);
});

test("BatchWriter.kick writes without a promise and coalesces with a write in progress", async () => {
  const written: Uint8Array[] = [];
  let release: (() => void) | undefined;
  const writer = new WritableStream<Uint8Array>({
    write: (chunk) => {
      written.push(chunk);
      return new Promise<void>((resolve) => release = resolve);
    },
  }).getWriter();
  const pending: Uint8Array[] = [];
  const batches = new BatchWriter(writer, {
    takeOutgoing: () => pending.splice(0),
    writeFailed: () => {},
  });
  pending.push(new Uint8Array([1]));
  batches.kick();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(written.length, 1);
  // While the first write is in progress, two more kicks go out as one batch.
  pending.push(new Uint8Array([2]));
  batches.kick();
  pending.push(new Uint8Array([3]));
  batches.kick();
  assert.equal(batches.inFlight, 1);
  release!();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(written.length, 2);
  assert.deepEqual([...written[1]], [2, 3]);
  release!();
  await batches.idle();
});

test("BatchWriter.kick after a failed write reports nothing more and writes nothing", async () => {
  const errors: unknown[] = [];
  let writes = 0;
  const writer = new WritableStream<Uint8Array>({
    write: () => {
      writes++;
      return Promise.reject(new Error("reset"));
    },
  }).getWriter();
  const pending: Uint8Array[] = [];
  const batches = new BatchWriter(writer, {
    takeOutgoing: () => pending.splice(0),
    writeFailed: (e) => void errors.push(e),
  });
  pending.push(new Uint8Array([1]));
  batches.kick();
  await batches.idle();
  pending.push(new Uint8Array([2]));
  batches.kick();
  await batches.idle();
  assert.equal(writes, 1);
  assert.equal(errors.length, 1);
});

/** A gathering writer: `writeMany` takes the chunks at once until `full`, then waits for `drain()`. */
function gatheringWriter() {
  const batches: Uint8Array[][] = [];
  let full = false;
  let drain: { resolve(): void; reject(e: unknown): void } | undefined;
  const writer = {
    write: () => Promise.reject(new Error("write() must not be used")),
    writeMany(chunks: Uint8Array[]) {
      batches.push(chunks);
      if (!full) return undefined;
      return new Promise<void>((resolve, reject) => drain = { resolve, reject });
    },
    close: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
  return {
    writer,
    batches,
    fill: () => full = true,
    drain: () => {
      full = false;
      drain?.resolve();
    },
    fail: (e: unknown) => drain?.reject(e),
  };
}

test("BatchWriter with a gathering transport writes at once, without copying chunks together", async () => {
  const t = gatheringWriter();
  const pending: Uint8Array[] = [];
  const batches = new BatchWriter(t.writer, {
    takeOutgoing: () => pending.splice(0),
    writeFailed: () => {},
  });
  const a = new Uint8Array(2000).fill(1), b = new Uint8Array(1024).fill(2);
  pending.push(a, b);
  await batches.flush();
  assert.equal(t.batches.length, 1);
  assert.equal(t.batches[0][0], a);
  assert.equal(t.batches[0][1], b);
  pending.push(new Uint8Array([3]));
  batches.kick();
  assert.equal(t.batches.length, 2, "kick wrote synchronously");
  assert.equal(batches.inFlight, 0);
});

test("BatchWriter with a gathering transport still copies runs of small pieces together", async () => {
  const t = gatheringWriter();
  const pending: Uint8Array[] = [];
  const batches = new BatchWriter(t.writer, {
    takeOutgoing: () => pending.splice(0),
    writeFailed: () => {},
  });
  const big = new Uint8Array(4096);
  const lone = new Uint8Array([9]);
  pending.push(new Uint8Array([1, 2]), new Uint8Array([3]), big, lone);
  await batches.flush();
  const [batch] = t.batches;
  assert.equal(batch.length, 3);
  assert.deepEqual([...batch[0]], [1, 2, 3]);
  assert.equal(batch[1], big);
  assert.equal(batch[2], lone);
  // A lone small piece and a large one pass untouched.
  pending.push(lone, big);
  await batches.flush();
  assert.equal(t.batches[1][0], lone);
  assert.equal(t.batches[1][1], big);
});

test("BatchWriter with a gathering transport waits for drain, then writes what piled up in one batch", async () => {
  const t = gatheringWriter();
  const pending: Uint8Array[] = [];
  const batches = new BatchWriter(t.writer, {
    takeOutgoing: () => pending.splice(0),
    writeFailed: () => {},
  });
  t.fill();
  pending.push(new Uint8Array(10));
  const first = batches.flush();
  assert.equal(batches.inFlight, 10);
  pending.push(new Uint8Array([1]));
  batches.kick();
  pending.push(new Uint8Array([2]));
  const third = batches.flush();
  assert.equal(t.batches.length, 1, "nothing more while the transport is full");
  t.drain();
  await first;
  await third;
  assert.equal(t.batches.length, 2);
  assert.deepEqual(t.batches[1].flatMap((c) => [...c]), [1, 2]);
  await batches.idle();
  assert.equal(batches.inFlight, 0);
});

test("BatchWriter with a gathering transport reports a failed write once and rejects later flushes", async () => {
  const t = gatheringWriter();
  const errors: unknown[] = [];
  const pending: Uint8Array[] = [];
  const batches = new BatchWriter(t.writer, {
    takeOutgoing: () => pending.splice(0),
    writeFailed: (e) => void errors.push(e),
  });
  t.fill();
  pending.push(new Uint8Array(1));
  const first = batches.flush();
  t.fail(new Error("reset"));
  await assert.rejects(first, /reset/);
  await assert.rejects(batches.flush(), /reset/);
  batches.kick();
  assert.equal(errors.length, 1);
  await batches.idle();
});

test("BatchWriter rejects the failed write and later flushes with the error onError returns, on every write path", async () => {
  const raw = new Error("Broken pipe (os error 32)");
  const typed = new Error("typed", { cause: raw });
  // The stream path, the gathering path waiting for drain, and a gathering write that throws.
  const streamWriter = new WritableStream<Uint8Array>({
    write() {
      throw raw;
    },
  }).getWriter();
  const waiting = gatheringWriter();
  waiting.fill();
  const throwing = {
    ...gatheringWriter().writer,
    writeMany(): undefined {
      throw raw;
    },
  };
  for (
    const [name, writer] of [["stream", streamWriter], ["drain", waiting.writer], [
      "throw",
      throwing,
    ]] as const
  ) {
    const heard: unknown[] = [];
    const pending = [new Uint8Array([1])];
    const batches = new BatchWriter(writer, {
      takeOutgoing: () => pending.splice(0),
      writeFailed: (e) => {
        heard.push(e);
        return typed;
      },
    });
    const first = batches.flush();
    if (name === "drain") waiting.fail(raw);
    await assert.rejects(first, (e) => e === typed, name);
    pending.push(new Uint8Array([2]));
    await assert.rejects(batches.flush(), (e) => e === typed, name);
    assert.deepEqual(heard, [raw], name);
  }
});
