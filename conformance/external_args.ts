/**
 * The command line of the conformance harness's outside mode (`--server URL` / `--client CMD`, see
 * external.ts): options, usage, case selection and the client command template. Pure; runs on Deno,
 * Bun and Node.
 *
 * @example
 * ```ts
 * parseExternalArgs(["--server", "ws://127.0.0.1:9001/", "--cases", "1.*"]).cases; // ["1.*"]
 * ```
 * @module
 */
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expandCases } from "./summarize.ts";
import { defaultJobs } from "./split.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

export interface ExternalOptions {
  server?: string;
  client?: string;
  cases: string[];
  exclude: string[];
  expect?: string;
  report: string;
  agent: string;
  ca?: string;
  insecure: boolean;
  caseTimeoutMs: number;
  install: boolean;
  /** Fuzzer processes at once (split.ts); default one per core. */
  jobs: number;
  /** Folder holding install.sh, wstest_driver.py and .cache/ (the conformance folder). */
  home: string;
}

/** The usage text of the outside mode. */
export const USAGE = `usage:
  conformance --server ws[s]://HOST:PORT/PATH [options]   test a running server
  conformance --client "COMMAND {url}" [options]          test a client command (run once per case)
options:
  --cases GLOBS        cases to run, e.g. '1.*,6.3.*' (default: all 517)
  --exclude GLOBS      cases to leave out, e.g. '12.*,13.*' (the slow permessage-deflate sections)
  --expect FILE        accepted non-OK results with reasons (format of conformance/expectations.json)
  --report DIR         where the reports go (default conformance/report/external)
  --agent NAME         the name in the reports and expectation keys (default: testee)
  --case-timeout SEC   per case: stop waiting / kill the client after SEC seconds (default 120)
  --ca FILE            wss: trust this CA (PEM) when verifying the server's certificate
  --insecure           wss: do not verify the server's certificate
  --jobs N             fuzzer processes at once, each running a share of the cases (default: one
                       per core; section 9 always runs alone at the end)
  --no-install         do not run install.sh first
placeholders in COMMAND: {url} (quoted as needed), {case} (1-based index), {id} (e.g. 1.1.1), {agent}`;

/** Bad usage: the message says what (empty for --help). */
export class UsageError extends Error {}

/** True when the arguments ask for an outside run (`--server` or `--client`). */
export function isExternalRun(argv: readonly string[]): boolean {
  return argv.some((a) => /^--(server|client)(=|$)/.test(a));
}

/** Parses the command line of an outside run. */
export function parseExternalArgs(argv: readonly string[], home = HERE): ExternalOptions {
  const o: ExternalOptions = {
    cases: [],
    exclude: [],
    report: join(home, "report", "external"),
    agent: "testee",
    insecure: false,
    caseTimeoutMs: 120_000,
    install: true,
    jobs: defaultJobs(availableParallelism()),
    home,
  };
  const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--server":
        o.server = value();
        break;
      case "--client":
        o.client = value();
        break;
      case "--cases":
        o.cases.push(...list(value()));
        break;
      case "--exclude":
        o.exclude.push(...list(value()));
        break;
      case "--expect":
        o.expect = resolve(value());
        break;
      case "--report":
        o.report = resolve(value());
        break;
      case "--agent":
        o.agent = value();
        break;
      case "--ca":
        o.ca = resolve(value());
        break;
      case "--insecure":
        o.insecure = true;
        break;
      case "--case-timeout":
        o.caseTimeoutMs = Number(value()) * 1000;
        break;
      case "--no-install":
        o.install = false;
        break;
      case "--jobs":
        o.jobs = Number(value());
        break;
      case "--help":
      case "-h":
        throw new UsageError("");
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (!o.server === !o.client) throw new UsageError("give exactly one of --server and --client");
  if (o.server && !/^wss?:\/\/[^/]+/.test(o.server)) {
    throw new UsageError(`--server needs a ws:// or wss:// URL, not ${o.server}`);
  }
  if ((o.ca || o.insecure) && !o.server?.startsWith("wss:")) {
    throw new UsageError("--ca and --insecure apply to a wss:// server only");
  }
  if (!/^[A-Za-z0-9._-]+$/.test(o.agent)) {
    throw new UsageError("--agent: letters, digits, '.', '_' and '-' only");
  }
  if (!(o.caseTimeoutMs > 0)) throw new UsageError("--case-timeout needs a number of seconds");
  if (!Number.isInteger(o.jobs) || o.jobs < 1) {
    throw new UsageError("--jobs needs a whole number ≥ 1");
  }
  return o;
}

/** Selected case ids in suite order: `--cases` (default every case) minus `--exclude`. */
export function selectCases(cases: readonly string[], exclude: readonly string[]): string[] {
  const chosen = expandCases(cases.length > 0 ? cases : ["*"]);
  const dropped = new Set(expandCases(exclude));
  return chosen.filter((id) => !dropped.has(id));
}

/**
 * Fills a client command template: `{url}` is single-quoted where the template leaves it unquoted
 * (the URL holds `?` and `&`) and inserted as is inside quotes; `{case}`, `{id}`, `{agent}` as is.
 */
export function fillCommand(
  template: string,
  values: { url: string; case: number; id: string; agent: string },
): string {
  let out = "";
  let quote: "" | "'" | '"' = "";
  for (let i = 0; i < template.length; i++) {
    const ch = template[i];
    if (template.startsWith("{url}", i)) {
      out += quote ? values.url : `'${values.url}'`;
      i += 4;
      continue;
    }
    const name = ["{case}", "{id}", "{agent}"].find((p) => template.startsWith(p, i));
    if (name) {
      out += name === "{case}" ? String(values.case) : name === "{id}" ? values.id : values.agent;
      i += name.length - 1;
      continue;
    }
    if (ch === "\\" && quote !== "'") {
      out += ch + (template[i + 1] ?? "");
      i++;
      continue;
    }
    if (!quote && (ch === "'" || ch === '"')) quote = ch;
    else if (quote === ch) quote = "";
    out += ch;
  }
  return out;
}
