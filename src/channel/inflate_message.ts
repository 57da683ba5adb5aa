/**
 * Turns a compressed (RSV1) engine event into a message: inflate with the
 * size limit, then validate text as UTF-8.
 *
 * @module
 */
import { ProtocolError } from "../engine/errors.ts";
import type { Message, MessageDeflate } from "./channel_types.ts";

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Inflates one compressed message. Rejects with a `ProtocolError` whose
 * `closeCode` the connection must fail with: the deflate layer's (1009 past
 * `maxSize`, 1007 for corrupt data), 1007 for invalid UTF-8 text.
 *
 * @example
 * ```ts ignore
 * import { inflateMessage } from "./inflate_message.ts";
 *
 * const text = await inflateMessage(deflate, { binary: false, data: payload }, 1 << 20);
 * ```
 */
export async function inflateMessage(
  deflate: MessageDeflate,
  event: { binary: boolean; data: Uint8Array },
  maxSize: number,
): Promise<Message> {
  let data: Uint8Array;
  try {
    data = await deflate.decompress(event.data, { maxSize });
  } catch (error) {
    throw inflateError(error);
  }
  return toMessage(data, event.binary);
}

function inflateError(error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const code = (error as { closeCode?: unknown })?.closeCode;
  return new ProtocolError(
    "WS_INFLATE_FAILED",
    `Cannot inflate message: ${error instanceof Error ? error.message : String(error)}`,
    typeof code === "number" ? code : 1007,
  );
}

function toMessage(data: Uint8Array, binary: boolean): Message {
  if (binary) return data;
  try {
    return strictDecoder.decode(data);
  } catch {
    // RFC 6455 §8.1: invalid UTF-8 in a text message MUST fail the connection (1007).
    throw new ProtocolError("WS_INVALID_UTF8", "Text message is not valid UTF-8", 1007);
  }
}

/**
 * Inflates a compressed message on the calling thread when its codec can
 * (see {@linkcode MessageDeflate.decompressSync}); `undefined` when it
 * cannot, then use {@linkcode inflateMessage}.
 *
 * @throws {ProtocolError} 1009 past `maxSize`, 1007 for corrupt data or invalid UTF-8.
 */
export function inflateMessageSync(
  deflate: MessageDeflate,
  event: { binary: boolean; data: Uint8Array },
  maxSize: number,
): Message | undefined {
  if (deflate.decompressSync === undefined) return undefined;
  let data: Uint8Array | undefined;
  try {
    data = deflate.decompressSync(event.data, { maxSize });
  } catch (error) {
    throw inflateError(error);
  }
  return data === undefined ? undefined : toMessage(data, event.binary);
}
