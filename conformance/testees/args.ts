/**
 * Command-line options shared by every testee (no runtime globals, so Deno, Bun, Node and the
 * browser bundle can all use it).
 *
 * @example
 * ```ts
 * const { port } = parseArgs(["--port", "9001"]);
 * ```
 * @module
 */

/** Options a testee understands; each program reads the ones it needs. */
export interface TesteeArgs {
  /** Port to listen on (servers) or of the fuzzing server (clients); 0 picks a free one. */
  port: number;
  /** Host of the fuzzing server (clients). */
  host: string;
  /** Agent name the client reports under. */
  agent: string;
  /** Client transport: "engine" (our RFC 6455 engine over TCP) or "native" (the runtime's WebSocket). */
  transport: "engine" | "native";
  /** Largest message accepted, in bytes; section 9 needs 16 MiB. */
  maxMessageSize: number;
}

/**
 * Parses `--name value` pairs (and `--name=value`) into {@link TesteeArgs}; unknown names throw, so a
 * typo in run.ts fails loudly instead of silently running with defaults.
 *
 * @example
 * ```ts
 * parseArgs(["--port=9001", "--agent", "engine-deno"]).agent; // "engine-deno"
 * ```
 */
export function parseArgs(argv: readonly string[]): TesteeArgs {
  const out: TesteeArgs = {
    port: 0,
    host: "127.0.0.1",
    agent: "testee",
    transport: "engine",
    maxMessageSize: 64 * 1024 * 1024,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new TypeError(`unexpected argument ${arg}`);
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new TypeError(`--${name} needs a value`);
    switch (name) {
      case "port":
        out.port = Number(value);
        break;
      case "host":
        out.host = value;
        break;
      case "agent":
        out.agent = value;
        break;
      case "transport":
        if (value !== "engine" && value !== "native") {
          throw new TypeError(`bad --transport ${value}`);
        }
        out.transport = value;
        break;
      case "max-message-size":
        out.maxMessageSize = Number(value);
        break;
      default:
        throw new TypeError(`unknown option --${name}`);
    }
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) {
    throw new RangeError(`bad --port ${out.port}`);
  }
  return out;
}

/**
 * The program's arguments on any runtime (Deno.args, or process.argv past the script).
 *
 * @example
 * ```ts
 * const args = parseArgs(runtimeArgs());
 * ```
 */
export function runtimeArgs(): string[] {
  const g = globalThis as { Deno?: { args: string[] }; process?: { argv: string[] } };
  return g.Deno ? [...g.Deno.args] : (g.process?.argv.slice(2) ?? []);
}

/**
 * Ends the program on any runtime (a finished client must not wait for stray timers).
 *
 * @example
 * ```ts
 * exit(0);
 * ```
 */
export function exit(code: number): never {
  const g = globalThis as {
    Deno?: { exit(code: number): never };
    process?: { exit(code: number): never };
  };
  if (g.Deno) return g.Deno.exit(code);
  return g.process!.exit(code);
}
