/**
 * The conformance matrix: which testee programs run, on which runtime, in which role, and which
 * Autobahn cases each gets in each mode:
 *
 * | mode | engine server on Deno (reference) | engine client on Deno | every other testee |
 * |---|---|---|---|
 * | `quick` (CI) | 1–10 + a 12/13 sample | 1–10 + a 12/13 sample | {@link QUICK_SUBSET} |
 * | `standard` (the default) | every case, 1–13 | 1–10 + a 12/13 sample | 1–10 + one 12/13 case per subsection |
 * | `full` | every case | every case | every case |
 *
 * Sections 12/13 are what costs: each case pushes 1000 compressed messages through the Python
 * fuzzer, about 10 minutes for all 216 of them per testee on 2 cores, so only the reference testee
 * gets them all by default (about 20–25 minutes in all); `--full` takes well over an hour.
 *
 * @example
 * ```ts
 * import { selectTestees } from "./matrix.ts";
 * selectTestees({ mode: "quick", only: ["*deno*"] });
 * ```
 * @module
 */

/** Where a testee runs. node20 is /usr/bin/node (bundled first), node24 the newer devDependency. */
export type Runtime = "deno" | "bun" | "node20" | "node24" | "chromium";
/** `server` runs under `wstest -m fuzzingclient`; `client` against `wstest -m fuzzingserver`. */
export type Role = "server" | "client";

/** One row of the matrix. */
export interface Testee {
  /** Report agent name, unique per role; lower-case letters, digits and dashes (wstest file names). */
  agent: string;
  /** What is tested: "engine", "native", "deno-upgrade", "bun-handlers", or the peer "ws". */
  testee: string;
  runtime: Runtime;
  role: Role;
  /** Program under conformance/testees/. */
  entry: string;
  /** Extra arguments besides --port (and --agent for clients). */
  args: string[];
  /** Gets the full case list in quick mode. */
  main: boolean;
  /** A comparison peer (not our code). */
  peer: boolean;
}

/** Every case, 1–13. 12/13 need permessage-deflate; without it they score UNIMPLEMENTED. */
export const ALL_CASES: readonly string[] = ["*"];

/**
 * Quick-mode list for the main testees (the engine server and client on Deno): every case of 1–10
 * and a sample of 12/13. All of 12/13 (216 cases, 1000 messages each through the Python fuzzer's
 * compressor) costs ~8–15 minutes per testee on 2 cores, more than a CI run can give; the sample
 * keeps every corpus (12.1–12.5) and every parameter set (13.1–13.7) at a small, a large and an
 * auto-fragmented size. The full run (no --quick) has all of them.
 */
export const MAIN_QUICK_CASES: readonly string[] = [
  "1.*",
  "2.*",
  "3.*",
  "4.*",
  "5.*",
  "6.*",
  "7.*",
  "9.*",
  "10.*",
  "12.*.1",
  "12.*.9",
  "12.*.17",
  "13.*.1",
  "13.*.9",
  "13.*.17",
];

/** Standard mode for the non-main testees: all of 1–10 and the smallest case of each 12/13 subsection. */
export const STANDARD_CASES: readonly string[] = [
  "1.*",
  "2.*",
  "3.*",
  "4.*",
  "5.*",
  "6.*",
  "7.*",
  "9.*",
  "10.*",
  "12.*.1",
  "13.*.1",
];

/** Which cases each testee gets; see the module doc. */
export type Mode = "quick" | "standard" | "full";

/**
 * Quick-mode subset for the non-main testees: at least one case of every subsection that exercises a
 * different code path (length encodings, chopped frames, pings, RSV, opcodes, fragmentation with
 * interleaved control frames, UTF-8 validation incl. fail-fast, every close rule, one small case of
 * each section 9 group, auto-fragmentation and one deflate case), while skipping the cases that only
 * repeat a path at another size or wait on purpose (6.4.x fail-fast waits, most of 9.*).
 */
export const QUICK_SUBSET: readonly string[] = [
  "1.1.1",
  "1.1.2",
  "1.1.3",
  "1.1.6",
  "1.1.8",
  "1.2.1",
  "1.2.3",
  "1.2.8",
  "2.*",
  "3.*",
  "4.*",
  "5.1",
  "5.2",
  "5.3",
  "5.6",
  "5.9",
  "5.15",
  "5.18",
  "5.19",
  "6.1.*",
  "6.2.*",
  "6.3.*",
  "6.4.1",
  "6.5.*",
  "6.6.*",
  "6.8.*",
  "6.12.*",
  "6.21.*",
  "6.22.1",
  "7.1.*",
  "7.3.*",
  "7.5.1",
  "7.7.*",
  "7.9.*",
  "7.13.*",
  "9.1.1",
  "9.2.1",
  "9.3.1",
  "9.4.1",
  "9.5.1",
  "9.6.1",
  "9.7.1",
  "9.8.1",
  "10.*",
  "12.1.1",
  "13.1.1",
];

