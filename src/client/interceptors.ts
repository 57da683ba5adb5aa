/**
 * Send/receive middlewares arranged as an onion: outgoing messages pass the
 * interceptors in order, incoming ones in reverse order, so the interceptor
 * closest to the wire is the last on the way out and the first on the way in.
 *
 * @module
 */
import { checkSendable, describeValue } from "../_util/sendable.ts";
import type { Message } from "./types.ts";

/**
 * Returned by an interceptor to drop the message (nothing further sees it).
 *
 * @example Keep application heartbeats out of the application's stream
 * ```ts
 * import { DROP, type Interceptor } from "@wsc/websocket-channel/client";
 *
 * const dropPongs: Interceptor = {
 *   receive: (message) => (message === "pong" ? DROP : message),
 * };
 * console.assert(dropPongs.receive?.("pong", {} as never) === DROP);
 * ```
 */
export const DROP: unique symbol = Symbol("websocket-channel.drop");

/**
 * What an interceptor hook returns: a (possibly new) message to pass on,
 * {@linkcode DROP} to drop it, or `undefined`/nothing to pass the message on
 * unchanged (so an observe-only hook never drops by forgetting to return).
 */
export type InterceptorResult = Message | typeof DROP | undefined | void;

/** Context given to every hook. */
export interface InterceptorContext {
  /** The URL of the connection the message belongs to (or will be sent on). */
  readonly url: string;
}

/**
 * A middleware. Both hooks are optional; a missing hook passes that direction
 * through unchanged. Hooks may be async; order is kept either way.
 *
 * @example Compress-like transform out, logging in
 * ```ts
 * import { DROP, type Interceptor } from "@wsc/websocket-channel/client";
 *
 * const tagger: Interceptor = {
 *   send: (message) => typeof message === "string" ? `v1:${message}` : message,
 *   receive: (message) => message === "heartbeat" ? DROP : undefined,
 * };
 * console.assert(typeof tagger.send === "function");
 * ```
 */
export interface Interceptor {
  /** Sees (and may replace or drop) each outgoing message. */
  send?(
    message: Message,
    context: InterceptorContext,
  ): InterceptorResult | Promise<InterceptorResult>;
  /** Sees (and may replace or drop) each incoming message. */
  receive?(
    message: Message,
    context: InterceptorContext,
  ): InterceptorResult | Promise<InterceptorResult>;
}

/**
 * Runs `message` through the send hooks (first to last). Resolves with the
 * message to send, or {@linkcode DROP}. Stays synchronous-fast when there are
 * no interceptors.
 *
 * @example
 * ```ts
 * import { runSendInterceptors } from "./interceptors.ts";
 *
 * const out = await runSendInterceptors([{ send: (m) => `${m}!` }], "hi", { url: "ws://x" });
 * console.assert(out === "hi!");
 * ```
 */
export async function runSendInterceptors(
  interceptors: readonly Interceptor[],
  message: Message,
  context: InterceptorContext,
): Promise<Message | typeof DROP> {
  let current: Message = message;
  for (let i = 0; i < interceptors.length; i++) {
    const hook = interceptors[i].send;
    if (!hook) continue;
    const result = await hook.call(interceptors[i], current, context);
    if (result === DROP) return DROP;
    if (result !== undefined) current = checkResult(result);
  }
  return current;
}

/**
 * Runs `message` through the receive hooks (last to first).
 *
 * @example
 * ```ts
 * import { runReceiveInterceptors } from "./interceptors.ts";
 *
 * const order: number[] = [];
 * await runReceiveInterceptors(
 *   [{ receive: () => void order.push(0) }, { receive: () => void order.push(1) }],
 *   "m",
 *   { url: "ws://x" },
 * );
 * console.assert(order.join() === "1,0");
 * ```
 */
export async function runReceiveInterceptors(
  interceptors: readonly Interceptor[],
  message: Message,
  context: InterceptorContext,
): Promise<Message | typeof DROP> {
  let current: Message = message;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const hook = interceptors[i].receive;
    if (!hook) continue;
    const result = await hook.call(interceptors[i], current, context);
    if (result === DROP) return DROP;
    if (result !== undefined) current = checkResult(result);
  }
  return current;
}

function checkResult(result: unknown): Message {
  if (typeof result === "string" || result instanceof Uint8Array) {
    // The shared check, for a view over a SharedArrayBuffer.
    if (typeof result !== "string") checkSendable(result, "An interceptor");
    return result;
  }
  throw new TypeError(
    `An interceptor must return a string, a Uint8Array, DROP or undefined (pass through); got ${
      describeValue(result)
    }`,
  );
}
