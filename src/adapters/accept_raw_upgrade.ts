/**
 * The server side of the opening handshake over a raw byte-stream pair (an
 * accepted TCP connection): read the request head with limits and a
 * deadline, verify it, answer 101 or the HTTP error, and report what follows.
 *
 * @module
 */
import { Http1HeadReader } from "../handshake/http1_codec.ts";
import { encodeResponseHead, parseRequestLine } from "../handshake/http1_codec.ts";
import { createUpgradeResponseHeaders, verifyUpgradeRequest } from "../handshake/server_handshake.ts";
import type { ByteStreams } from "../channel/stream_channel.ts";
import type { AcceptedUpgrade } from "./server_connections.ts";
import type { UpgradeOptions } from "./serve_options.ts";

/** Milliseconds a client has to send its complete request head (slowloris bound). */
export const HEAD_TIMEOUT = 10_000;

const encoder = new TextEncoder();

/**
 * Performs the opening handshake on an accepted connection. Resolves with the
 * accepted upgrade (the streams are released, ready for the channel), or
 * `undefined` after answering an HTTP error (or when the client went away);
 * the caller then closes the connection.
 *
 * @example
 * ```ts ignore
 * import { acceptRawUpgrade } from "./accept_raw_upgrade.ts";
 *
 * const accepted = await acceptRawUpgrade(streams, { secure: false, protocols: ["chat"] });
 * if (!accepted) close();
 * ```
 */
export async function acceptRawUpgrade(
  streams: ByteStreams,
  options: UpgradeOptions & { secure: boolean; headTimeout?: number },
): Promise<AcceptedUpgrade | undefined> {
  const reader = streams.readable.getReader();
  const writer = streams.writable.getWriter();
  const headReader = new Http1HeadReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), options.headTimeout ?? HEAD_TIMEOUT);
  });
  const answer = async (status: number, headers: Headers, body = "") => {
    try {
      await writer.write(encodeResponseHead(status, headers));
      if (body) await writer.write(encoder.encode(body));
    } catch { /* the client is gone */ }
  };
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), timeout]);
      if (next === "timeout") {
        await answer(408, new Headers({ connection: "close", "content-length": "0" }));
        return undefined;
      }
      if (next.done) return undefined;
      let parsed;
      try {
        parsed = headReader.push(next.value);
      } catch (error) {
        const status = (error as { status?: number }).status ?? 400;
        await answer(status, new Headers({ connection: "close", "content-length": "0" }));
        return undefined;
      }
      if (!parsed) continue;
      let line;
      try {
        line = parseRequestLine(parsed.head.startLine);
      } catch {
        await answer(400, new Headers({ connection: "close", "content-length": "0" }));
        return undefined;
      }
      const { headers } = parsed.head;
      let request: Request;
      try {
        const target = line.target.startsWith("/") ? line.target : "/";
        request = new Request(`${options.secure ? "https" : "http"}://${headers.get("host") ?? "localhost"}${target}`, {
          headers,
        });
      } catch {
        await answer(400, new Headers({ connection: "close", "content-length": "0" }));
        return undefined;
      }
      const verdict = await verifyUpgradeRequest(
        { method: line.method, headers, url: line.target, httpVersion: line.version },
        { protocols: options.protocols, origins: options.origins },
      );
      if (!verdict.ok) {
        const { status, headers: answerHeaders, body } = verdict.response;
        await answer(status, answerHeaders, body);
        return undefined;
      }
      const responseHeaders = await createUpgradeResponseHeaders(verdict.key, { protocol: verdict.protocol });
      await writer.write(encodeResponseHead(101, responseHeaders));
      return {
        request,
        protocol: verdict.protocol,
        head: parsed.rest.byteLength > 0 ? parsed.rest : undefined,
      };
    }
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
    writer.releaseLock();
  }
}
