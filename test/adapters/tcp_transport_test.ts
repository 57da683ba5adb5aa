import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { openTcp } from "../../src/adapters/tcp_transport.ts";
import { deadline } from "../_util/async.ts";
import { testCertificates } from "./fixtures/certs.ts";

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
}

function stop(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function echoServer(secure = false) {
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.pipe(socket);
  };
  const certs = secure ? testCertificates() : undefined;
  const server = certs
    ? createTlsServer({ key: certs.key, cert: certs.cert }, onSocket)
    : createServer(onSocket);
  return { server, sockets };
}

type Transport = Awaited<ReturnType<typeof openTcp>>;

/** A direct connection is the socket itself, read and written without Web Streams. */
function io(transport: Transport) {
  assert.ok(transport.direct, "a direct connection has direct()");
  return transport.direct();
}

async function roundTrip(transport: Transport, bytes: Uint8Array) {
  const { reader, writer } = io(transport);
  await writer.write(bytes);
  const received: number[] = [];
  while (received.length < bytes.length) {
    const { value, done } = await deadline(reader.read(), 5000, "echo");
    if (done) break;
    received.push(...value);
  }
  return new Uint8Array(received);
}

test("openTcp connects over TCP and carries bytes both ways", async () => {
  const { server, sockets } = echoServer();
  const port = await listen(server);
  try {
    const transport = await openTcp(new URL(`ws://127.0.0.1:${port}/`));
    const sent = new Uint8Array(100_000).map((_, i) => i % 251);
    assert.deepEqual(await roundTrip(transport, sent), sent);
    transport.close();
  } finally {
    await stop(server, sockets);
  }
});

test("openTcp connects over TLS when the private CA is passed in caCerts", async () => {
  const { server, sockets } = echoServer(true);
  const port = await listen(server);
  try {
    const transport = await openTcp(new URL(`wss://127.0.0.1:${port}/`), {
      caCerts: [testCertificates().ca],
    });
    const sent = new TextEncoder().encode("hello over tls");
    assert.deepEqual(await roundTrip(transport, sent), sent);
    transport.close();
  } finally {
    await stop(server, sockets);
  }
});

test("openTcp rejects an untrusted certificate with WS_CONNECT_TLS", async () => {
  const { server, sockets } = echoServer(true);
  const port = await listen(server);
  try {
    await assert.rejects(
      deadline(openTcp(new URL(`wss://127.0.0.1:${port}/`)), 5000, "TLS failure"),
      (error: { code?: string }) => error.code === "WS_CONNECT_TLS",
    );
  } finally {
    await stop(server, sockets);
  }
});

test("openTcp rejects a closed port with WS_CONNECT_REFUSED", async () => {
  const { server, sockets } = echoServer();
  const port = await listen(server);
  await stop(server, sockets);
  await assert.rejects(
    deadline(openTcp(new URL(`ws://127.0.0.1:${port}/`)), 5000, "refusal"),
    (error: { code?: string; name?: string }) => error.code === "WS_CONNECT_REFUSED",
  );
});

test("openTcp rejects an unknown host with WS_CONNECT_DNS", async () => {
  await assert.rejects(
    deadline(openTcp(new URL("ws://wsc-test.invalid:80/")), 10_000, "DNS failure"),
    (error: { code?: string }) => error.code === "WS_CONNECT_DNS",
  );
});

test("openTcp rejects at once with the abort reason when the signal is aborted", async () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(
    openTcp(new URL("ws://127.0.0.1:9/"), { signal: controller.signal }),
    (error: { code?: string; cause?: unknown }) =>
      error.code === "WS_CONNECT_ABORTED" && error.cause === reason,
  );
});

test("openTcp reading ends when the server closes the connection", async () => {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.end("bye");
  });
  const port = await listen(server);
  try {
    const transport = await openTcp(new URL(`ws://127.0.0.1:${port}/`));
    const { reader } = io(transport);
    let text = "";
    for (;;) {
      const { value, done } = await deadline(reader.read(), 5000, "end of stream");
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.equal(text, "bye");
    transport.close();
  } finally {
    await stop(server, sockets);
  }
});
