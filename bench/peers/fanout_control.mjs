// The publishing side of the fan-out benchmark, shared by every server (ours, ws, Bun native).
// Control protocol, text messages on the /ctl connection:
//   "go <size> <window> <subscribers> [<burst>]"
//                                       wait until that many subscribers are in, reset the counters,
//                                       reply "started", publish <window> messages of <size> bytes;
//                                       with <burst> > 0, at most that many per event-loop turn
//                                       (setImmediate between), so publishes cannot share a write
//   "ack <k>"                           the client has seen messages 0..k-1 on every subscriber:
//                                       publish until <window> messages are in flight again
//   "stop"                              stop publishing, reply "stopped <published> <stats JSON>"
// The window bounds what is queued in the server (window × subscribers frames), so the numbers
// measure delivery, not buffering; the client checks that every subscriber got every message.
import { setImmediate } from "node:timers";

/** The topic every subscriber joins. */
export const TOPIC = "bench";

/**
 * @typedef {object} PublisherHooks
 * @property {(payload: Uint8Array) => void} publish Publishes one message to every subscriber.
 * @property {() => number} subscribers Subscribers connected now.
 * @property {() => unknown} [stats] Server counters sent back with "stopped".
 * @property {(size: number) => Uint8Array} [payload] Builds the payload (a Buffer for ws).
 * @property {(size: number, subscribers: number) => void | Promise<void>} [started] After "go".
 * @property {() => void | Promise<void>} [stopped] After "stop", before the reply.
 */

export class Publisher {
  /** @param {PublisherHooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.window = 0;
    this.published = 0;
    this.acked = 0;
    this.running = false;
    this.burst = 0;
    this.scheduled = false;
    /** @type {Uint8Array} */
    this.data = new Uint8Array(0);
  }

  /**
   * Handles one control message.
   * @param {string} text
   * @returns {Promise<string | undefined>} The reply, if any.
   */
  async command(text) {
    const [cmd, a, b, c, d] = text.split(" ");
    if (cmd === "ack") {
      this.acked = Number(a);
      this.#pump();
      return undefined;
    }
    if (cmd === "go") {
      const size = Number(a);
      const wanted = Number(c);
      const end = Date.now() + 60_000;
      while (this.hooks.subscribers() < wanted) {
        if (Date.now() > end) return `error ${this.hooks.subscribers()} of ${wanted} subscribers`;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      this.data = this.hooks.payload ? this.hooks.payload(size) : new Uint8Array(size).fill(0x61);
      this.window = Number(b);
      this.burst = Number(d ?? 0);
      this.published = 0;
      this.acked = 0;
      this.running = true;
      await this.hooks.started?.(size, wanted);
      queueMicrotask(() => this.#pump());
      return "started";
    }
    if (cmd === "stop") {
      this.running = false;
      await this.hooks.stopped?.();
      return `stopped ${this.published} ${JSON.stringify(this.hooks.stats?.() ?? {})}`;
    }
    return `error unknown command ${cmd}`;
  }

  #pump() {
    let left = this.burst > 0 ? this.burst : Infinity;
    while (this.running && this.published < this.acked + this.window) {
      if (left-- === 0) {
        if (!this.scheduled) {
          this.scheduled = true;
          setImmediate(() => {
            this.scheduled = false;
            this.#pump();
          });
        }
        return;
      }
      this.hooks.publish(this.data);
      this.published++;
    }
  }
}
