import { test } from "node:test";
import assert from "node:assert/strict";
import { ReadPump, type ReadPumpHooks } from "../../src/channel/read_pump.ts";
import type { ByteReader, ChunkTarget } from "../../src/channel/stream_channel_options.ts";

function source(chunks: number[][], end: "close" | Error = "close") {
  let reads = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      reads++;
      const next = chunks.shift();
      if (next) controller.enqueue(new Uint8Array(next));
      else if (end === "close") controller.close();
      else controller.error(end);
    },
  }, { highWaterMark: 0 });
  return { reader: readable.getReader(), reads: () => reads };
}

function hooks(overrides: Partial<ReadPumpHooks> = {}) {
  const got: number[] = [];
  let settle!: (how: string) => void;
  const finished = new Promise<string>((resolve) => (settle = resolve));
  const deadline = setTimeout(() => settle("timeout"), 2000);
  finished.then(() => clearTimeout(deadline));
  const all: ReadPumpHooks = {
    receive: (chunk) => void got.push(...chunk),
    full: () => false,
    closed: () => false,
    onEnd: () => settle("end"),
    onError: (error) => settle(`error:${(error as Error).message}`),
    ...overrides,
  };
  return { all, got, finished };
}

test("ReadPump feeds the head first, then every chunk, then reports the end", async () => {
  const { reader } = source([[2], [3, 4]]);
  const { all, got, finished } = hooks();
  new ReadPump(all).start(reader, new Uint8Array([1]));
  assert.equal(await finished, "end");
  assert.deepEqual(got, [1, 2, 3, 4]);
});

test("ReadPump reports a read error", async () => {
  const { reader } = source([[1]], new Error("reset"));
  const { all, finished } = hooks();
  new ReadPump(all).start(reader);
  assert.equal(await finished, "error:reset");
});

test("ReadPump waits while the application is full and reads again after wake()", async () => {
  let full = true;
  const { reader, reads } = source([[1]]);
  const { all, got, finished } = hooks({ full: () => full });
  const pump = new ReadPump(all);
  pump.start(reader);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(reads(), 0);
  full = false;
  pump.wake();
  assert.equal(await finished, "end");
  assert.deepEqual(got, [1]);
});

test("ReadPump drain() reads even while the application is full", async () => {
  const { reader } = source([[7]]);
  const { all, got, finished } = hooks({ full: () => true });
  const pump = new ReadPump(all);
  pump.start(reader);
  pump.drain();
  assert.equal(await finished, "end");
  assert.deepEqual(got, [7]);
});

test("ReadPump waits for a pending receive before reading on", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const { reader, reads } = source([[1], [2]]);
  const { all, got, finished } = hooks({
    receive: (chunk) => {
      got.push(...chunk);
      return chunk[0] === 1 ? held : undefined;
    },
  });
  new ReadPump(all).start(reader);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(reads(), 1);
  release();
  assert.equal(await finished, "end");
  assert.deepEqual(got, [1, 2]);
});

test("ReadPump stops without reporting once the channel ended", async () => {
  let ended = false;
  const { reader } = source([[1], [2]]);
  const events: string[] = [];
  const pump = new ReadPump({
    receive: () => {
      ended = true;
    },
    full: () => false,
    closed: () => ended,
    onEnd: () => events.push("end"),
    onError: () => events.push("error"),
  });
  pump.start(reader);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(events, []);
});

test("ReadPump waits while too much waits to be written, until those writes settle or drain()", async () => {
  let owed = true;
  let written!: () => void;
  const { reader, reads } = source([[1], [2]]);
  const { all, got, finished } = hooks({
    writing: () => owed ? new Promise<void>((resolve) => written = resolve) : undefined,
  });
  const pump = new ReadPump(all);
  pump.start(reader);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(reads(), 0, "nothing read while our writes are behind");
  written(); // some bytes went out, but still too many wait
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(reads(), 0, "asks again after each settled write");
  owed = false;
  written();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(got, [1, 2]);
  assert.equal(await finished, "end");

  // A channel that is closing reads regardless (to find the peer's close).
  const stuck = source([[3]]);
  const closing = hooks({ writing: () => new Promise<void>(() => {}) });
  const drained = new ReadPump(closing.all);
  drained.start(stuck.reader);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(stuck.reads(), 0);
  drained.drain();
  assert.equal(await closing.finished, "end");
  assert.deepEqual(closing.got, [3]);
});

