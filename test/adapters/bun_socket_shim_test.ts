import { test } from "node:test";
import assert from "node:assert/strict";
import { type BunServerWebSocket, BunSocketShim } from "../../src/adapters/bun_socket_shim.ts";

function fakeBunSocket(results: number[]) {
  const sent: unknown[] = [];
  const socket: BunServerWebSocket & { sent: unknown[]; closedWith?: number } = {
    readyState: 1,
    data: undefined,
    sent,
    send(data) {
      sent.push(data);
      return results.shift() ?? 1;
    },
    close(code) {
      socket.closedWith = code;
    },
    getBufferedAmount: () => 0,
  };
  return socket;
}

test("BunSocketShim reports full bufferedAmount after send() returns -1 until drained", () => {
  const ws = fakeBunSocket([-1]);
  const shim = new BunSocketShim(ws, "chat");
  assert.equal(shim.protocol, "chat");
  shim.send("a");
  assert.equal(shim.bufferedAmount, Number.MAX_SAFE_INTEGER);
  shim.drained();
  assert.equal(shim.bufferedAmount, 0);
});

test("BunSocketShim throws WS_SEND_DROPPED when Bun drops a non-empty message, not for an empty one", () => {
  const ws = fakeBunSocket([0, 0]);
  const shim = new BunSocketShim(ws, "");
  assert.throws(() => shim.send("lost"), { code: "WS_SEND_DROPPED" });
  shim.send(new Uint8Array(0));
});

test("BunSocketShim sends a Blob as bytes and keeps later messages behind it", async () => {
  const ws = fakeBunSocket([]);
  const shim = new BunSocketShim(ws, "");
  shim.send(new Blob([new Uint8Array([1, 2])]));
  shim.send("after");
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(ws.sent, [new Uint8Array([1, 2]), "after"]);
});

test("BunSocketShim dispatches events to listeners until they are removed", () => {
  const shim = new BunSocketShim(fakeBunSocket([]), "");
  const seen: unknown[] = [];
  const listener = (event: unknown) => seen.push(event);
  shim.addEventListener("message", listener);
  shim.dispatch("message", { data: "x" });
  shim.removeEventListener("message", listener);
  shim.dispatch("message", { data: "y" });
  assert.deepEqual(seen, [{ data: "x" }]);
});
