// Deno's way of preloading bench/peers/heap_probe.mjs: `deno run -A
// --v8-flags=--expose-gc bench/peers/heap_probe_deno.ts SERVER [args]` loads the
// probe, then the server module (which reads its own options from the arguments).
await import("./heap_probe.mjs");
await import(new URL(`../../${Deno.args[0]}`, import.meta.url).href);
