/**
 * An instance of a class as a server's options, on every server entry point
 * of the running runtime (`serve()` everywhere; `upgrade()` on Deno,
 * `createBunHandler()` on Bun, `attach()` and `handleUpgrade()` on Node):
 * its inherited methods and getters count, each callback runs with the
 * instance as `this` (private fields included), and a subclass's override
 * wins. Real connections from our client.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, HandshakeError } from "../../mod.ts";
import type { WebSocketChannel } from "../../src/channel/web_socket_channel.ts";
import { deadline, waitFor } from "../_util/async.ts";
import { currentRuntime } from "../_util/runtimes.ts";
import { entryPoints } from "../_util/entry_points.ts";

/** A chat room's handlers, written as methods over private state. */
class Room {
  readonly #log: string[] = [];
  readonly #protocol = "v2";
  hostname = "127.0.0.1";
  port = 0;

  get idleTimeout(): number {
    return 0;
  }

  get log(): string[] {
    return this.#log;
  }

  // Not an option: the server must not read it.
  get database(): never {
    throw new Error("not connected");
  }

  protocols(offered: string[]): string | undefined {
    this.#log.push("protocols");
    return offered.find((protocol) => protocol === this.#protocol);
  }

  origins(origin: string | null): boolean {
    this.#log.push(`origin ${origin}`);
    return true;
  }

  onUpgrade(request: Request): { data: string } {
    this.#log.push(`upgrade ${new URL(request.url).pathname}`);
    return { data: "room-1" };
  }

  onChannel(channel: WebSocketChannel, request: Request, data: string): void {
    this.#log.push(`channel ${data} ${new URL(request.url).pathname}`);
    channel.sink.close(4000, "bye").catch(() => {});
  }

  onError(error: unknown, request: Request): void {
    this.#log.push(`error ${(error as Error).message} ${new URL(request.url).pathname}`);
  }
}

/** The same room, whose upgrade check fails. */
class BrokenCheck extends Room {
  override onUpgrade(): never {
    throw new Error("check failed");
  }
}

/** The same room, whose handler fails. */
class BrokenHandler extends Room {
  override onChannel(): void {
    this.log.push("broken handler");
    throw new Error("handler failed");
  }
}

/** Deflate settings with a getter and a field inherited from a base class. */
class ResettingSettings {
  get serverNoContextTakeover(): boolean {
    return true;
  }
}
class ChattySettings extends ResettingSettings {
  clientNoContextTakeover = true;
  threshold = 16;
}
Object.defineProperty(ChattySettings.prototype, "serverMaxWindowBits", { value: 15 });

/** Opens a connection to `/room`, offering two subprotocols. */
function open(port: number): WebSocketChannel {
  return connect(`ws://127.0.0.1:${port}/room`, {
    protocols: ["v1", "v2"],
    headers: { origin: "https://chat.example" },
  });
}

for (const [name, entry] of Object.entries(entryPoints)) {
  if (entry.runtime !== currentRuntime) continue;

  test(`${name}: a class instance's methods run with the instance as this`, async () => {
    const room = new Room();
    const server = await entry.start(room);
    try {
      const channel = open(server.port);
      await deadline(channel.ready, 5000, "ready");
      // Chosen by the method from the instance's private field.
      assert.equal(channel.protocol, "v2");
      // The entry points check the origin and the subprotocols in either order.
      assert.deepEqual(room.log.slice(0, 3).sort(), [
        "origin https://chat.example",
        "protocols",
        "upgrade /room",
      ]);
      // (Deno's upgrade() leaves onChannel to the test's glue.)
      await deadline(channel.closed, 5000, "close");
      assert.equal(channel.closeCode, 4000);
      assert.deepEqual(room.log.slice(3), ["channel room-1 /room"]);
    } finally {
      await server.close();
    }
  });

  test(`${name}: a subclass's failing onUpgrade reaches the inherited onError`, async () => {
    const room = new BrokenCheck();
    const server = await entry.start(room);
    try {
      const channel = open(server.port);
      const error = await deadline(channel.ready.then(() => null, (e) => e), 5000, "refusal");
      assert.ok(error instanceof HandshakeError, String(error));
      assert.equal(error.status, 500);
      await waitFor(() => room.log.includes("error check failed /room"), { timeout: 5000 });
      assert.ok(!room.log.some((line) => line.startsWith("channel")), room.log.join("; "));
    } finally {
      await server.close();
    }
  });

  // Deno's upgrade() cannot compress, and Bun's native server takes no deflate settings.
  if (name !== "deno upgrade()" && name !== "bun createBunHandler()") {
    test(`${name}: compression settings that are a class instance keep what it inherits`, async () => {
      const server = await entry.start({
        hostname: "127.0.0.1",
        port: 0,
        idleTimeout: 0,
        compression: new ChattySettings(),
        onChannel(channel: WebSocketChannel) {
          channel.listen((message) => void channel.send(message).catch(() => {}));
        },
      });
      try {
        // The engine client: a native one may not offer compression.
        const channel = connect(`ws://127.0.0.1:${server.port}/`, {
          compression: true,
          transport: "engine",
        });
        await deadline(channel.ready, 5000, "ready");
        // Both inherited: the server asked the client to reset its context and resets its own.
        assert.equal(
          channel.extensions,
          "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        );
        const echoed = new Promise((resolve) => channel.listen(resolve));
        await channel.send("a".repeat(64));
        assert.equal(await deadline(echoed, 5000, "echo"), "a".repeat(64));
        await channel.sink.close(1000);
      } finally {
        await server.close();
      }
    });
  }

  if (!entry.callsOnChannel) continue;
  test(`${name}: a subclass's failing onChannel closes with 1011 and is reported`, async () => {
    const room = new BrokenHandler();
    const server = await entry.start(room);
    try {
      const channel = open(server.port);
      await deadline(channel.ready, 5000, "ready");
      await deadline(channel.closed, 5000, "close");
      assert.equal(channel.closeCode, 1011);
      await waitFor(() => room.log.includes("error handler failed /room"), { timeout: 5000 });
      assert.ok(room.log.includes("broken handler"), room.log.join("; "));
    } finally {
      await server.close();
    }
  });
}

test("node handleUpgrade(): an options object is read at its first call and reused after", {
  skip: currentRuntime === "node" ? false : "needs node",
}, async () => {
  let reads = 0;
  const opened: string[] = [];
  const options = {
    idleTimeout: 0,
    get maxMessageSize(): number {
      reads++;
      return 1024;
    },
    onChannel(channel: WebSocketChannel) {
      opened.push(channel.protocol);
      channel.sink.close(4000).catch(() => {});
    },
  };
  const server = await entryPoints["node handleUpgrade()"].start(options);
  try {
    for (let i = 0; i < 3; i++) {
      const channel = connect(`ws://127.0.0.1:${server.port}/`);
      await deadline(channel.closed, 5000, `connection ${i}`);
      assert.equal(channel.closeCode, 4000);
    }
    assert.equal(opened.length, 3);
    assert.equal(reads, 1);
  } finally {
    await server.close();
  }
});

test("deno upgrade(): reads only the options it uses, at each call", {
  skip: currentRuntime === "deno" ? false : "needs deno",
}, async () => {
  const options = {
    protocols: ["chat"],
    // Not an option: upgrade() must not read it.
    get database(): never {
      throw new Error("not connected");
    },
    onChannel(channel: WebSocketChannel) {
      channel.sink.close(4000).catch(() => {});
    },
  };
  const server = await entryPoints["deno upgrade()"].start(options);
  try {
    const channel = connect(`ws://127.0.0.1:${server.port}/`, { protocols: ["chat"] });
    await deadline(channel.ready, 5000, "ready");
    assert.equal(channel.protocol, "chat");
    await deadline(channel.closed, 5000, "close");
    assert.equal(channel.closeCode, 4000);
  } finally {
    await server.close();
  }
});
