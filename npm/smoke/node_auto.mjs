// Node 20: transport "auto" must fall back to the engine because there is no global WebSocket.
import { serve } from "websocket-channel/server/node";
import { echoSmoke } from "./_echo.mjs";

if (typeof globalThis.WebSocket === "function") {
  throw new Error("expected a Node without a global WebSocket");
}
await echoSmoke({
  serve,
  label: `node ${process.version} auto client (no global WebSocket)`,
});
