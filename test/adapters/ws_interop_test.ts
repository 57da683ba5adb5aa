import { registerContractMatrix } from "./fixtures/pairs.ts";

// ws as an independent server: our engine client and the native WebSocket
// against it, on every runtime (Bun runs its own ws-compatible module).
await registerContractMatrix(["ws"], ["engine", "native"]);
