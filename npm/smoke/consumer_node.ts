// Type-checked by scripts/check_npm.ts with `tsc --strict` (module nodenext) and @types/node:
// every subpath of the package, as a Node project that imports all of them would see it.
import { CloseCode, type WebSocketChannel } from "websocket-channel";
import { Protocol } from "websocket-channel/engine";
import { WebSocketClient } from "websocket-channel/client";
import { createChannelPair } from "websocket-channel/testing";
import {
  attach,
  serve as serveNode,
  type ServeOptions,
  type WebSocketServer,
} from "websocket-channel/server/node";
import { serve as serveBun } from "websocket-channel/server/bun";
import { serve as serveDeno } from "websocket-channel/server/deno";
import { createServer } from "node:http";

const options: ServeOptions = {
  port: 0,
  hostname: "127.0.0.1",
  async onChannel(channel: WebSocketChannel, request: Request) {
    console.log(request.url, channel.protocol);
    for await (const message of channel.stream) await channel.sink.add(message);
  },
};

export async function servers(): Promise<WebSocketServer[]> {
  const httpServer = createServer();
  attach(httpServer, {
    onChannel: (channel) => channel.sink.close(CloseCode.goingAway),
  });
  // @ts-expect-error onChannel is required
  await serveNode({ port: 0 });
  return [
    await serveNode(options),
    await serveBun(options),
    await serveDeno(options),
  ];
}

export const unused = [Protocol, WebSocketClient, createChannelPair];
