// Type-checked by scripts/check_npm.ts with `tsc --strict` (module nodenext), lib DOM only and
// no @types/node: the runtime-neutral entry points must not need Node's types.
import {
  CloseCode,
  type CloseInfo,
  type Message,
  WebSocketChannel,
  WebSocketError,
} from "websocket-channel";
import { Protocol, type ProtocolEvent } from "websocket-channel/engine";
import { WebSocketClient } from "websocket-channel/client";
import { createChannelPair } from "websocket-channel/testing";

export async function echoOnce(url: string): Promise<CloseInfo> {
  const channel: WebSocketChannel = WebSocketChannel.connect(url, {
    protocols: ["chat"],
  });
  await channel.ready;
  await channel.sink.add("hello");
  const reader = channel.stream.getReader();
  const { value } = await reader.read();
  const message: Message | undefined = value;
  if (typeof message === "string") console.log(message.toUpperCase());
  else if (message) console.log(message.byteLength);
  reader.releaseLock();
  await channel.sink.close(CloseCode.normalClosure, "done");
  // @ts-expect-error close codes are numbers
  await channel.sink.close("1000");
  return await channel.closed;
}

export function engineRoundTrip(): ProtocolEvent[] {
  const client = new Protocol({ role: "client" });
  const server = new Protocol({ role: "server" });
  client.sendText("hi");
  return client.takeOutgoing().flatMap((chunk) => server.receive(chunk));
}

export async function inMemory(): Promise<void> {
  const [a, b] = createChannelPair();
  await a.sink.add(new Uint8Array([1, 2, 3]));
  for await (const message of b.stream) {
    if (message instanceof Uint8Array) break;
  }
}

export function client(): WebSocketClient {
  return new WebSocketClient("wss://example.com/", {
    reconnect: { maxAttempts: 3 },
  });
}

export function isTyped(error: unknown): string | undefined {
  return error instanceof WebSocketError ? error.code : undefined;
}
