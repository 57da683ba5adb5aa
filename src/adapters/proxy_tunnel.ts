/**
 * A TCP tunnel through an HTTP CONNECT proxy for the engine client, on
 * `Deno.connect` (+ `Deno.startTls` for `wss:`) or `node:net` (+ `node:tls`
 * over the tunnel, on Node and Bun). The CONNECT request and the reading of
 * the proxy's answer are the sans-I/O `src/handshake/http_connect.ts`.
 *
 * @module
 */
import { ConnectError } from "../channel/errors.ts";
import { HandshakeError } from "../handshake/errors.ts";
import {
  type ConnectResponse,
  ConnectResponseReader,
  encodeConnectRequest,
} from "../handshake/http_connect.ts";
import type { Socket } from "node:net";
import type { ByteStreams } from "../channel/stream_channel_options.ts";
import { denoConnTransport } from "./deno_conn_transport.ts";
import { socketTransport } from "./node_socket_transport.ts";

/**
 * A connection through the proxy (the shape of `openTcp`'s result): the
 * socket read and written directly, as `openTcp` gives a direct connection.
 */
export interface Tunnel extends ByteStreams {
  /** Drops the connection immediately. */
  close(): void;
}

/** How `openTcp` reports a failed connection to the proxy itself (refused, DNS, …). */
export type Classify = (error: unknown, hostname: string, port: number) => ConnectError;

/** Options of {@linkcode openTunnel}. */
export interface TunnelOptions {
  /** Aborts the attempt (CONNECT and TLS included); rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Extra trusted CA certificates for `wss:` through the tunnel. */
  caCerts?: string[];
  /** Turns a failure to reach the proxy into a typed `ConnectError`. */
  classify: Classify;
  /** The error for an aborted attempt. */
  aborted(signal: AbortSignal): Error;
}

/**
 * Reads an environment variable: `Deno.env` (unset when env access is not
 * granted) or `process.env`.
 *
 * @param name The variable.
 * @returns Its value, `undefined` when unset or unreadable.
 *
 * @example
 * ```ts ignore
 * import { readEnv } from "./proxy_tunnel.ts";
 *
 * console.log(readEnv("HTTPS_PROXY"));
 * ```
 */
export function readEnv(name: string): string | undefined {
  const g = globalThis as {
    Deno?: { env: { get(name: string): string | undefined } };
    process?: { env: Record<string, string | undefined> };
  };
  try {
    return g.Deno ? g.Deno.env.get(name) : g.process?.env[name];
  } catch {
    return undefined; // --allow-env not granted: as if unset
  }
}

/**
 * Opens a tunnel to `target`'s host and port through `proxy` with CONNECT,
 * then TLS inside it for `wss:` (SNI and certificate checks for the target
 * host). Rejects with a `ConnectError`: `WS_PROXY_REFUSED` with the proxy's
 * `status` for a non-2xx answer (407 when it wants credentials),
 * `WS_PROXY_FAILED` for a malformed or oversized answer or a proxy that
 * closed, the classified code when the proxy cannot be reached,
 * `WS_CONNECT_TLS` for the target's TLS, or the abort reason.
 *
 * @example
 * ```ts ignore
 * import { openTunnel } from "./proxy_tunnel.ts";
 *
 * const tunnel = await openTunnel(new URL("http://proxy:3128"), new URL("wss://example.com/"), {
 *   classify: (error) => error as never,
 *   aborted: () => new Error("aborted"),
 * });
 * tunnel.close();
 * ```
 */
export function openTunnel(proxy: URL, target: URL, options: TunnelOptions): Promise<Tunnel> {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno && typeof deno.connect === "function") return tunnelDeno(deno, proxy, target, options);
  return tunnelNode(proxy, target, options);
}

function isSecure(target: URL): boolean {
  return target.protocol === "wss:" || target.protocol === "https:";
}

function proxyPort(proxy: URL): number {
  return proxy.port ? Number(proxy.port) : 80;
}

function bare(hostname: string): string {
  return hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
}

/** The answer, or the typed error for a refusal or for bytes that are not a tunnel. */
function checkAnswer(answer: ConnectResponse, proxy: URL, target: URL): void {
  if (answer.status < 200 || answer.status > 299) {
    throw new ConnectError(
      "WS_PROXY_REFUSED",
      `The proxy ${proxy.host} refused the tunnel to ${target.host} with ${answer.status} ${answer.statusText}`
        .trimEnd(),
      { status: answer.status },
    );
  }
  // Neither the proxy nor the server speaks first: bytes here are not a tunnel.
  if (answer.rest.byteLength > 0) throw proxyFailed(proxy, "sent bytes after its 2xx answer");
}

function proxyFailed(proxy: URL, what: string, cause?: unknown): ConnectError {
  return new ConnectError("WS_PROXY_FAILED", `The proxy ${proxy.host} ${what}`, { cause });
}

/** Feeds the answer reader, mapping a bad head to `WS_PROXY_FAILED`. */
function feed(reader: ConnectResponseReader, chunk: Uint8Array, proxy: URL) {
  try {
    return reader.push(chunk);
  } catch (error) {
    if (error instanceof HandshakeError) {
      throw proxyFailed(proxy, `answered CONNECT with an invalid head: ${error.message}`, error);
    }
    throw error;
  }
}

