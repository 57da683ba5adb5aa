/**
 * The send path of the reconnecting client: `send()` order through the send
 * interceptors, straight to the open connection when nothing waits ahead of
 * the message, otherwise into the offline queue, which the pump empties into
 * the connection once it is open.
 *
 * @module
 */
import { ACCEPTED } from "../_util/deferred.ts";
import { type ClientCore, rejected } from "./client_core.ts";
import type { Connection } from "./connection.ts";
import { ClientError } from "./errors.ts";
import { DROP, type Interceptor, runSendInterceptors } from "./interceptors.ts";
import { type Message, messageSize } from "./types.ts";

function ignore(): void {}

/**
 * Sends the client's messages (see the module doc).
 *
 * @example
 * ```ts
 * import { ClientCore } from "./client_core.ts";
 * import { OfflineQueue } from "./offline_queue.ts";
 * import { Outbound } from "./outbound.ts";
 * import { systemClock } from "@wsc/websocket-channel/client";
 *
 * const core = new ClientCore(systemClock, new OfflineQueue(systemClock));
 * const outbound = new Outbound(core, []);
 * void outbound.send("queued while not connected");
 * console.assert(core.queue?.length === 1);
 * core.queue?.clear(new Error("done"));
 * ```
 */
export class Outbound {
  #core: ClientCore;
  #interceptors: readonly Interceptor[];
  /** The next message's place in `send()` order. */
  #seq = 0;
  /** Settles after the send interceptors of the last message (they may be async). */
  #sendChain: Promise<unknown> = Promise.resolve();
  #pumping = false;

  /**
   * @param core The client's shared state.
   * @param interceptors The send hooks run on every message (first to last).
   */
  constructor(core: ClientCore, interceptors: readonly Interceptor[]) {
    this.#core = core;
    this.#interceptors = interceptors;
  }

  /** `client.send()` of a message already checked; see there. */
  send(message: Message): Promise<void> {
    const core = this.#core;
    if (core.final) return rejected(core.closedError());
    if (this.#interceptors.length === 0) return this.#dispatch(message, this.#seq++);
    const seq = this.#seq++;
    // Interceptors may be async; chaining keeps the send order.
    const transformed = this.#sendChain.then(() =>
      runSendInterceptors(this.#interceptors, message, { url: core.url ?? "" })
    );
    this.#sendChain = transformed.catch(ignore);
    const result = transformed.then((out) => out === DROP ? undefined : this.#dispatch(out, seq));
    result.catch(ignore);
    return result;
  }

  /**
   * Sends on a connection that is not open yet (`afterConnect`), through the
   * interceptors and the metrics but not the queue nor delivery tracking.
   */
  async sendOn(conn: Connection, message: Message): Promise<void> {
    const out = this.#interceptors.length === 0
      ? message
      : await runSendInterceptors(this.#interceptors, message, { url: conn.url });
    if (out === DROP) return;
    await conn.write(out);
    this.#core.recorder.recordSent(messageSize(out));
  }

  /** Writes queued messages to the open connection until the queue is empty or the connection goes. */
  async pump(): Promise<void> {
    const core = this.#core;
    const queue = core.queue;
    if (this.#pumping || !queue) return;
    this.#pumping = true;
    try {
      for (;;) {
        const conn = core.openConnection;
        if (!conn || conn.endInfo) return;
        const item = queue.shift();
        if (!item) return;
        try {
          await conn.write(item.message);
          core.recorder.recordSent(item.size);
          conn.written(item.message, item.seq, item.size);
          item.resolve();
        } catch {
          queue.requeue(item);
          return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Sends or queues one message. What it returns never counts as an
   * unhandled rejection, so `send()` needs no promise of its own for that.
   */
  #dispatch(message: Message, seq: number): Promise<void> {
    const core = this.#core;
    if (core.final) return rejected(core.closedError());
    const conn = core.openConnection;
    const queue = core.queue;
    if (conn && !this.#pumping && (!queue || queue.length === 0)) {
      // The hot path: straight to the open connection.
      const size = messageSize(message);
      const accepted = conn.write(message);
      if (accepted === ACCEPTED) {
        // Taken at once (a socket with room to spare): recorded now, with no reaction. Each
        // send() still gets a promise of its own, as callers may key or tag them.
        core.recorder.recordSent(size);
        conn.written(message, seq, size);
        return Promise.resolve();
      }
      // Accepted later or never: one reaction per message.
      const result: Promise<void> = accepted.then(
        () => {
          core.recorder.recordSent(size);
          conn.written(message, seq, size);
        },
        (error) => {
          // Only a failed write can reject `result`: mark it handled here.
          result.catch(ignore);
          // Not accepted by a dying connection: it goes out on the next one.
          if (!queue || core.final) {
            throw new ClientError(
              "WS_NOT_CONNECTED",
              "The connection closed before the message was accepted",
              { cause: error },
            );
          }
          return queue.push(message, seq);
        },
      );
      return result;
    }
    if (!queue) {
      return rejected(new ClientError("WS_NOT_CONNECTED", `Cannot send while ${core.state.type}`));
    }
    const queued = queue.push(message, seq);
    queued.catch(ignore);
    if (conn) void this.pump();
    return queued;
  }
}
