/**
 * The sans-I/O RFC 6455 engine, for embedding WebSocket framing where you own
 * the bytes: {@linkcode Protocol} turns the peer's bytes into events and your
 * messages into bytes, synchronously, with no timers or sockets. Also the
 * pieces for running a channel over byte streams you own: {@linkcode StreamChannel}
 * with its reader/writer contract, the opening handshake over raw streams
 * ({@linkcode clientOverStreams}, {@linkcode serverOverStreams}) and
 * {@linkcode generateKey}.
 *
 * @example A client and a server engine talking through arrays
 * ```ts
 * import { Protocol } from "@wsc/websocket-channel/engine";
 *
 * const client = new Protocol({ role: "client" });
 * const server = new Protocol({ role: "server" });
 * client.sendText("hi");
 * const events = client.takeOutgoing().flatMap((chunk) => server.receive(chunk));
 * console.assert(events[0].type === "text");
 * ```
 *
 * @module
 */

export { CloseCode, isValidApplicationCloseCode, isValidWireCloseCode } from "./close_code.ts";
export {
  type ClosePayload,
  encodeClosePayload,
  MAX_CLOSE_REASON_BYTES,
  parseClosePayload,
} from "./close_payload.ts";
export { ProtocolError, WebSocketError, type WebSocketErrorOptions } from "./errors.ts";
export { createFrame, type Frame, type FrameHeader, type Role } from "./frame.ts";
export {
  DEFAULT_MAX_PAYLOAD_LENGTH,
  FrameDecoder,
  type FrameDecoderOptions,
} from "./frame_decoder.ts";
export {
  type EncodedFrame,
  encodeFrame,
  type EncodeFrameOptions,
  frameHeaderSize,
} from "./frame_encoder.ts";
export { applyMask, type ApplyMaskOptions, MaskKeyPool } from "./mask.ts";
export {
  type AssembledMessage,
  DEFAULT_MAX_FRAGMENTS,
  maxCompressedSize,
  MessageAssembler,
  type MessageAssemblerOptions,
} from "./message_assembler.ts";
export { isControlOpcode, isKnownOpcode, Opcode } from "./opcode.ts";
export {
  Protocol,
  type ProtocolEvent,
  type ProtocolOptions,
  type ProtocolState,
  type SendOptions,
} from "./protocol.ts";
export { Utf8Validator } from "./utf8_validator.ts";

// A channel over byte streams you own, and its opening handshake.
export type { MessageDeflate } from "../channel/channel_types.ts";
export type { ByteReader, ByteWriter, ChunkTarget } from "../channel/stream_channel_options.ts";
export type { AnswerPingMessages, PingMessages } from "../channel/ping_messages.ts";
export {
  StreamChannel,
  type StreamChannelOpening,
  type StreamChannelSettings,
} from "../channel/stream_channel.ts";
export {
  clientOverStreams,
  type ClientOverStreamsOptions,
} from "../channel/client_over_streams.ts";
export type { HandshakeLimits } from "../channel/handshake_streams.ts";
export {
  serverOverStreams,
  type ServerOverStreamsOptions,
  type ServerUpgrade,
  type UpgradeRequestInfo,
} from "../channel/server_over_streams.ts";
export { generateKey } from "../handshake/accept_key.ts";
// A permessage-deflate codec of your own (the `codec` of the `compression` option).
export type { DeflateCodec, RawDeflater, RawInflater } from "../deflate/deflate_codec.ts";