async function tunnelDeno(
  deno: typeof Deno,
  proxy: URL,
  target: URL,
  options: TunnelOptions,
): Promise<Tunnel> {
  const { signal } = options;
  const hostname = bare(proxy.hostname);
  const port = proxyPort(proxy);
  let conn: Deno.TcpConn;
  try {
    conn = await deno.connect({ hostname, port, signal } as Deno.ConnectOptions);
  } catch (error) {
    if (signal?.aborted) throw options.aborted(signal);
    throw options.classify(error, hostname, port);
  }
  const onAbort = () => {
    try {
      conn.close();
    } catch { /* closed */ }
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const writer = conn.writable.getWriter();
    await writer.write(encodeConnectRequest(target, proxy));
    writer.releaseLock();
    const reader = new ConnectResponseReader();
    const buffer = new Uint8Array(4096);
    let answer: ConnectResponse | undefined;
    while (!answer) {
      const n = await conn.read(buffer);
      if (n === null) throw proxyFailed(proxy, "closed the connection before answering CONNECT");
      answer = feed(reader, buffer.subarray(0, n), proxy);
    }
    checkAnswer(answer, proxy, target);
    if (!isSecure(target)) {
      conn.setNoDelay(true);
      return denoConnTransport(conn);
    }
    const tls = await deno.startTls(conn, {
      hostname: bare(target.hostname),
      caCerts: options.caCerts,
      alpnProtocols: ["http/1.1"],
    } as Deno.StartTlsOptions);
    try {
      await tls.handshake();
    } catch (error) {
      tls.close();
      throw new ConnectError(
        "WS_CONNECT_TLS",
        `TLS handshake with ${target.host} through the proxy failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return denoConnTransport(tls);
  } catch (error) {
    onAbort();
    if (signal?.aborted) throw options.aborted(signal);
    if (error instanceof ConnectError) throw error;
    throw proxyFailed(proxy, `failed during CONNECT: ${(error as Error).message}`, error);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

async function tunnelNode(proxy: URL, target: URL, options: TunnelOptions): Promise<Tunnel> {
  const { signal } = options;
  const net = await import("node:net");
  const hostname = bare(proxy.hostname);
  const port = proxyPort(proxy);
  const socket = net.connect({ host: hostname, port });
  socket.setNoDelay(true);
  const reader = new ConnectResponseReader();
  // One wait for each step: connected, answered, TLS established.
  const step = <T>(
    run: (done: (value: T) => void, fail: (error: unknown) => void) => () => void,
    onError: (error: unknown) => unknown,
  ) =>
    new Promise<T>((resolve, reject) => {
      let stop = () => {};
      const finish = (settle: () => void) => {
        stop();
        signal?.removeEventListener("abort", onAbort);
        socket.off("error", onSocketError);
        settle();
      };
      const onAbort = () => finish(() => reject(options.aborted(signal!)));
      const onSocketError = (error: unknown) => finish(() => reject(onError(error)));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("error", onSocketError);
      stop = run(
        (value) => finish(() => resolve(value)),
        (error) => finish(() => reject(error)),
      );
    });
  try {
    await step<void>((done) => {
      socket.once("connect", () => done());
      return () => socket.removeAllListeners("connect");
    }, (error) => options.classify(error, hostname, port));
    const answer = await step<ConnectResponse>((done, fail) => {
      const onData = (chunk: Uint8Array) => {
        try {
          const result = feed(reader, chunk, proxy);
          if (result) done(result);
        } catch (error) {
          fail(error);
        }
      };
      const onEnd = () =>
        fail(proxyFailed(proxy, "closed the connection before answering CONNECT"));
      socket.on("data", onData);
      socket.once("end", onEnd);
      socket.write(encodeConnectRequest(target, proxy));
      return () => {
        socket.off("data", onData);
        socket.off("end", onEnd);
        socket.pause();
      };
    }, (error) => proxyFailed(proxy, `failed during CONNECT: ${(error as Error).message}`, error));
    checkAnswer(answer, proxy, target);
    if (!isSecure(target)) return socketTransport(socket);
    const tls = await import("node:tls");
    const host = bare(target.hostname);
    const secure = tls.connect({
      socket,
      // RFC 6066 SNI is not sent for IP literals.
      servername: net.isIP(host) ? undefined : host,
      ca: options.caCerts,
      ALPNProtocols: ["http/1.1"],
    });
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(options.aborted(signal!));
      signal?.addEventListener("abort", onAbort, { once: true });
      secure.once("secureConnect", () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      secure.once("error", (error: Error) => {
        signal?.removeEventListener("abort", onAbort);
        reject(
          new ConnectError(
            "WS_CONNECT_TLS",
            `TLS handshake with ${target.host} through the proxy failed: ${error.message}`,
            { cause: error },
          ),
        );
      });
    }).catch((error) => {
      secure.destroy();
      throw error;
    });
    secure.setNoDelay(true);
    return socketTransport(secure as unknown as Socket);
  } catch (error) {
    socket.destroy();
    throw error;
  }
}
