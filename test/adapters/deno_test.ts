import { registerContractMatrix } from "./fixtures/pairs.ts";

// The channel contract over Deno's engine serve() and Deno.upgradeWebSocket
// wrapper, with our engine client, the runtime's native WebSocket and ws.
await registerContractMatrix(["deno-serve", "deno-upgrade"], ["engine", "native", "ws"]);
