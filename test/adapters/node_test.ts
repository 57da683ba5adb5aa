import { registerContractMatrix } from "./fixtures/pairs.ts";

// The channel contract over Node's serve() and attach() (engine on node:http),
// with our engine client, the runtime's native WebSocket (Node ≥ 22) and ws.
await registerContractMatrix(["node-serve", "node-attach"], ["engine", "native", "ws"]);