function row(
  agent: string,
  fields: Omit<Testee, "agent" | "args" | "main" | "peer"> & Partial<Testee>,
): Testee {
  return { agent, args: [], main: false, peer: false, ...fields };
}

/** The whole matrix, in run order (peers first: they validate the harness itself). */
export const TESTEES: readonly Testee[] = [
  row("ws-node20", {
    testee: "ws",
    runtime: "node20",
    role: "server",
    entry: "ws_server.ts",
    peer: true,
  }),
  row("ws-node20", {
    testee: "ws",
    runtime: "node20",
    role: "client",
    entry: "ws_client.ts",
    peer: true,
  }),
  row("engine-deno", {
    testee: "engine",
    runtime: "deno",
    role: "server",
    entry: "echo_server.ts",
    main: true,
  }),
  row("engine-deno", {
    testee: "engine",
    runtime: "deno",
    role: "client",
    entry: "echo_client.ts",
    args: ["--transport", "engine"],
    main: true,
  }),
  row("engine-bun", { testee: "engine", runtime: "bun", role: "server", entry: "echo_server.ts" }),
  row("engine-node20", {
    testee: "engine",
    runtime: "node20",
    role: "server",
    entry: "echo_server.ts",
  }),
  row("deno-upgrade", {
    testee: "deno-upgrade",
    runtime: "deno",
    role: "server",
    entry: "deno_upgrade_server.ts",
  }),
  row("bun-handlers", {
    testee: "bun-handlers",
    runtime: "bun",
    role: "server",
    entry: "bun_handlers_server.ts",
  }),
  row("engine-bun", {
    testee: "engine",
    runtime: "bun",
    role: "client",
    entry: "echo_client.ts",
    args: ["--transport", "engine"],
  }),
  row("engine-node20", {
    testee: "engine",
    runtime: "node20",
    role: "client",
    entry: "echo_client.ts",
    args: ["--transport", "engine"],
  }),
  row("native-deno", {
    testee: "native",
    runtime: "deno",
    role: "client",
    entry: "echo_client.ts",
    args: ["--transport", "native"],
  }),
  row("native-bun", {
    testee: "native",
    runtime: "bun",
    role: "client",
    entry: "echo_client.ts",
    args: ["--transport", "native"],
  }),
  row("native-node24", {
    testee: "native",
    runtime: "node24",
    role: "client",
    entry: "echo_client.ts",
    args: ["--transport", "native"],
  }),
  row("native-chromium", {
    testee: "native",
    runtime: "chromium",
    role: "client",
    entry: "chromium_client.ts",
  }),
];

/** `*` matches any run of characters; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${body}$`);
}

/** The id a testee is known by in reports, expectations and `--only`: `server/engine-deno`. */
export function testeeId(t: Pick<Testee, "role" | "agent">): string {
  return `${t.role}/${t.agent}`;
}

/**
 * Picks the testees to run: `only` globs match the id (`server/engine-deno`) or the bare agent
 * (`engine-deno`, which selects both roles). Every mode keeps every testee; the mode sets their
 * cases (see the module doc).
 *
 * @example
 * ```ts
 * selectTestees({ mode: "full", only: ["server/*"] }).length;
 * ```
 */
export function selectTestees(
  options: { mode: Mode; only?: string[]; cases?: string[] },
): { testee: Testee; cases: readonly string[] }[] {
  const patterns = (options.only ?? []).flatMap((s) => s.split(",")).filter(Boolean).map(
    globToRegExp,
  );
  return TESTEES
    .filter((t) =>
      patterns.length === 0 || patterns.some((re) => re.test(testeeId(t)) || re.test(t.agent))
    )
    .map((testee) => ({
      testee,
      cases: options.cases ?? casesFor(testee, options.mode),
    }));
}

function casesFor(testee: Testee, mode: Mode): readonly string[] {
  if (mode === "full") return ALL_CASES;
  if (mode === "quick") return testee.main ? MAIN_QUICK_CASES : QUICK_SUBSET;
  if (testee.main && testee.role === "server") return ALL_CASES;
  return testee.main ? MAIN_QUICK_CASES : STANDARD_CASES;
}
