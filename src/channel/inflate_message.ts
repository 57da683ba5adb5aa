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
    if (error instanceof ProtocolError) throw error;
    const code = (error as { closeCode?: unknown })?.closeCode;
    throw new ProtocolError(
      "WS_INFLATE_FAILED",
      `Cannot inflate message: ${error instanceof Error ? error.message : String(error)}`,
      typeof code === "number" ? code : 1007,
    );
  }
  if (event.binary) return data;
  try {
    return strictDecoder.decode(data);
  } catch {
    // RFC 6455 §8.1: invalid UTF-8 in a text message MUST fail the connection (1007).
    throw new ProtocolError("WS_INVALID_UTF8", "Text message is not valid UTF-8", 1007);
  }
}
