// Compares our hand-written socketStreams() with stream.Duplex.toWeb() for a node:net socket:
// MiB/s reading a 512 MiB stream and echoing 64 KiB writes. Usage: bun bench/peers/socket_streams.ts
// (or node on an esbuild bundle). Prints one line per variant and round.
import { connect, createServer, type Socket } from "node:net";
import { Duplex } from "node:stream";
import process from "node:process";
import { socketStreams } from "../../src/adapters/node_socket_streams.ts";

const TOTAL = 512 * 1024 * 1024;
const chunk = new Uint8Array(64 * 1024).fill(1);
const server = createServer((socket) => {
  let sent = 0;
  const pump = () => {
    while (sent < TOTAL) {
      sent += chunk.byteLength;
      if (!socket.write(chunk)) return void socket.once("drain", pump);
    }
    socket.end();
  };
  pump();
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = (server.address() as { port: number }).port;

function open(): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
  });
}

async function readAll(readable: ReadableStream<Uint8Array>) {
  const reader = readable.getReader();
  let bytes = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
  }
}

const variants: Record<string, (s: Socket) => ReadableStream<Uint8Array>> = {
  socketStreams: (s) => socketStreams(s).readable,
  "Duplex.toWeb": (s) =>
    (Duplex.toWeb(s) as unknown as { readable: ReadableStream<Uint8Array> }).readable,
};
for (let round = 0; round < 3; round++) {
  for (const [name, make] of Object.entries(variants)) {
    const socket = await open();
    const start = performance.now();
    const bytes = await readAll(make(socket));
    const seconds = (performance.now() - start) / 1000;
    console.log(`${name}: ${(bytes / 1048576 / seconds).toFixed(0)} MiB/s`);
    socket.destroy();
  }
}
server.close();
process.exit(0);
