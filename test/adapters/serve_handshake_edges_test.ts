/**
 * `serve()` of the running runtime against hostile and odd handshakes from
 * raw `node:net` clients: repeated, empty-element, odd-case and malformed
 * handshake fields, Host and Origin variants, each answered with the same
 * status on Deno, Bun and Node; idle connections each expired at their own
 * deadline (not before, whichever leaves first); a client that leaves while
 * `onUpgrade` runs still holding its handshake slot until the check settles;
 * and `close()` with handshakes pending ending every connection without a
 * timer left behind.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { connect as netConnect, type Socket } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { connect as tlsConnect } from "node:tls";
import { testCertificates } from "./fixtures/certs.ts";
import { deadline, delay, waitFor } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { serveHere } from "../_util/serve_here.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

interface HeadParts {
  host?: string | null;
  upgrade?: string | null;
  connection?: string | null;
  key?: string | null;
  version?: string | null;
  target?: string;
  method?: string;
  extra?: string;
}

/** An upgrade request head; a `null` part leaves its field out, `extra` adds lines. */
function head(parts: HeadParts = {}): string {
  const field = (name: string, value: string | null | undefined, fallback: string) =>
    value === null ? "" : `${name}: ${value ?? fallback}\r\n`;
  return `${parts.method ?? "GET"} ${parts.target ?? "/p?q=1"} HTTP/1.1\r\n` +
    field("Host", parts.host, "127.0.0.1") +
    field("Upgrade", parts.upgrade, "websocket") +
    field("Connection", parts.connection, "Upgrade") +
    field("Sec-WebSocket-Key", parts.key, KEY) +
    field("Sec-WebSocket-Version", parts.version, "13") +
    (parts.extra ?? "") + "\r\n";
}

/** A raw client: everything the server sends, and when it closed. */
function rawClient(port: number) {
  const started = performance.now();
  const socket: Socket = netConnect({ host: "127.0.0.1", port });
  let text = "";
  socket.on("data", (chunk: Uint8Array) => (text += new TextDecoder("latin1").decode(chunk)));
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) =>
    socket.on("close", () => resolve(performance.now() - started))
  );
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return {
    socket,
    connected,
    closed,
    get text() {
      return text;
    },
    /** The status of the response, once its head is complete. */
    async status(what = "a response head") {
      await waitFor(() => text.includes("\r\n\r\n") || socket.destroyed, {
        timeout: 10_000,
        interval: 5,
        what,
      });
      return Number(text.slice(9, 12));
    },
  };
}

/** Sends `request` (Latin-1) in one write; the response head, its status and fields. */
async function exchange(port: number, request: string) {
  const client = rawClient(port);
  const bytes = new Uint8Array(request.length);
  for (let i = 0; i < request.length; i++) bytes[i] = request.charCodeAt(i);
  client.socket.write(bytes);
  try {
    const status = await client.status(`the answer to ${JSON.stringify(request.slice(0, 60))}`);
    const end = client.text.indexOf("\r\n\r\n");
    return { status, head: client.text.slice(0, end).toLowerCase(), text: client.text };
  } finally {
    client.socket.destroy();
  }
}

/**
 * Requests every runtime answers alike (where a runtime's own HTTP parser
 * decides first, e.g. obs-fold or a tab around a Connection token, the
 * statuses differ and the case is left out), with the status and, for a
 * 101, the subprotocol and extension chosen.
 */
