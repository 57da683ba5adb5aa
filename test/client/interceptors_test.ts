import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DROP,
  type Interceptor,
  runReceiveInterceptors,
  runSendInterceptors,
} from "../../src/client/interceptors.ts";

const context = { url: "ws://fake/" };
const tag = (name: string, log: string[]): Interceptor => ({
  send: async (m) => {
    log.push(`send ${name}`);
    await Promise.resolve();
    return `${m}>${name}`;
  },
  receive: (m) => {
    log.push(`receive ${name}`);
    return `${m}<${name}`;
  },
});

test("send interceptors run in order, receive interceptors in reverse order (onion)", async () => {
  const log: string[] = [];
  const chain = [tag("a", log), tag("b", log), tag("c", log)];
  assert.equal(await runSendInterceptors(chain, "m", context), "m>a>b>c");
  assert.equal(await runReceiveInterceptors(chain, "m", context), "m<c<b<a");
  assert.deepEqual(log, ["send a", "send b", "send c", "receive c", "receive b", "receive a"]);
});

test("an interceptor can drop a message; later interceptors never see it", async () => {
  const seen: string[] = [];
  const chain: Interceptor[] = [
    { send: (m) => (m === "secret" ? DROP : m) },
    { send: (m) => void seen.push(String(m)) },
  ];
  assert.equal(await runSendInterceptors(chain, "secret", context), DROP);
  assert.equal(await runSendInterceptors(chain, "public", context), "public");
  assert.deepEqual(seen, ["public"]);
});

test("a partial interceptor passes the other direction through unchanged", async () => {
  const chain: Interceptor[] = [{ send: (m) => `${m}!` }, {}, { receive: (m) => `${m}?` }];
  assert.equal(await runSendInterceptors(chain, "x", context), "x!");
  assert.equal(await runReceiveInterceptors(chain, "y", context), "y?");
});

test("a hook that returns nothing passes the message on (observers never drop by accident)", async () => {
  let observed: unknown;
  const chain: Interceptor[] = [{ send: (m) => void (observed = m) }];
  const bytes = new Uint8Array([1, 2]);
  assert.equal(await runSendInterceptors(chain, bytes, context), bytes);
  assert.equal(observed, bytes);
});

test("a hook that returns something else than a message fails with a TypeError", async () => {
  const chain = [{ send: () => 42 as unknown as string }];
  await assert.rejects(runSendInterceptors(chain, "x", context), TypeError);
});
