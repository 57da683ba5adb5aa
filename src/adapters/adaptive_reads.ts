/**
 * The read buffers of a transport whose socket reads into a buffer it is
 * given (`Deno.Conn`): 1 KiB while idle, doubling while reads fill it, up to
 * 256 KiB, halving after a run of small reads; past the smallest size, reads
 * go into slabs one after another, and reads at the smallest size go into
 * the connection's own 1 KiB buffer one after another.
 * Bytes handed out stay valid: no part of a buffer is read into twice.
 *
 * @module
 */

/** Smallest read buffer: what an idle connection holds. */
const MIN_READ = 1024;
/** Largest read buffer, reached only while reads keep filling it. */
const MAX_READ = 256 * 1024;
/**
 * Small reads in a row before the buffer halves. Halving after one small read
 * made a peer whose messages are just over the buffer (1 KiB and a header)
 * oscillate: a full read doubled it, the few bytes left over halved it again,
 * and every message took two reads and a frame spanning them.
 */
const SHRINK_AFTER = 8;
/**
 * Past the smallest size, reads go into a slab this many times the read
 * size, one after another, so a read allocates (and zero-fills) nothing
 * until the slab is used up. A fresh buffer per read cost a zero-filled
 * allocation of the whole buffer each time, however few bytes came: with
 * 64 KiB messages the buffer sat at 256 KiB, and its allocation and the
 * garbage collections it caused were 19 % of the server's profile.
 */
const SLAB_READS = 4;
/** Largest slab: two reads at the largest size. */
const MAX_SLAB = 2 * MAX_READ;
/** A slab's rest shorter than the read size is read into if it holds this many times the last read. */
const REST_FACTOR = 1.25;

/**
 * Reads at the smallest size go into the connection's own 1 KiB buffer one
 * after another (8-byte aligned, as frames are), and what each got is handed
 * out as a view of it, so a 20-byte message takes neither a buffer of its
 * own nor a copy: a `slice()` per read gave every message an `ArrayBuffer`
 * of its own, whose backing store is allocated, tracked and freed by the
 * garbage collector one by one (half the time of each young-generation
 * collection went to sweeping them, echoing 20-byte messages). A new buffer
 * is taken once the rest is shorter than this. A message's `buffer` holds
 * only its own connection's bytes (a buffer shared by every connection
 * would show a message's `buffer` other clients' data).
 */
const SMALL_REST = 256;

/**
 * Where a transport's next read goes and what it got: extended by the
 * transport (one object per connection), which calls
 * {@linkcode AdaptiveReads.nextBuffer} before each read and
 * {@linkcode AdaptiveReads.took} after it.
 *
 * @example
 * ```ts ignore
 * class MyReader extends AdaptiveReads {
 *   async read(): Promise<Uint8Array | null> {
 *     const buffer = this.nextBuffer();
 *     const n = await conn.read(buffer);
 *     return n === null ? null : this.took(buffer, n);
 *   }
 * }
 * ```
 */
export abstract class AdaptiveReads {
  #size = MIN_READ;
  /**
   * The buffer reads go into one after another, and the bytes used in it:
   * at the smallest size the connection's own 1 KiB, past it a slab of
   * several reads.
   */
  #slab: Uint8Array | undefined;
  #slabUsed = 0;
  /** Bytes the last read got. */
  #lastRead = 0;
  /** Reads in a row that used less than a quarter of the buffer. */
  #smallReads = 0;

  /**
   * Where the next read goes: at the smallest size, the rest of the
   * connection's 1 KiB buffer (what an idle connection holds; see
   * {@linkcode SMALL_REST}) or a new one; past it, the next `size` bytes of
   * the slab, or its shorter rest (see {@linkcode REST_FACTOR}), or a new
   * slab. Bytes handed out stay valid: no part of a buffer is read into
   * twice. A buffer the application detached (transferred a message's
   * `buffer`) is replaced: it reads as having no room left.
   */
  protected nextBuffer(): Uint8Array {
    const size = this.#size;
    const slab = this.#slab;
    if (slab !== undefined) {
      const used = this.#slabUsed;
      const left = slab.byteLength - used;
      if (size === MIN_READ) {
        // Only a 1 KiB buffer: a connection gone quiet keeps no slab of larger reads.
        if (slab.byteLength === MIN_READ && left >= SMALL_REST) return slab.subarray(used);
      } else {
        if (left >= size) return slab.subarray(used, used + size);
        // Short of the read size, the rest is still read into when it holds the
        // last read and a quarter more: past the size, the slab's end was left
        // unused, and with reads that take what the peer sent so far (less than
        // the size), slabs went in for 1.6 times the bytes read.
        if (left >= MIN_READ && left >= this.#lastRead * REST_FACTOR) return slab.subarray(used);
      }
    }
    this.#slabUsed = 0;
    const length = size === MIN_READ ? MIN_READ : Math.min(size * SLAB_READS, MAX_SLAB);
    return (this.#slab = new Uint8Array(length)).subarray(0, size);
  }

  /**
   * The `n` bytes a read brought into `buffer` (from
   * {@linkcode AdaptiveReads.nextBuffer}); adapts the read size to how full
   * reads come.
   */
  protected took(buffer: Uint8Array, n: number): Uint8Array {
    const size = this.#size;
    // The next read starts past these bytes; at the smallest size 8-byte aligned, as frames are.
    this.#slabUsed = size === MIN_READ ? (this.#slabUsed + n + 7) & ~7 : this.#slabUsed + n;
    this.#lastRead = n;
    if (n === size) {
      this.#smallReads = 0;
      if (size < MAX_READ) this.#size = size * 2;
    } else if (n >= size / 4 || n === buffer.length) this.#smallReads = 0;
    else if (size > MIN_READ && ++this.#smallReads >= SHRINK_AFTER) {
      this.#smallReads = 0;
      this.#size = size / 2;
    }
    return n === buffer.length ? buffer : buffer.subarray(0, n);
  }
}
