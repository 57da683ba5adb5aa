import { registerContractMatrix } from "./fixtures/pairs.ts";

// The channel contract over Bun's engine serve() and the Bun.serve handler
// pair, with our engine client, the runtime's native WebSocket and ws.
await registerContractMatrix(["bun-serve", "bun-handler"], ["engine", "native", "ws"]);
