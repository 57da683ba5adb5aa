/**
 * Memory for writes that join several pieces into one (a frame's header
 * with its payload) on a transport whose write keeps reading the bytes
 * until it completes (`Deno.Conn.write`): consecutive ranges of slabs
 * shared by every connection, given back when the write is over.
 *
 * A server answering many connections in one turn of the event loop has as
 * many joined writes under way at once (200 connections echoing 16 KiB
 * messages: 200 writes, which complete together in a later turn). A small
 * pool of fixed join buffers ran dry there, and every write allocated (and
 * zero-filled) a 64 KiB buffer of its own, four times the bytes it sent:
 * with the garbage collections that brought, the largest cost in the
 * server's profile. A range here is as long as the write, and a slab whose
 * writes are all over is used again from its start.
 *
 * @module
 */

/** Size of a slab (a range longer than this gets a slab of its own length). */
const SLAB_SIZE = 256 * 1024;
/**
 * Slabs kept for reuse beside the current one once their writes are over;
 * past this, a slab freed is left to the garbage collector. Memory kept is
 * at most what was in use at once, up to (1 + this) × {@linkcode SLAB_SIZE}.
 */
const SPARE_SLABS = 8;

/** One slab: its bytes, how far ranges were taken, and the ranges still in use. */
class Slab {
  readonly bytes: Uint8Array;
  used = 0;
  users = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }
}

/** A range taken from a {@linkcode JoinArena}: write into `bytes`, then give it back. */
export interface JoinLease {
  /** The range, exactly as long as asked for. Its contents are unspecified. */
  readonly bytes: Uint8Array;
  /** @internal The slab the range lies in. */
  readonly slab: unknown;
}

/**
 * Hands out ranges of shared slabs, one after another; a slab is used again
 * once every range taken from it was given back.
 *
 * @example
 * ```ts
 * import { JoinArena } from "./join_arena.ts";
 *
 * const arena = new JoinArena();
 * const lease = arena.take(5);
 * lease.bytes.set([1, 2, 3, 4, 5]);
 * // … write lease.bytes, and once the write is over:
 * arena.give(lease);
 * console.assert(arena.take(5).bytes.byteOffset === 0); // the slab, used again from its start
 * ```
 */
export class JoinArena {
  readonly #slabSize: number;
  readonly #spareKept: number;
  #current: Slab | undefined;
  readonly #spare: Slab[] = [];

  /**
   * @param options `slabSize` (bytes per slab) and `spareSlabs` (slabs kept
   * for reuse beside the current one).
   */
  constructor(options: { slabSize?: number; spareSlabs?: number } = {}) {
    this.#slabSize = options.slabSize ?? SLAB_SIZE;
    this.#spareKept = options.spareSlabs ?? SPARE_SLABS;
  }

  /** Takes a range of `size` bytes; give it back with {@linkcode give} once its write is over. */
  take(size: number): JoinLease {
    let slab = this.#current;
    if (slab === undefined || slab.bytes.length - slab.used < size) {
      // The current slab stays with its ranges in use: freed when the last comes back.
      const spare = size <= this.#slabSize ? this.#spare.pop() : undefined;
      slab = this.#current = spare ?? new Slab(Math.max(this.#slabSize, size));
    }
    const at = slab.used;
    slab.used = at + size;
    slab.users++;
    return { bytes: slab.bytes.subarray(at, at + size), slab };
  }

  /** Gives a range back: its bytes are no longer read. */
  give(lease: JoinLease): void {
    const slab = lease.slab as Slab;
    if (--slab.users > 0) return;
    // No range of it is in use: it starts over, as the current slab or as a spare.
    slab.used = 0;
    if (slab !== this.#current && this.#spare.length < this.#spareKept) this.#spare.push(slab);
  }

  /** Slabs kept for reuse beside the current one. */
  get spareSlabs(): number {
    return this.#spare.length;
  }
}
