/**
 * The one deadline of a connection attempt, for both transports of
 * `connect()`: the caller's `signal` and the `connectTimeout`, whichever
 * comes first.
 *
 * @module
 */
import { ConnectError } from "./errors.ts";

/** Options of {@linkcode watchConnectAttempt}. */
export interface WatchConnectAttemptOptions {
  /** The caller's signal: aborting it ends the attempt with `WS_CONNECT_ABORTED`. */
  signal?: AbortSignal | undefined;
  /** Milliseconds until the attempt ends with `WS_CONNECT_TIMEOUT`. */
  timeout: number;
  /** Ends the attempt with the given error; may be called more than once, the first call wins. */
  abort(error: ConnectError): void;
}

/**
 * Ends a connection attempt on the caller's signal or after the timeout.
 * Returns the cleanup to call once the attempt settled (open or failed),
 * which stops the timer and forgets the signal.
 *
 * @param url The URL, for the timeout's message.
 * @param options The signal, the timeout and how to end the attempt.
 * @returns The cleanup.
 *
 * @example
 * ```ts ignore
 * import { watchConnectAttempt } from "./connect_attempt.ts";
 *
 * const attempt = new AbortController();
 * const release = watchConnectAttempt("ws://localhost:8080", {
 *   timeout: 5000,
 *   abort: (error) => attempt.abort(error),
 * });
 * release();
 * ```
 */
export function watchConnectAttempt(
  url: string | URL,
  options: WatchConnectAttemptOptions,
): () => void {
  const { signal, timeout, abort } = options;
  const onAbort = () =>
    abort(
      new ConnectError("WS_CONNECT_ABORTED", "The connection attempt was aborted", {
        cause: signal?.reason,
      }),
    );
  const timer = setTimeout(() => {
    abort(new ConnectError("WS_CONNECT_TIMEOUT", `No connection to ${url} within ${timeout} ms`));
  }, timeout);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  return () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
}