/** A transport in push mode, driven by hand. */
class PushReader implements ByteReader {
  target!: ChunkTarget;
  paused = false;
  readonly closed = new Promise<void>(() => {});
  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    throw new Error("a transport in push mode is never read");
  }
  cancel(): Promise<void> {
    return Promise.resolve();
  }
  attach(target: ChunkTarget): void {
    this.target = target;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test("ReadPump in push mode: chunks and the end that came during a pending receive follow it, in order", async () => {
  const got: string[] = [];
  let release!: () => void;
  const reader = new PushReader();
  const pump = new ReadPump({
    receive: (chunk) => {
      got.push(`chunk ${chunk[0]}`);
      if (chunk[0] === 1) return new Promise<void>((resolve) => (release = resolve));
      return undefined;
    },
    full: () => false,
    closed: () => false,
    onEnd: () => got.push("end"),
    onError: () => got.push("error"),
  });
  pump.start(reader);
  reader.target.chunk(new Uint8Array([1]));
  assert.equal(reader.paused, true);
  reader.target.chunk(new Uint8Array([2]));
  reader.target.chunk(new Uint8Array([3]));
  reader.target.end();
  assert.deepEqual(got, ["chunk 1"]);
  release();
  await tick();
  assert.deepEqual(got, ["chunk 1", "chunk 2", "chunk 3", "end"]);
});

test("ReadPump in push mode: drain() during a writing hold reads on without waiting for the writes", async () => {
  const got: string[] = [];
  const reader = new PushReader();
  let settle!: () => void;
  const pump = new ReadPump({
    receive: (chunk) => void got.push(`chunk ${chunk[0]}`),
    full: () => false,
    closed: () => false,
    writing: () => new Promise<void>((resolve) => (settle = resolve)),
    onEnd: () => got.push("end"),
    onError: () => got.push("error"),
  });
  pump.start(reader);
  reader.target.chunk(new Uint8Array([1]));
  assert.equal(reader.paused, true);
  reader.target.chunk(new Uint8Array([2]));
  pump.drain();
  await tick();
  assert.deepEqual(got, ["chunk 1", "chunk 2"]);
  assert.equal(reader.paused, false);
  settle();
  await tick();
  reader.target.chunk(new Uint8Array([3]));
  reader.target.end();
  assert.deepEqual(got, ["chunk 1", "chunk 2", "chunk 3", "end"]);
});

test("ReadPump in push mode takes no chunk while the application is full, however often it is woken", async () => {
  const got: number[] = [];
  const reader = new PushReader();
  let unread = 0;
  const pump = new ReadPump({
    receive: (chunk) => {
      got.push(chunk[0]);
      unread++;
    },
    full: () => unread >= 1,
    closed: () => false,
    onEnd: () => {},
    onError: () => {},
  });
  pump.start(reader);
  reader.target.chunk(new Uint8Array([1]));
  reader.target.chunk(new Uint8Array([2])); // came before the pause took effect
  reader.target.chunk(new Uint8Array([3]));
  assert.deepEqual(got, [1]);
  unread = 0; // the application read one message; two wakes (two reads)
  pump.wake();
  pump.wake();
  await tick();
  assert.deepEqual(got, [1, 2], "a chunk was taken while the application was full");
  assert.equal(reader.paused, true);
  unread = 0;
  pump.wake();
  await tick();
  assert.deepEqual(got, [1, 2, 3]);
});

test("ReadPump in push mode offers the channel's read target and takes bytes read into it", async () => {
  const got: string[] = [];
  const reader = new PushReader();
  const view = new Uint8Array(8);
  let release!: () => void;
  const pump = new ReadPump({
    receive: (chunk) => void got.push(`chunk ${chunk[0]}`),
    readTarget: () => view,
    receiveInTarget: (length) => {
      got.push(`in target ${length}`);
      return new Promise<void>((resolve) => (release = resolve));
    },
    full: () => false,
    closed: () => false,
    onEnd: () => got.push("end"),
    onError: () => got.push("error"),
  });
  pump.start(reader);
  assert.equal(reader.target.readTarget!(), view);
  reader.target.chunkInTarget!(5);
  // Held while that receive is under way: no target is offered, the transport is paused.
  assert.equal(reader.paused, true);
  assert.equal(reader.target.readTarget!(), undefined);
  reader.target.chunk(new Uint8Array([2]));
  assert.deepEqual(got, ["in target 5"]);
  release();
  await tick();
  assert.deepEqual(got, ["in target 5", "chunk 2"]);
  assert.equal(reader.paused, false);
  reader.target.end();
  assert.equal(reader.target.readTarget!(), undefined, "none after the end");
  assert.deepEqual(got, ["in target 5", "chunk 2", "end"]);
});
