/**
 * Installs `connect()`'s engine transport for Deno, Node and Bun: the engine
 * over this runtime's TCP/TLS dialer, with node:zlib as the permessage-deflate
 * codec. The package's entry points (`mod.ts`, `./client`, `./session`)
 * import this module for that effect, so the channel layer is handed the
 * dialer and never imports a runtime. Browser builds drop the module (the
 * `browser` field of package.json maps it to nothing), which also keeps the
 * engine and the HTTP handshake code out of an app that only connects;
 * `connect()` refuses the engine transport there.
 *
 * Evaluating it touches no runtime global: `tcp_transport.ts` (and with it
 * `node:net` / `Deno.connect`, and node:zlib) loads with the first engine
 * connection.
 *
 * @module
 */
import { connectEngine } from "../channel/connect_engine.ts";
import { installEngineConnector } from "../channel/engine_connector.ts";
import { lazyCodec } from "../deflate/deflate_codec.ts";

installEngineConnector((url, options) => {
  const adapter = import("./tcp_transport.ts");
  return connectEngine(url, {
    ...options,
    dial: (target, dialOptions) => adapter.then(({ openTcp }) => openTcp(target, dialOptions)),
    codec: lazyCodec(adapter.then(({ zlibCodec }) => zlibCodec)),
  });
});
