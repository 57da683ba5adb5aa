// Shared by the smoke programs: start a server, connect, echo one text and one
// binary message, close with 1000, stop the server. Throws on any mismatch;
// a deadline keeps a hung connection from hanging the check.
import { WebSocketChannel } from "websocket-channel";

/**
 * @param {object} options
 * @param {(options: object) => unknown} options.serve The runtime's serve() from websocket-channel/server/*.
 * @param {object} [options.connectOptions] Passed to WebSocketChannel.connect (e.g. { transport: "engine" }).
 * @param {(url: string) => { stream: ReadableStream, sink: object, ready: Promise<void>, closed: Promise<object> }} [options.connect]
 * @param {string} options.label Printed with the result.
 */
export async function echoSmoke({ serve, connectOptions, connect, label }) {
  const deadline = setTimeout(() => {
    console.error(`${label}: timed out after 15 s`);
    exit(1);
  }, 15_000);
  deadline.unref?.();
  const server = await serve({
    port: 0,
    hostname: "127.0.0.1",
    async onChannel(channel) {
      for await (const message of channel.stream) {
        await channel.sink.add(message);
      }
    },
  });
  try {
    const url = `ws://127.0.0.1:${server.port}/smoke`;
    const channel = connect ? connect(url) : WebSocketChannel.connect(url, connectOptions);
    await channel.ready;
    const reader = channel.stream.getReader();

    const text = "hello, wörld ✓";
    await channel.sink.add(text);
    const first = await reader.read();
    assert(first.value === text, `text echo: got ${String(first.value)}`);

    const bytes = new Uint8Array([0, 1, 2, 127, 128, 255]);
    await channel.sink.add(bytes);
    const second = await reader.read();
    assert(
      second.value instanceof Uint8Array,
      `binary echo: got ${typeof second.value}`,
    );
    assert(
      second.value.join() === bytes.join(),
      `binary echo: got [${second.value.join()}]`,
    );

    reader.releaseLock();
    await channel.sink.close(1000, "done");
    const closed = await channel.closed;
    assert(closed.code === 1000, `close code ${closed.code}`);
    assert(closed.wasClean === true, "close was not clean");
    console.log(`${label}: ok (text, binary, close 1000)`);
  } finally {
    await server.close();
    clearTimeout(deadline);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function exit(code) {
  if (globalThis.process?.exit) globalThis.process.exit(code);
  else globalThis.Deno.exit(code);
}
