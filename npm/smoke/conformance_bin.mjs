// The package's command, as npm installed it: node_modules/.bin/websocket-channel-conformance (run
// through its shebang, with this Node first on PATH). `--help` prints the usage and exits 0; bad
// invocations exit 2 before anything is installed (no fuzzer run here: conformance/external_test.ts
// covers that). The files the command runs are next to it, and the package still has no dependency.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const bin = join("node_modules", ".bin", "websocket-channel-conformance");
const pkg = join("node_modules", "websocket-channel");
const cache = mkdtempSync(join(tmpdir(), "wsc-bin-cache-"));
const env = {
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
  XDG_CACHE_HOME: cache,
  WSC_CONFORMANCE_HOME: "",
};

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function runBin(args) {
  const result = spawnSync(bin, args, { env, encoding: "utf8", timeout: 20_000 });
  if (result.error) throw result.error;
  return result;
}

try {
  const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
  assert(
    manifest.bin?.["websocket-channel-conformance"] === "bin/websocket-channel-conformance.js",
    `package.json bin: ${JSON.stringify(manifest.bin)}`,
  );
  for (const field of ["dependencies", "optionalDependencies"]) {
    assert(!manifest[field], `package.json has ${field}: ${JSON.stringify(manifest[field])}`);
  }
  for (const file of ["install.sh", "requirements-py27.txt", "wstest_driver.py"]) {
    assert(existsSync(join(pkg, "conformance", file)), `conformance/${file} is not in the package`);
  }

  const help = runBin(["--help"]);
  assert(help.status === 0, `--help exited with ${help.status}\n${help.stdout}${help.stderr}`);
  assert(
    /^usage:\n {2}websocket-channel-conformance --server /.test(help.stdout) &&
      help.stdout.includes("--client") && help.stdout.includes("--cases"),
    `--help printed:\n${help.stdout}${help.stderr}`,
  );

  const bad = [
    [[], /give exactly one of --server and --client/],
    [["--server", "http://127.0.0.1:9001/"], /needs a ws:\/\/ or wss:\/\/ URL/],
    [["--server", "ws://127.0.0.1:9001/", "--bogus"], /unknown option --bogus/],
    [["--client", "true {url}", "--case-timeout", "soon"], /--case-timeout needs a number/],
  ];
  for (const [args, message] of bad) {
    const result = runBin(args);
    assert(
      result.status === 2 && message.test(result.stderr) && result.stderr.includes("usage:"),
      `${args.join(" ") || "(no arguments)"}: exit ${result.status}\n${result.stderr}`,
    );
  }
  assert(readdirSync(cache).length === 0, "usage errors must not install anything");
  console.log(
    `websocket-channel-conformance: --help exit 0, ${bad.length} bad invocations exit 2`,
  );
} finally {
  rmSync(cache, { recursive: true, force: true });
}
