// Bun: serve() from server/bun with Bun's native client, then the engine client over node:net.
import { serve } from "websocket-channel/server/bun";
import { echoSmoke } from "./_echo.mjs";

await echoSmoke({
  serve,
  label: `bun ${Bun.version} server/bun + native client`,
});
await echoSmoke({
  serve,
  connectOptions: { transport: "engine" },
  label: `bun ${Bun.version} server/bun + engine client`,
});
