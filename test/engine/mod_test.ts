import assert from "node:assert/strict";
import { test } from "node:test";
import * as engine from "../../src/engine/mod.ts";

test("engine mod.ts runs a client and a server against each other", () => {
  const client = new engine.Protocol({ role: "client" });
  const server = new engine.Protocol({ role: "server" });
  client.sendText("hi");
  client.sendClose(engine.CloseCode.normalClosure, "done");
  const events = client.takeOutgoing().flatMap((chunk) => server.receive(chunk));
  assert.deepEqual(events, [{ type: "text", data: "hi" }, {
    type: "close",
    code: 1000,
    reason: "done",
  }]);
  const replies = server.takeOutgoing().flatMap((chunk) => client.receive(chunk));
  assert.deepEqual(replies, [{ type: "close", code: 1000, reason: "" }]);
  assert.equal(client.state, "closed");
  assert.equal(server.state, "closed");
});
