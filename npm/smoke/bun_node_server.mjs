// Bun running the node:http based server/node (Bun's Node compatibility).
import { serve } from "websocket-channel/server/node";
import { echoSmoke } from "./_echo.mjs";

await echoSmoke({
  serve,
  label: `bun ${Bun.version} server/node + native client`,
});
