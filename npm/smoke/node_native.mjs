// Node >= 22: the native global WebSocket (through WebSocketChannel.connect "native") against server/node.
import { serve } from "websocket-channel/server/node";
import { echoSmoke } from "./_echo.mjs";

if (typeof globalThis.WebSocket !== "function") {
  throw new Error("this Node has no global WebSocket");
}
await echoSmoke({
  serve,
  connectOptions: { transport: "native" },
  label: `node ${process.version} native client`,
});
