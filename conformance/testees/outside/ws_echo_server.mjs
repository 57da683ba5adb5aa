// An echo server on the `ws` package (plain Node, no build step) for the tests of
// `conformance/run.ts --server`: it stands for "a server written by someone else".
//
//   node conformance/testees/outside/ws_echo_server.mjs [--port 0] [--tls-cert PEM --tls-key PEM] [--fault none|text-as-binary|no-utf8-check|die-after=N|hang-after=N]
//
// Prints `listening <port>` once it accepts connections. Faults, for the harness's own tests:
// - text-as-binary: echoes text messages as binary ones (every text case of the suite FAILS);
// - no-utf8-check: does not validate UTF-8 (ws's skipUTF8Validation): invalid text is echoed, so the
//   cases of section 6 that send invalid UTF-8 FAIL (the suite expects a close with 1007);
// - die-after=N: kills itself (SIGKILL, like a crash) when the (N+1)-th WebSocket connection arrives;
// - hang-after=N: from the (N+1)-th connection on, accepts TCP but never answers the opening handshake.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { WebSocketServer } from "ws";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const port = Number(option("port", "0"));
const fault = option("fault", "none");
const [kind, limit] = fault.split("=");
let connections = 0;

const cert = option("tls-cert", "");
const key = option("tls-key", "");
const refuse = (_request, response) => response.writeHead(426).end();
const http = cert
  ? createTlsServer({ cert: readFileSync(cert), key: readFileSync(key) }, refuse)
  : createServer(refuse);
const wss = new WebSocketServer({
  noServer: true,
  maxFragments: 0,
  maxBufferedChunks: 0,
  skipUTF8Validation: kind === "no-utf8-check",
});
http.on("upgrade", (request, socket, head) => {
  connections++;
  if (kind === "die-after" && connections > Number(limit)) process.kill(process.pid, "SIGKILL");
  socket.on("error", () => socket.destroy());
  if (kind === "hang-after" && connections > Number(limit)) return; // never answers
  wss.handleUpgrade(request, socket, head, (ws) => {
    ws.on("message", (data, isBinary) => {
      ws.send(data, { binary: kind === "text-as-binary" ? true : isBinary });
    });
    ws.on("error", () => ws.terminate());
  });
});
http.listen(port, "127.0.0.1", () => console.log(`listening ${http.address().port}`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
