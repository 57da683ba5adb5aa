/**
 * permessage-deflate (RFC 7692) on the platform `CompressionStream` /
 * `DecompressionStream`: negotiation, per-message (de)compression and the
 * per-connection {@linkcode PerMessageDeflate} object.
 *
 * @module
 */

export * from "./compression_options.ts";
export * from "./deflate_params.ts";
export * from "./compress_message.ts";
export * from "./decompress_message.ts";
export * from "./concurrency_limiter.ts";
export * from "./extension_header.ts";
export * from "./permessage_deflate.ts";
