/**
 * The reading side of a server handshake over a raw byte-stream pair, and
 * the staged close of a refused connection (RFC 7230 §6.6): answer, shut our
 * side, read and drop what the client still sends until it closes too, then
 * close the transport, so the answer is not lost to a TCP reset.
 *
 * @module
 */
import type { Http1HeadResult } from "../handshake/http1_codec.ts";
import { encodeRejection, type HandshakeRejection } from "../handshake/server_handshake.ts";
import {
  dropStreams,
  type HandshakeReader,
  type HandshakeWriter,
  readHead,
} from "./handshake_streams.ts";
import type { ByteStreams } from "./stream_channel_options.ts";

/**
 * Milliseconds a refused connection is kept after its answer while the
 * client's remaining bytes are read and dropped (see {@linkcode RequestInput.linger}).
 * Every raw-socket server lingers this long.
 */
export const REFUSAL_LINGER_MS = 2000;
/** Bytes read and dropped after a refusal before the connection is closed anyway. */
const LINGER_BYTES = 1024 * 1024;

/**
 * The reading side of a server handshake: the request head, and after a
 * refusal the lingering read that drops what the client still sends. One
 * read at a time: a read left pending by {@linkcode RequestInput.fail} is
 * taken over by {@linkcode RequestInput.linger}.
 *
 * @example
 * ```ts
 * import { RequestInput } from "./request_input.ts";
 *
 * const readable = new ReadableStream<Uint8Array>({
 *   start(controller) {
 *     controller.enqueue(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
 *     controller.close();
 *   },
 * });
 * const input = new RequestInput(readable.getReader());
 * const { head } = await input.head(1024);
 * console.assert(head.startLine === "GET / HTTP/1.1");
 * await input.linger(100); // the client closed: returns at once
 * ```
 */
export class RequestInput {
  readonly #reader: HandshakeReader;
  #pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  #stopped = false;
  #fail: ((error: unknown) => void) | undefined;

  /** @param reader The connection's reader, or a transport's direct reader. */
  constructor(reader: HandshakeReader) {
    this.#reader = reader;
  }

  #read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const read = this.#reader.read();
    this.#pending = read;
    const clear = () => {
      if (this.#pending === read) this.#pending = undefined;
    };
    read.then(clear, clear);
    return read;
  }

  /** Reads one head; rejects on a bad or oversized head, an early end, or {@linkcode fail}. */
  head(maxHeadSize: number | undefined): Promise<Http1HeadResult> {
    return new Promise<Http1HeadResult>((resolve, reject) => {
      this.#fail = reject;
      readHead({ read: () => this.#read() }, maxHeadSize, () => this.#stopped)
        .then(resolve, reject);
    });
  }

  /** Stops waiting for the head: it rejects with `error` (a read in progress stays pending). */
  fail(error: unknown): void {
    this.#stopped = true;
    this.#fail?.(error);
  }

  /**
   * After our answer and our half-close, reads and drops the client's bytes
   * until it closes its side, `LINGER_BYTES` were dropped or `ms` passed.
   * Closing a socket with unread input makes the kernel send a reset, and a
   * reset can destroy the answer before the client reads it (RFC 7230 §6.6).
   */
  async linger(ms: number): Promise<void> {
    this.#stopped = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    const drained = (async () => {
      let dropped = 0;
      for (;;) {
        const { value, done } = await (this.#pending ?? this.#read());
        if (done || (dropped += value.byteLength) > LINGER_BYTES) return;
      }
    })().catch(() => {});
    try {
      await Promise.race([drained, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends reading (and a read still pending); closes a direct transport. */
  cancel(): void {
    this.#stopped = true;
    this.#reader.cancel().catch(() => {});
  }

  /** Hands the reader back (the head was read, no read is pending). */
  release(): void {
    this.#reader.releaseLock?.();
  }
}

/**
 * Sends a refusal, shuts our side, lingers (see {@linkcode RequestInput.linger})
 * and closes the connection: a refused upgrade must not stay open. Bounded
 * by {@linkcode REFUSAL_LINGER_MS} in all, even when the write cannot
 * complete (a TLS peer that never finishes its handshake). Never rejects.
 *
 * @param streams The connection.
 * @param writer Its writer (or a transport's direct writer).
 * @param input Its reading side.
 * @param rejection The answer, or its bytes.
 *
 * @example
 * ```ts
 * import { createByteStreamPair } from "@wsc/websocket-channel/testing";
 * import { createRejection } from "../handshake/server_handshake.ts";
 * import { refuse, RequestInput } from "./request_input.ts";
 *
 * const [client, server] = createByteStreamPair();
 * const input = new RequestInput(server.readable.getReader());
 * const done = refuse(server, server.writable.getWriter(), input, createRejection(503, "Busy"));
 * const reader = client.readable.getReader();
 * const { value } = await reader.read();
 * console.assert(new TextDecoder().decode(value).startsWith("HTTP/1.1 503 "));
 * await client.writable.close(); // the client closes its side: the linger ends
 * await done;
 * ```
 */
export async function refuse(
  streams: ByteStreams,
  writer: HandshakeWriter,
  input: RequestInput,
  rejection: HandshakeRejection | Uint8Array,
): Promise<void> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, REFUSAL_LINGER_MS, false);
  });
  let answered = false;
  const sent = (async () => {
    await writer.write(rejection instanceof Uint8Array ? rejection : encodeRejection(rejection));
    await writer.close();
    return true;
  })().catch(() => false);
  try {
    answered = await Promise.race([sent, expired]);
    if (answered) await input.linger(REFUSAL_LINGER_MS - (Date.now() - started));
  } finally {
    clearTimeout(timer);
  }
  // Answered and shut: ending the reading side closes the transport without a reset
  // of what the client has yet to read (an in-memory pair's close() would drop it).
  input.cancel();
  if (!answered) dropStreams(streams, writer);
}
