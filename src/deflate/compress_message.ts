/**
 * RFC 7692 §7.2.1 compression of one whole message with the platform
 * `CompressionStream('deflate-raw')`, in a fresh stream per message (the
 * platform has no sync flush, so no context can be carried over).
 *
 * What the runtimes emit for one `write(data)` + `close()` (checked by
 * test/deflate/compress_message_test.ts on every runtime):
 *
 * - Node 20.20 and Bun 1.4.5: one raw-deflate stream ending in a BFINAL=1
 *   block, e.g. `"a"` → `4b 04 00`. We append one `0x00` octet: the RFC 7692
 *   §7.2.3.4 form ("Using a DEFLATE Block with BFINAL Set to 1"; its example
 *   is `f3 48 cd c9 c9 07 00` + `00`). Receivers append `00 00 ff ff` and
 *   stop at the final block.
 * - Deno 2.9.6: each write is sync-flushed and `close()` adds an empty final
 *   fixed block: `"a"` → `4a 04 00 00 00 ff ff 03 00`. We drop the `03 00`
 *   block and the `00 00 ff ff` tail, which yields exactly the §7.2.1 payload
 *   a zlib `Z_SYNC_FLUSH` sender produces (`4a 04 00`), no BFINAL block.
 *
 * Which form a runtime produces is probed once per process by compressing an
 * empty message; a payload is only trimmed when the probe showed the
 * sync-flush form AND the payload ends with it, so an incompressible message
 * that happens to end in those bytes can never be damaged.
 *
 * @module
 */

const SYNC_FINAL_TAIL = [0x00, 0x00, 0xff, 0xff, 0x03, 0x00];

/** Runs one platform compression of `data` and returns the raw output. */
async function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  // The write/close promises are observed through the reader; catch them so
  // a failure can never surface as an unhandled rejection.
  writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function endsWith(data: Uint8Array, tail: number[]): boolean {
  if (data.length < tail.length) return false;
  const start = data.length - tail.length;
  for (let i = 0; i < tail.length; i++) if (data[start + i] !== tail[i]) return false;
  return true;
}

let syncFlushForm: Promise<boolean> | undefined;

/**
 * Whether this runtime's `CompressionStream` sync-flushes each write and
 * closes with an empty final block (Deno) rather than ending in a BFINAL
 * data block (Node, Bun, browsers). Probed once, then cached.
 *
 * @example
 * ```ts
 * import { compressorSyncFlushes } from "./compress_message.ts";
 *
 * console.assert(typeof (await compressorSyncFlushes()) === "boolean");
 * ```
 */
export function compressorSyncFlushes(): Promise<boolean> {
  syncFlushForm ??= deflateRaw(new Uint8Array(0)).then(
    (out) => out.length === 7 && out[0] === 0x00 && endsWith(out, SYNC_FINAL_TAIL),
    () => false,
  );
  return syncFlushForm;
}

/** A compressed message payload and the form its deflate data ended in. */
export interface CompressedMessage {
  /** The RFC 7692 payload (send it with RSV1 on the first frame). */
  payload: Uint8Array;
  /**
   * True when the data ends in a BFINAL=1 block (the RFC 7692 §7.2.3.4
   * form). A peer that keeps our context in one long-lived inflater stops
   * at such a block, so only peers that agreed to `*_no_context_takeover`
   * for our direction may receive it.
   */
  final: boolean;
}

/**
 * Compresses one message and tells which form the payload has: the §7.2.1
 * sync-flush form (Deno, for data its compressor did not store in a final
 * block) or the §7.2.3.4 BFINAL form (Node, Bun, browsers; Deno for large
 * incompressible data, which it ends with a final stored block).
 *
 * @example
 * ```ts
 * import { compressMessageForm } from "./compress_message.ts";
 *
 * const { payload, final } = await compressMessageForm(new TextEncoder().encode("Hello"));
 * console.assert(payload.length > 0 && typeof final === "boolean");
 * ```
 */
export async function compressMessageForm(data: Uint8Array): Promise<CompressedMessage> {
  const [out, syncForm] = await Promise.all([deflateRaw(data), compressorSyncFlushes()]);
  if (syncForm && endsWith(out, SYNC_FINAL_TAIL)) {
    // RFC 7692 §7.2.1 step 3: "Remove 4 octets (that are 0x00 0x00 0xff 0xff)
    // from the tail end" — after dropping the empty final block `03 00`.
    return { payload: out.subarray(0, out.length - SYNC_FINAL_TAIL.length), final: false };
  }
  // RFC 7692 §7.2.3.4: a BFINAL=1 block followed by one octet holding the
  // header bits of an empty non-final stored block (BFINAL=0, BTYPE=00).
  const payload = new Uint8Array(out.length + 1);
  payload.set(out);
  return { payload, final: true };
}

/**
 * Compresses one message into an RFC 7692 payload (to be sent with RSV1 on
 * its first frame). The result never depends on earlier messages.
 *
 * @example
 * ```ts
 * import { compressMessage } from "./compress_message.ts";
 *
 * const payload = await compressMessage(new TextEncoder().encode("Hello"));
 * console.assert(payload.length > 0 && payload.length < 12);
 * ```
 */
export async function compressMessage(data: Uint8Array): Promise<Uint8Array> {
  return (await compressMessageForm(data)).payload;
}
