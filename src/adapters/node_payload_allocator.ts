/**
 * The engine's allocator for large buffers it overwrites completely, on Node
 * and Bun: `Buffer.allocUnsafeSlow`, which skips zero-filling (see
 * `payload_memory.ts`). Installed by the transports over `node:net` sockets
 * when they wrap one, so nothing happens at import.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { installPayloadAllocator } from "../engine/payload_memory.ts";

let installed = false;

/**
 * Installs the allocator (once; later calls do nothing).
 *
 * @example
 * ```ts
 * import { installNodePayloadAllocator } from "./node_payload_allocator.ts";
 * import { allocatePayload } from "../engine/payload_memory.ts";
 *
 * installNodePayloadAllocator();
 * const bytes = allocatePayload(2 * 1024 * 1024);
 * console.assert(bytes.constructor === Uint8Array && bytes.buffer.byteLength === bytes.length);
 * ```
 */
export function installNodePayloadAllocator(): void {
  if (installed) return;
  installed = true;
  installPayloadAllocator(allocateUnzeroed);
}

function allocateUnzeroed(size: number): Uint8Array {
  // Its own ArrayBuffer of exactly `size` bytes (not the shared pool), seen as a plain
  // Uint8Array: messages never surface as Buffers.
  const buffer = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, size);
}
