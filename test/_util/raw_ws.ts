/**
 * A raw WebSocket client over a `node:net` socket for tests that play a
 * hostile or exact peer against our servers: the upgrade request written by
 * hand, masked frames built byte by byte, and the server's frames parsed as
 * they arrive (nothing of ours on the client side). Works on Deno, Bun and
 * Node.
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { deadline } from "./async.ts";

/** A masked client frame: first byte `b0` (FIN, RSV, opcode), the payload masked with `key`. */
export function maskedFrame(
  b0: number,
  payload: Uint8Array,
  key: Uint8Array = new Uint8Array([0x5a, 0xc3, 0x0f, 0x99]),
): Uint8Array {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const out = new Uint8Array(2 + lengthBytes + 4 + n);
  out[0] = b0;
  if (lengthBytes === 0) out[1] = 0x80 | n;
  else if (lengthBytes === 2) {
    out[1] = 0x80 | 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  const at = 2 + lengthBytes;
  out.set(key, at);
  for (let i = 0; i < n; i++) out[at + 4 + i] = payload[i] ^ key[i & 3];
  return out;
}

/** A frame from the server. */
export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

/** One upgraded raw connection. */
export interface RawWebSocket {
  socket: Socket;
  /** The 101 response head (up to and without the blank line). */
  head: string;
  /** The server's next frame, or `null` once the connection ended without one. */
  frame(): Promise<ServerFrame | null>;
  /** Resolves once the TCP connection closed. */
  closed: Promise<void>;
}

/**
 * Connects to 127.0.0.1:`port`, sends an upgrade request with `key` (and
 * `after`, bytes written in the same write, right behind the request), and
 * waits for the response head.
 */
export async function rawUpgrade(
  port: number,
  options: { key?: string; after?: Uint8Array } = {},
): Promise<RawWebSocket> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  socket.on("error", () => {});
  let buffered = new Uint8Array(0);
  let ended = false;
  let wake: (() => void) | undefined;
  socket.on("data", (chunk: Uint8Array) => {
    const joined = new Uint8Array(buffered.length + chunk.length);
    joined.set(buffered);
    joined.set(chunk, buffered.length);
    buffered = joined;
    wake?.();
  });
  const closed = new Promise<void>((resolve) =>
    socket.on("close", () => {
      ended = true;
      wake?.();
      resolve();
    })
  );
  const more = () => new Promise<void>((resolve) => (wake = resolve));
  const key = options.key ?? "dGhlIHNhbXBsZSBub25jZQ==";
  const request = new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const after = options.after ?? new Uint8Array(0);
  const first = new Uint8Array(request.length + after.length);
  first.set(request);
  first.set(after, request.length);
  socket.write(first);
  const headEnd = async () => {
    for (;;) {
      for (let i = 0; i + 3 < buffered.length; i++) {
        if (
          buffered[i] === 13 && buffered[i + 1] === 10 && buffered[i + 2] === 13 &&
          buffered[i + 3] === 10
        ) return i;
      }
      if (ended) throw new Error("The connection ended before the response head");
      await more();
    }
  };
  const end = await deadline(headEnd(), 10_000, "the response head");
  const head = new TextDecoder("latin1").decode(buffered.subarray(0, end));
  buffered = buffered.slice(end + 4);

  const frameLength = (): number => {
    if (buffered.length < 2) return -1;
    let length = buffered[1] & 0x7f;
    let at = 2;
    if (length === 126) {
      if (buffered.length < 4) return -1;
      length = (buffered[2] << 8) | buffered[3];
      at = 4;
    } else if (length === 127) {
      if (buffered.length < 10) return -1;
      length = Number(new DataView(buffered.buffer, buffered.byteOffset).getBigUint64(2));
      at = 10;
    }
    return buffered.length >= at + length ? at : -1;
  };
  const frame = async (): Promise<ServerFrame | null> => {
    for (;;) {
      const at = frameLength();
      if (at >= 0) {
        const length = at === 2
          ? buffered[1] & 0x7f
          : at === 4
          ? (buffered[2] << 8) | buffered[3]
          : Number(new DataView(buffered.buffer, buffered.byteOffset).getBigUint64(2));
        const result = {
          fin: (buffered[0] & 0x80) !== 0,
          opcode: buffered[0] & 0x0f,
          payload: buffered.slice(at, at + length),
        };
        buffered = buffered.slice(at + length);
        return result;
      }
      if (ended) return null;
      await more();
    }
  };
  return {
    socket,
    head,
    frame: () => deadline(frame(), 20_000, "a frame from the server"),
    closed,
  };
}