const CASES: Array<[name: string, request: string, status: number, fields?: string[]]> = [
  ["a plain request", head(), 101],
  ["a repeated Upgrade field", head({ extra: "Upgrade: websocket\r\n" }), 101],
  ["Upgrade listing another protocol first", head({ upgrade: "h2c, websocket" }), 101],
  ["Upgrade with empty elements and spaces", head({ upgrade: ", ,websocket , " }), 101],
  ["Upgrade in odd case", head({ upgrade: "WeBsOcKeT" }), 101],
  ["Upgrade with a version", head({ upgrade: "websocket/13" }), 400],
  ["Connection: keep-alive, Upgrade", head({ connection: "keep-alive, Upgrade" }), 101],
  ["Connection in two fields", head({ extra: "Connection: keep-alive\r\n" }), 101],
  ["Connection with empty elements", head({ connection: ",,upgrade,," }), 101],
  ["a repeated key, the same", head({ extra: `Sec-WebSocket-Key: ${KEY}\r\n` }), 400],
  [
    "a repeated key, another",
    head({ extra: "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" }),
    400,
  ],
  ["a key of 10 bytes", head({ key: "dGhlIHNhbXBsZQ==" }), 400],
  ["a key that is not base64", head({ key: "!!!!!!!!!!!!!!!!!!!!!!==" }), 400],
  ["a key of 24 characters without padding", head({ key: "dGhlIHNhbXBsZSBub25jZQAA" }), 400],
  ["a key with a Latin-1 byte", head({ key: "dGhlIHNhbXBsZSBub25jZ\xe9==" }), 400],
  ["no key", head({ key: null }), 400],
  ["a repeated version", head({ extra: "Sec-WebSocket-Version: 13\r\n" }), 426],
  ["version 8", head({ version: "8" }), 426],
  ["version 013", head({ version: "013" }), 426],
  [
    "protocols in two fields",
    head({ extra: "Sec-WebSocket-Protocol: x\r\nSec-WebSocket-Protocol: superchat\r\n" }),
    101,
    ["sec-websocket-protocol: superchat"],
  ],
  ["protocols with empty elements", head({ extra: "Sec-WebSocket-Protocol: , chat ,\r\n" }), 400],
  ["a protocol that is not a token", head({ extra: "Sec-WebSocket-Protocol: ch@t\r\n" }), 400],
  ["an empty protocol field", head({ extra: "Sec-WebSocket-Protocol: \r\n" }), 400],
  [
    "extensions in two fields",
    head({
      extra: "Sec-WebSocket-Extensions: x-none\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    }),
    101,
    ["sec-websocket-extensions: permessage-deflate"],
  ],
  [
    "a malformed extension",
    head({ extra: "Sec-WebSocket-Extensions: permessage-deflate; =x\r\n" }),
    400,
  ],
  ["a Latin-1 byte in another field", head({ extra: "X-Name: caf\xe9\r\n" }), 101],
  ["a field of 8,000 bytes", head({ extra: `X-Long: ${"a".repeat(8000)}\r\n` }), 101],
  ["a Host with a port", head({ host: "127.0.0.1:8080" }), 101],
  ["an IPv6 Host", head({ host: "[::1]:8080" }), 101],
  ["an unclosed IPv6 Host", head({ host: "[::1" }), 400],
  ["no Host", head({ host: null }), 400],
  ["two Hosts", head({ extra: "Host: other\r\n" }), 400],
  ["a Host with a port past 65535", head({ host: "a:99999" }), 400],
  ["a Host with userinfo", head({ host: "u@a" }), 400],
  ["an allowed Origin", head({ extra: "Origin: https://ok.example\r\n" }), 101],
  ["an allowed Origin in upper case", head({ extra: "Origin: HTTPS://OK.EXAMPLE\r\n" }), 101],
  ["another Origin", head({ extra: "Origin: https://evil.example\r\n" }), 403],
  ["Origin: null", head({ extra: "Origin: null\r\n" }), 403],
  [
    "the allowed Origin twice",
    head({ extra: "Origin: https://ok.example\r\nOrigin: https://ok.example\r\n" }),
    403,
  ],
  ["an Origin that is no URL", head({ extra: "Origin: ::::\r\n" }), 403],
  ["an Origin with a path", head({ extra: "Origin: https://ok.example/\r\n" }), 403],
  ["HTTP/1.0", head().replace("HTTP/1.1", "HTTP/1.0"), 505],
  ["POST", head({ method: "POST" }), 405],
  ["an absolute-form target", head({ target: "http://127.0.0.1/p" }), 101],
  // RFC 9110 §4.2.4; no fetch Request takes such a URL (Node's throws).
  ["an absolute-form target with user info", head({ target: "http://u:p@127.0.0.1/p" }), 400],
  ["an absolute-form target with a user name", head({ target: "ws://u@127.0.0.1/p" }), 400],
  ["an absolute-form ws: target", head({ target: "ws://127.0.0.1/p" }), 101],
  ["a file: target", head({ target: "file:///etc/passwd" }), 400],
  ["the asterisk form", head({ target: "*" }), 400],
  ["the authority form", head({ target: "127.0.0.1:80" }), 400],
];

test(`serve (${currentRuntime}) answers odd and malformed handshake fields as every runtime does`, async () => {
  const server = await serveHere({
    protocols: ["chat", "superchat"],
    origins: ["https://ok.example"],
    compression: true,
    onError: () => {},
  });
  try {
    const wrong: string[] = [];
    for (const [name, request, status, fields = []] of CASES) {
      const answer = await exchange(server.port, request);
      const missing = fields.filter((field) => !answer.head.includes(field));
      if (answer.status !== status || missing.length > 0) {
        wrong.push(`${name}: ${answer.text.split("\r\n")[0]} (wanted ${status} ${missing})`);
      }
    }
    assert.deepEqual(wrong, []);
  } finally {
    await server.close();
  }
});

test(`serve (${currentRuntime}) expires each idle connection at its own deadline, whichever leaves first`, async () => {
  const handshakeTimeout = 300;
  const server = await serveHere({ handshakeTimeout });
  const clients: ReturnType<typeof rawClient>[] = [];
  try {
    // Admitted 25 ms apart: the oldest deadline comes first, and the oldest leaves first.
    for (let i = 0; i < 8; i++) {
      const client = rawClient(server.port);
      clients.push(client);
      await client.connected;
      if (i % 3 === 1) client.socket.write("GET / HTTP/1.1\r\nHost: a\r\n"); // a head not complete
      await delay(25);
    }
    clients[0].socket.destroy();
    clients[3].socket.destroy();
    const answers = await Promise.all(
      clients.map((client) => deadline(client.closed, 10_000, "the server to close")),
    );
    for (let i = 0; i < clients.length; i++) {
      if (i === 0 || i === 3) continue;
      assert.equal(Number(clients[i].text.slice(9, 12)), 408, `client ${i}: ${clients[i].text}`);
      // Counted from before its connect(): the server admitted it later still.
      assert.ok(answers[i] >= handshakeTimeout, `client ${i} answered after ${answers[i]} ms`);
    }
  } finally {
    for (const client of clients) client.socket.destroy();
    await server.close();
  }
});

/** An `onUpgrade` that waits (ignoring its signal) until `open()`, counting the checks running. */
function gatedCheck() {
  let running = 0;
  let most = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const aborted: Promise<void>[] = [];
  return {
    open,
    get running() {
      return running;
    },
    get most() {
      return most;
    },
    /** Resolves once the signal of the `n`-th request aborted. */
    aborted: (n: number) => aborted[n],
    async onUpgrade(request: Request) {
      aborted.push(
        new Promise((resolve) => request.signal.addEventListener("abort", () => resolve())),
      );
      most = Math.max(most, ++running);
      await gate;
      running--;
    },
  };
}

test(`serve (${currentRuntime}) keeps the handshake slot of a client that left while onUpgrade runs`, async () => {
  const check = gatedCheck();
  const handshakeTimeout = 3000;
  const server = await serveHere({
    maxPendingHandshakes: 1,
    handshakeTimeout,
    onUpgrade: check.onUpgrade,
    onError: () => {},
  });
  const clients: ReturnType<typeof rawClient>[] = [];
  try {
    const leaving = rawClient(server.port);
    clients.push(leaving);
    leaving.socket.write(head());
    await waitFor(() => check.running === 1, { what: "onUpgrade to run" });
    leaving.socket.destroy();
    await deadline(leaving.closed, 5000, "the client to leave");
    // Where the server notices the leaving, the request's signal aborts; give the others a moment.
    await Promise.race([check.aborted(0), delay(200)]);
    // Its check still runs: it still counts against maxPendingHandshakes (the busy 503, not
    // a check of its own timed out).
    for (let i = 0; i < 3; i++) {
      const next = rawClient(server.port);
      clients.push(next);
      next.socket.write(head());
      assert.equal(await next.status("a 503"), 503, next.text);
      assert.match(next.text, /Too many handshakes/);
    }
    assert.equal(check.most, 1, "onUpgrade ran for more than one connection at once");
    // Once it settles (or at the latest at its deadline), the slot is free again.
    check.open();
    const status = await waitFor(async () => {
      const answer = await exchange(server.port, head());
      return answer.status === 503 ? undefined : answer.status;
    }, { timeout: handshakeTimeout + 5000, what: "an answer other than 503" });
    assert.equal(status, 101);
  } finally {
    check.open();
    for (const client of clients) client.socket.destroy();
    await server.close();
  }
});

/** The timers the process holds, where the runtime can say (`undefined` elsewhere). */
function activeTimers(): number | undefined {
  const info = (process as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo;
  if (typeof info !== "function") return undefined;
  return info().filter((name) => name === "Timeout").length;
}

test(`serve (${currentRuntime}) close() with handshakes pending ends every connection and leaves no timer`, async () => {
  const check = gatedCheck();
  const timersBefore = activeTimers();
  const server = await serveHere({
    maxPendingHandshakes: 4,
    handshakeTimeout: 60_000,
    onUpgrade: check.onUpgrade,
    onError: () => {},
  });
  const clients: ReturnType<typeof rawClient>[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const client = rawClient(server.port);
      clients.push(client);
      await client.connected;
      // Two checks running (one of whose clients leaves), a head not complete, one silent,
      // and one past maxPendingHandshakes (503, closing).
      if (i < 2) client.socket.write(head());
      if (i === 2) client.socket.write("GET / HTTP/1.1\r\n");
    }
    await waitFor(() => check.running === 2, { what: "two checks to run" });
    clients[0].socket.destroy();
    await deadline(clients[0].closed, 5000, "the client to leave");
    await Promise.race([check.aborted(0), delay(200)]);
    await deadline(server.close(), 10_000, "close()");
    await deadline(
      Promise.all(clients.map((client) => client.closed)),
      10_000,
      "every connection to end",
    );
    // The check still running is told: its request's signal aborts, long before handshakeTimeout.
    await deadline(check.aborted(1), 5000, "the signal of the check still running to abort");
    const timersAfter = activeTimers();
    if (timersBefore !== undefined && timersAfter !== undefined) {
      await waitFor(() => activeTimers()! <= timersBefore, {
        timeout: 3000,
        what: `the server's timers to end (${timersAfter} left, ${timersBefore} before)`,
      });
    }
  } finally {
    check.open();
    for (const client of clients) client.socket.destroy();
    await server.close();
  }
});

test(`serve (${currentRuntime}) answers 503 at handshakeTimeout when an origins or protocols callback never settles`, async () => {
  const never = () => new Promise<never>(() => {});
  for (const policy of [{ origins: never }, { protocols: never }]) {
    const server = await serveHere({ ...policy, handshakeTimeout: 200, maxPendingHandshakes: 1 });
    try {
      const offer = head({ extra: "Sec-WebSocket-Protocol: chat\r\n" });
      const answer = await exchange(server.port, offer);
      assert.equal(answer.status, 503, `${Object.keys(policy)}: ${answer.text}`);
      assert.match(answer.text, /Upgrade check timed out/);
      // Its slot is free again: the next request is admitted (and times out the same way).
      const next: string = await waitFor(async () => {
        const { text } = await exchange(server.port, offer);
        return text.includes("Too many handshakes") ? "" : text;
      }, { timeout: 5000, what: "a connection admitted again" });
      assert.match(next, /Upgrade check timed out/);
    } finally {
      await server.close();
    }
  }
});

test(`serve (${currentRuntime}) close() lets no check still running open a channel`, async () => {
  const check = gatedCheck();
  const opened: string[] = [];
  const server = await serveHere({
    // The first client never answers the close handshake: close() waits this long for it.
    closeTimeout: 1000,
    onUpgrade: (request) =>
      new URL(request.url).pathname === "/slow" ? check.onUpgrade(request) : undefined,
    onChannel: (_channel, request) => void opened.push(new URL(request.url).pathname),
    onError: () => {},
  });
  const open = rawClient(server.port);
  const slow = rawClient(server.port);
  try {
    open.socket.write(head({ target: "/open" }));
    assert.equal(await open.status("the first client's 101"), 101);
    slow.socket.write(head({ target: "/slow" }));
    await waitFor(() => check.running === 1, { what: "the check to run" });
    const closed = server.close();
    // The check accepts while close() waits for the first channel's close handshake.
    check.open();
    await deadline(closed, 10_000, "close()");
    await deadline(slow.closed, 5000, "the second connection to end");
    assert.deepEqual(opened, ["/open"]);
    assert.doesNotMatch(slow.text, /^HTTP\/1\.1 101/, slow.text);
  } finally {
    check.open();
    open.socket.destroy();
    slow.socket.destroy();
    await server.close();
  }
});

test(
  "attach (node:http) close(): a check still running is answered 503, not upgraded",
  { skip: currentRuntime !== "node" && "attach() is for Node's node:http" },
  async () => {
    const { attach } = await import("../../src/adapters/node.ts");
    const check = gatedCheck();
    const opened: string[] = [];
    const http = createHttpServer();
    const handler = attach(http, {
      onUpgrade: check.onUpgrade,
      onChannel: (_channel, request) => void opened.push(request.url),
      onError: () => {},
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const slow = rawClient((http.address() as { port: number }).port);
    try {
      slow.socket.write(head());
      await waitFor(() => check.running === 1, { what: "the check to run" });
      await deadline(handler.close(), 5000, "close()");
      // Accepted after the handler closed: no channel of a detached handler.
      check.open();
      assert.equal(await slow.status("an answer"), 503, slow.text);
      assert.deepEqual(opened, []);
      assert.equal(handler.channels.size, 0);
    } finally {
      check.open();
      slow.socket.destroy();
      http.closeAllConnections?.();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  },
);

test(`serve (${currentRuntime}) with tls: close() with a handshake pending still closes open channels cleanly`, async () => {
  const { cert, key } = testCertificates();
  const server = await serveHere({ tls: { cert, key }, onChannel: () => {} });
  const pendingTls = rawClient(server.port); // a TCP connection that never starts TLS
  const socket = tlsConnect({
    host: "127.0.0.1",
    port: server.port,
    rejectUnauthorized: false,
    ALPNProtocols: ["http/1.1"],
  });
  socket.on("error", () => {});
  let received = new Uint8Array(0);
  socket.on("data", (chunk: Uint8Array) => {
    const joined = new Uint8Array(received.length + chunk.length);
    joined.set(received);
    joined.set(chunk, received.length);
    received = joined;
  });
  const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  const text = () => new TextDecoder("latin1").decode(received);
  try {
    await deadline(
      new Promise<void>((resolve) => socket.once("secureConnect", () => resolve())),
      5000,
      "the TLS handshake",
    );
    socket.write(head());
    await waitFor(() => text().includes("\r\n\r\n"), { what: "the 101" });
    assert.match(text(), /^HTTP\/1\.1 101/);
    const closed = server.close();
    // The server's close frame (1001), answered so that close() need not wait for its timeout.
    const at = text().indexOf("\r\n\r\n") + 4;
    await waitFor(() => received.length >= at + 4, { what: "the server's close frame" });
    assert.equal(received[at] & 0x0f, 8, `a close frame, got ${received.subarray(at)}`);
    assert.equal((received[at + 2] << 8) | received[at + 3], 1001);
    socket.write(new Uint8Array([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9]));
    await deadline(closed, 10_000, "close()");
    await deadline(ended, 5000, "the TLS connection to end");
    // Deno's TlsConn finishes its TLS handshake before it closes (see the README): there a
    // client that never sends its hello keeps its connection until it leaves.
    if (currentRuntime !== "deno") {
      await deadline(pendingTls.closed, 5000, "the connection still in its TLS handshake to end");
    }
  } finally {
    socket.destroy();
    pendingTls.socket.destroy();
    await server.close();
  }
});

test(`serve (${currentRuntime}) upgrades nothing pipelined behind a plain request it answered 426`, async () => {
  const opened: string[] = [];
  const server = await serveHere({
    onChannel: (_channel, request) => void opened.push(request.url),
  });
  const client = rawClient(server.port);
  try {
    client.socket.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n" + head({ target: "/behind" }));
    await deadline(client.closed, 5000, "the server to close after its 426");
    assert.match(client.text, /^HTTP\/1\.1 426 /);
    assert.doesNotMatch(client.text, /HTTP\/1\.1 101/);
    assert.deepEqual(opened, []);
  } finally {
    client.socket.destroy();
    await server.close();
  }
});
