/**
 * TCP/TLS byte streams for the engine client: `Deno.connect`/`Deno.connectTls`
 * on Deno, `node:net`/`node:tls` on Node and Bun.
 *
 * The runtime's dialer (the channel's `Dialer`) for `connect()`'s engine
 * transport: `engine_connect.ts` loads it through a lazy `import()` on the
 * first engine connection, so importing `mod.ts` never evaluates a runtime
 * global.
 *
 * @module
 */
import { WebSocketError } from "../engine/errors.ts";
import { ConnectError } from "../channel/errors.ts";
import type { ByteStreams } from "../channel/stream_channel_options.ts";
import { denoConnTransport } from "./deno_conn_transport.ts";
import { socketTransport } from "./node_socket_transport.ts";
import { proxyFor } from "../handshake/http_connect.ts";
import type { ProxySetting } from "../handshake/proxy_setting.ts";
import { openTunnel, readEnv } from "./proxy_tunnel.ts";

// connect() loads this module lazily and takes its permessage-deflate codec from here too.
export { zlibCodec } from "./zlib_codec.ts";

/** Options accepted by {@linkcode openTcp}. */
export interface OpenTcpOptions {
  /** Aborts the connection attempt; the promise rejects with the signal's reason when it is an Error. */
  signal?: AbortSignal;
  /** PEM certificates trusted for `wss:` in addition to nothing else (a private CA); default: the system store. */
  caCerts?: string[];
  /**
   * An `http://` CONNECT proxy to tunnel through, or `"env"` for
   * `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (see `proxyFor`).
   */
  proxy?: ProxySetting;
}

/**
 * A connected transport: the servers' transport over the socket itself
 * ({@linkcode ByteStreams.direct}: no Web Streams, writes gathered into one
 * system call per burst and, on Node and Bun, accepted at once while the
 * socket has room), directly or through a proxy's tunnel.
 */
export interface TcpTransport extends ByteStreams {
  /** Drops the connection immediately. */
  close(): void;
}

/**
 * Opens a TCP connection (TLS for `wss:`/`https:`) to the URL's host and port,
 * directly or through the `proxy` (HTTP CONNECT, then TLS inside the tunnel).
 * Rejects with a `ConnectError` whose `code` says what failed:
 * `WS_CONNECT_REFUSED`, `WS_CONNECT_DNS`, `WS_CONNECT_TLS`, `WS_CONNECT_ABORTED`,
 * `WS_CONNECT_FAILED`, `WS_PROXY_REFUSED` (with the proxy's `status`) or
 * `WS_PROXY_FAILED`; a `TypeError` for an environment proxy that is not an
 * `http://` URL.
 *
 * @example
 * ```ts ignore
 * import { openTcp } from "./tcp_transport.ts";
 *
 * const transport = await openTcp(new URL("ws://127.0.0.1:8080/"), {
 *   signal: AbortSignal.timeout(5000),
 * });
 * transport.close();
 * ```
 */
export async function openTcp(url: URL, options: OpenTcpOptions = {}): Promise<TcpTransport> {
  const { signal } = options;
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  if (signal?.aborted) throw abortError(signal);
  const proxy = proxyFor(url, options.proxy, readEnv);
  if (proxy) {
    return await openTunnel(proxy, url, {
      signal,
      caCerts: options.caCerts,
      classify,
      aborted: abortError,
    });
  }
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno && typeof deno.connect === "function") {
    return await openDeno(deno, { hostname, port, secure, signal, caCerts: options.caCerts });
  }
  return await openNode({ hostname, port, secure, signal, caCerts: options.caCerts });
}

interface Target {
  hostname: string;
  port: number;
  secure: boolean;
  signal: AbortSignal | undefined;
  caCerts: string[] | undefined;
}

async function openDeno(deno: typeof Deno, target: Target): Promise<TcpTransport> {
  const { hostname, port, secure, signal, caCerts } = target;
  let conn: Deno.Conn;
  try {
    const pending = secure
      ? deno.connectTls(
        { hostname, port, caCerts, alpnProtocols: ["http/1.1"], signal } as Deno.ConnectTlsOptions,
      )
      : deno.connect({ hostname, port, signal } as Deno.ConnectOptions);
    conn = await pending;
    if (secure) await (conn as Deno.TlsConn).handshake();
  } catch (error) {
    if (signal?.aborted) throw abortError(signal);
    throw classify(error, hostname, port);
  }
  if (signal?.aborted) {
    conn.close();
    throw abortError(signal);
  }
  if (!secure) (conn as Deno.TcpConn).setNoDelay(true);
  // Its close() closes the connection once (a second call does nothing).
  return denoConnTransport(conn);
}

async function openNode(target: Target): Promise<TcpTransport> {
  const { hostname, port, secure, signal, caCerts } = target;
  const net = await import("node:net");
  const tls = secure ? await import("node:tls") : undefined;
  const socket = tls
    ? tls.connect({
      host: hostname,
      port,
      // RFC 6066 SNI is not sent for IP literals.
      servername: net.isIP(hostname) ? undefined : hostname,
      ca: caCerts,
      ALPNProtocols: ["http/1.1"],
    })
    : net.connect({ host: hostname, port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      socket.destroy();
      reject(abortError(signal!));
    };
    const cleanup = () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(classify(error, hostname, port));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once(secure ? "secureConnect" : "connect", () => {
      cleanup();
      resolve();
    });
  });
  return socketTransport(socket);
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof WebSocketError) return reason;
  return new ConnectError("WS_CONNECT_ABORTED", "The connection attempt was aborted", {
    cause: reason,
  });
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|ISSUER|HOSTNAME|ALTNAME|VERIFY|SIGNATURE/i;

/** Maps a runtime's connect failure onto one stable code. */
function classify(error: unknown, hostname: string, port: number): ConnectError {
  const e = error as { code?: string; name?: string; message?: string };
  const where = `${hostname}:${port}`;
  const message = String(e?.message ?? error);
  if (e?.code === "ECONNREFUSED" || e?.name === "ConnectionRefused") {
    return new ConnectError("WS_CONNECT_REFUSED", `Connection refused by ${where}`, {
      cause: error,
    });
  }
  if (
    e?.code === "ENOTFOUND" || e?.code === "EAI_AGAIN" || e?.code === "EAI_NONAME" ||
    /lookup address|getaddrinfo|Name or service not known|dns/i.test(message)
  ) {
    return new ConnectError("WS_CONNECT_DNS", `Cannot resolve host ${hostname}`, { cause: error });
  }
  if (TLS_CODES.test(e?.code ?? "") || /certificate|tls|ssl|handshake/i.test(message)) {
    return new ConnectError("WS_CONNECT_TLS", `TLS handshake with ${where} failed: ${message}`, {
      cause: error,
    });
  }
  return new ConnectError("WS_CONNECT_FAILED", `Cannot connect to ${where}: ${message}`, {
    cause: error,
  });
}
