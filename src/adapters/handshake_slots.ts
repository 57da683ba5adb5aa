/**
 * The bound on opening handshakes in progress of one `serve()` server
 * (`maxPendingHandshakes`), shared by the Deno, Bun and Node servers.
 *
 * @module
 */
import { createRejection, type HandshakeRejection } from "../handshake/server_handshake.ts";

/**
 * The answer to a connection beyond `maxPendingHandshakes`: 503 with
 * `Retry-After: 1` and `Connection: close`.
 *
 * @returns A fresh rejection.
 *
 * @example
 * ```ts
 * import { busyRejection } from "./handshake_slots.ts";
 *
 * console.assert(busyRejection().status === 503);
 * ```
 */
export function busyRejection(): HandshakeRejection {
  return createRejection(503, "Too many handshakes in progress, try again later", {
    headers: { "retry-after": "1" },
  });
}

/**
 * Counts handshakes in progress and the refusals (503) still being closed.
 * A connection takes a slot when accepted and gives it back once its
 * handshake is settled (upgraded, refused and closed, or gone). Past the
 * limit a connection is refused with 503; past the limit of refusals too,
 * it is closed at once, so a flood never holds more than twice the limit.
 *
 * @example
 * ```ts
 * import { HandshakeSlots } from "./handshake_slots.ts";
 *
 * const slots = new HandshakeSlots(1);
 * const release = slots.acquire();
 * console.assert(release !== undefined && slots.acquire() === undefined);
 * const refusal = slots.acquireRefusal(); // answer 503 with it, or close at once without
 * console.assert(refusal !== undefined && slots.acquireRefusal() === undefined);
 * release?.();
 * refusal?.();
 * console.assert(slots.pending === 0);
 * ```
 */
export class HandshakeSlots {
  readonly #limit: number;
  #pending = 0;
  #refusing = 0;

  /** @param limit Most handshakes in progress at once (and most refusals being closed). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Handshakes in progress. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Takes a handshake slot.
   *
   * @returns The function that gives it back (calling it again does
   *   nothing), or `undefined` when `limit` handshakes are in progress.
   */
  acquire(): (() => void) | undefined {
    if (!this.take()) return undefined;
    return this.#releaser(() => this.give());
  }

  /**
   * Takes a handshake slot without a function to give it back: for a caller
   * that tracks what it holds (one {@linkcode give} per `true`), with no
   * closure per connection.
   *
   * @returns `false` when `limit` handshakes are in progress.
   */
  take(): boolean {
    if (this.#pending >= this.#limit) return false;
    this.#pending++;
    return true;
  }

  /** Gives back a slot that {@linkcode take} gave. */
  give(): void {
    if (this.#pending > 0) this.#pending--;
  }

  /**
   * Takes a slot for answering a connection beyond the limit with 503.
   *
   * @returns The function that gives it back, or `undefined` when `limit`
   *   refusals are still being closed (then close the connection at once).
   */
  acquireRefusal(): (() => void) | undefined {
    if (this.#refusing >= this.#limit) return undefined;
    this.#refusing++;
    return this.#releaser(() => this.#refusing--);
  }

  #releaser(give: () => void): () => void {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      give();
    };
  }
}
