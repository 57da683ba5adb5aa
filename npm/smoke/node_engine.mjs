// Node 20 (no global WebSocket): the engine client over node:net against serve() from server/node.
import { serve } from "websocket-channel/server/node";
import { echoSmoke } from "./_echo.mjs";

await echoSmoke({
  serve,
  connectOptions: { transport: "engine" },
  label: `node ${process.version} engine client`,
});
