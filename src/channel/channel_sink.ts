/**
 * The `WebSocketSink` shared by every channel implementation: a real
 * `WritableStream` (so `pipeTo()` works) with `add()` and a validating
 * `close(code, reason)`.
 *
 * @module
 */
import { validateCloseArguments } from "../engine/close_payload.ts";
import { handled } from "../_util/deferred.ts";
import { checkSendable } from "../_util/sendable.ts";
import { InvalidStateError } from "./errors.ts";
import { isBeingDelivered } from "./inbox.ts";
import type { Sendable, WebSocketSink } from "./channel_types.ts";

/** What a channel implementation plugs into {@linkcode createSink}. */
export interface SinkHandlers {
  /** Sends one message; resolves once the transport accepted it. */
  add(message: Sendable): Promise<void>;
  /**
   * Sends one message written through the stream (a writer or `pipeTo`). May
   * return `undefined` before the transport accepted it, while the channel's
   * own backlog is small, so that consecutive messages can share one write.
   */
  write(message: Sendable): Promise<void> | undefined;
  /** Runs the close handshake (arguments already validated). */
  close(code: number | undefined, reason: string | undefined): Promise<void>;
  /** The stream was aborted (e.g. a piped source failed). */
  abort(reason: unknown): Promise<void>;
  /**
   * Called synchronously by `sink.close()` once the arguments are valid,
   * before queued messages drain, so `closeCode` is set at once.
   */
  closing?(code: number | undefined, reason: string | undefined): void;
}

/** A sink plus the function its channel calls when the connection ends. */
export interface SinkHandle {
  /** The sink to hand to users. */
  sink: WebSocketSink;
  /** Errors the writable side (further writes reject with `error`); idempotent. */
  error(error: unknown): void;
}

/**
 * Closes through a public sink with any code valid on the wire: a sink
 * that allows only 1000 and 3000–4999 (and throws for the rest, as ours
 * do) gets 1000 and the reason instead. Never throws; the promise may
 * reject as the sink's does.
 *
 * @example
 * ```ts
 * import { closeSink } from "./channel_sink.ts";
 * import { createChannelPair } from "@wsc/websocket-channel/testing";
 *
 * const [client, server] = createChannelPair();
 * await closeSink(server.sink, 1001, "going away"); // sent as 1000
 * console.assert((await client.closed).code === 1000);
 * ```
 */
export function closeSink(
  sink: { close(code?: number, reason?: string): Promise<void> },
  code: number,
  reason: string,
): Promise<void> {
  try {
    return sink.close(code, reason);
  } catch {
    try {
      return sink.close(1000, reason);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** Messages the sink's own queue holds before `writer.ready` waits. */
const SINK_QUEUE_MESSAGES = 16;

/**
 * Builds a {@linkcode WebSocketSink} over `handlers`.
 *
 * @example
 * ```ts
 * import { createSink } from "./channel_sink.ts";
 *
 * const sent: unknown[] = [];
 * const { sink } = createSink({
 *   add: async (message) => void sent.push(message),
 *   write: (message) => void sent.push(message),
 *   close: async () => {},
 *   abort: async () => {},
 * });
 * await sink.add("hello");
 * console.assert(sent.length === 1);
 * ```
 */
export function createSink(handlers: SinkHandlers): SinkHandle {
  const state = {
    controller: undefined as WritableStreamDefaultController | undefined,
    /** The writable side still accepts writes (not closed, aborted or errored). */
    open: true,
    pending: [undefined, undefined] as [number | undefined, string | undefined],
  };
  const sink = new ChannelSink(handlers, state);
  return {
    sink,
    error(error) {
      if (!state.open) return;
      state.open = false;
      state.controller?.error(error);
    },
  };
}

type SinkState = {
  controller: WritableStreamDefaultController | undefined;
  open: boolean;
  pending: [number | undefined, string | undefined];
};

class ChannelSink extends WritableStream<Sendable> implements WebSocketSink {
  readonly #handlers: SinkHandlers;
  readonly #state: SinkState;

  constructor(handlers: SinkHandlers, state: SinkState) {
    super({
      start(controller) {
        state.controller = controller;
      },
      write(message) {
        try {
          checkSendable(message, "A write to the sink");
        } catch (error) {
          // The refused chunk errors the writable (as any WritableStream
          // whose sink fails a write); sink.add() and sink.close() still work.
          state.open = false;
          throw error;
        }
        return handlers.write(message);
      },
      close() {
        state.open = false;
        return handlers.close(...state.pending);
      },
      abort(reason) {
        state.open = false;
        return handlers.abort(reason);
      },
    }, new CountQueuingStrategy({ highWaterMark: SINK_QUEUE_MESSAGES }));
    this.#handlers = handlers;
    this.#state = state;
  }

  add(message: Sendable): Promise<void> {
    // A programming error: thrown at the call, never sent as garbage (a message handed
    // to listen() and sent on is one of ours).
    if (!isBeingDelivered(message)) checkSendable(message, "sink.add");
    // A writer or pipe may still hold queued messages; sending past them would reorder.
    if (this.locked) {
      return Promise.reject(
        new InvalidStateError("Cannot add a message: the sink is locked by a writer or pipeTo()"),
      );
    }
    return this.#handlers.add(message);
  }

  override close(code?: number, reason?: string): Promise<void> {
    // Invalid arguments are programming errors: thrown at the call.
    const wireCode = validateCloseArguments(code, reason);
    this.#handlers.closing?.(wireCode, reason);
    if (this.locked || !this.#state.open) return this.#handlers.close(wireCode, reason);
    // Through the stream machinery, so that messages already queued go first.
    this.#state.pending = [wireCode, reason];
    return handled(super.close());
  }
}
