// CommonJS consumers on Node >= 20.19 load the ESM-only package through require(esm).
const root = require("websocket-channel");
const engine = require("websocket-channel/engine");
if (typeof root.WebSocketChannel?.connect !== "function") {
  throw new Error("require: no WebSocketChannel.connect");
}
if (typeof engine.Protocol !== "function") {
  throw new Error("require: no Protocol in websocket-channel/engine");
}
console.log(`node ${process.version} require(esm): ok`);
