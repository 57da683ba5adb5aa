// Deno taking the package from npm (a package.json project): server/deno with Deno's native client.
import { serve } from "websocket-channel/server/deno";
import { echoSmoke } from "./_echo.mjs";

await echoSmoke({
  serve,
  label: `deno ${Deno.version.deno} server/deno from npm`,
});
await echoSmoke({
  serve,
  connectOptions: { transport: "engine" },
  label: `deno ${Deno.version.deno} engine client`,
});
