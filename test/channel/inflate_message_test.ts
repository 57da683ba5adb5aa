import { test } from "node:test";
import assert from "node:assert/strict";
import { inflateMessage } from "../../src/channel/inflate_message.ts";
import { ProtocolError } from "../../src/engine/errors.ts";
import type { MessageDeflate } from "../../src/channel/web_socket_channel.ts";

function fakeDeflate(decompress: MessageDeflate["decompress"]): MessageDeflate {
  return {
    shouldCompress: () => true,
    encode: (data) => Promise.resolve({ data, compressed: false }),
    decompress,
  };
}

test("inflateMessage returns bytes for binary and validated text for text", async () => {
  const deflate = fakeDeflate((payload) => Promise.resolve(payload));
  assert.deepEqual(
    await inflateMessage(deflate, { binary: true, data: new Uint8Array([1]) }, 10),
    new Uint8Array([1]),
  );
  assert.equal(
    await inflateMessage(deflate, { binary: false, data: new TextEncoder().encode("hé") }, 10),
    "hé",
  );
});

test("inflateMessage fails invalid UTF-8 text with 1007", async () => {
  const deflate = fakeDeflate((payload) => Promise.resolve(payload));
  await assert.rejects(
    inflateMessage(deflate, { binary: false, data: new Uint8Array([0xff]) }, 10),
    {
      name: "ProtocolError",
      closeCode: 1007,
    },
  );
});

test("inflateMessage passes the size limit and keeps the deflate layer's close code", async () => {
  let seen = 0;
  const tooBig = fakeDeflate((_payload, { maxSize }) => {
    seen = maxSize;
    return Promise.reject(new ProtocolError("WS_MESSAGE_TOO_BIG", "too big", 1009));
  });
  await assert.rejects(inflateMessage(tooBig, { binary: true, data: new Uint8Array() }, 1234), {
    closeCode: 1009,
  });
  assert.equal(seen, 1234);
  const broken = fakeDeflate(() => Promise.reject(new TypeError("corrupt stream")));
  await assert.rejects(inflateMessage(broken, { binary: true, data: new Uint8Array() }, 10), {
    code: "WS_INFLATE_FAILED",
    closeCode: 1007,
  });
});
