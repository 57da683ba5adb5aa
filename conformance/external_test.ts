import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { currentRuntime, runtimes } from "../test/_util/runtimes.ts";
import {
  fuzzerMissing,
  type Harness,
  harness,
  outsideFixtures,
  outsideServer,
} from "../test/_util/conformance_harness.ts";

// `npm run conformance -- --server URL` / `--client CMD` end to end: the harness (a Deno process, as
// users run it) against small outside programs in plain Node + `ws`
// (conformance/testees/outside/). Each run takes a few cases only (1–5 s). They run under every
// runtime's test stage (the runtime running this file only spawns processes); the slowest one, a
// server that stops answering (3 × wstest's 5 s opening-handshake timeout), only under Deno.
// Skipped with the reason when the fuzzer is not installed (scripts/setup.sh installs it on CI).

const fixtures = outsideFixtures;
const node = runtimes.node20;
const skip = fuzzerMissing();

const ids = (h: Harness, status: string) =>
  h.summary.cases.filter((c) => c.status === status).map((c) => c.id);

test(
  "--server: a ws echo server passes; HTML, JSON, markdown and JUnit reports",
  { skip },
  async () => {
    const server = await outsideServer();
    try {
      const h = await harness(["--server", server.url, "--cases", "1.1.*,6.3.*"]);
      assert.equal(h.code, 0, h.stdout);
      assert.equal(h.summary.counts.OK, 10);
      assert.match(h.stdout, /^ {2}1\.1 +8\/8 +OK 8 /m);
      assert.match(h.stdout, /^ {2}6\.3 +2\/2 +OK 2 /m);
      assert.match(h.stdout, /^total \d+\.\ds: OK 10$/m);
      assert.match(h.stdout, /conformance gate: pass/);
      assert.equal(h.junit.match(/<testcase /g)?.length, 10);
      assert.match(h.junit, /failures="0" errors="0"/);
      assert.ok(existsSync(join(h.report, "autobahn", "index.html")));
      assert.match(await readFile(join(h.report, "summary.md"), "utf8"), /Gate: \*\*pass\*\*/);
      await rm(h.report, { recursive: true });
    } finally {
      await server.stop();
    }
  },
);

test(
  "--server: a server that skips UTF-8 validation fails, FAILED cases named; --expect accepts them",
  {
    skip,
  },
  async () => {
    const server = await outsideServer("no-utf8-check");
    try {
      const h = await harness(["--server", server.url, "--cases", "1.1.1,6.3.*"]);
      assert.equal(h.code, 1, h.stdout);
      assert.match(h.stdout, /^FAILED \(2\): 6\.3\.1, 6\.3\.2$/m);
      assert.match(h.stdout, /conformance gate: FAIL/);
      assert.deepEqual(ids(h, "fail"), ["6.3.1", "6.3.2"]);
      assert.equal(h.junit.match(/<failure /g)?.length, 2);
      const expect = join(h.report, "accepted.json");
      await writeFile(
        expect,
        JSON.stringify({
          "*": { "6.3.*": { result: "FAILED", reason: "no UTF-8 validation (known)" } },
        }),
      );
      const accepted = await harness([
        "--server",
        server.url,
        "--cases",
        "1.1.1,6.3.*",
        "--expect",
        expect,
      ]);
      assert.equal(accepted.code, 0, accepted.stdout);
      assert.match(accepted.junit, /name="reason" value="no UTF-8 validation \(known\)"/);
      await rm(h.report, { recursive: true });
      await rm(accepted.report, { recursive: true });
    } finally {
      await server.stop();
    }
  },
);

test("--server: a server killed mid-run gives a non-zero exit and names the missing cases", {
  skip,
}, async () => {
  // SIGKILLs itself when the 4th connection (case 1.1.4) arrives.
  const server = await outsideServer("die-after=3");
  try {
    const h = await harness(["--server", server.url, "--cases", "1.1.*"]);
    assert.equal(h.code, 1, h.stdout);
    // The case whose connection killed it FAILED; the next one too when wstest reconnected while
    // the dying process still held its listening socket. Everything after is missing.
    assert.match(
      h.stdout,
      /ERROR: the server stopped accepting connections during case 1\.1\.[45]/,
    );
    assert.match(h.stdout, /^MISSING \([34]\): (1\.1\.5, )?1\.1\.6, 1\.1\.7, 1\.1\.8$/m);
    assert.deepEqual(ids(h, "pass"), ["1.1.1", "1.1.2", "1.1.3"]);
    assert.deepEqual(ids(h, "missing").slice(-3), ["1.1.6", "1.1.7", "1.1.8"]);
    assert.match(h.junit, /<error message="no result/);
    await rm(h.report, { recursive: true });
  } finally {
    await server.stop();
  }
});

test("--server: a server that stops answering handshakes is given up after 3 cases", {
  skip: skip ||
    (currentRuntime !== "deno" && "slow (15 s of fuzzer timeouts): the deno stage runs it"),
}, async () => {
  const server = await outsideServer("hang-after=2");
  try {
    const h = await harness(["--server", server.url, "--cases", "1.1.*,1.2.1"]);
    assert.equal(h.code, 1, h.stdout);
    assert.match(h.stdout, /ERROR: the server stopped answering opening handshakes/);
    assert.match(h.stdout, /^MISSING \(\d\): .*1\.2\.1$/m);
    assert.deepEqual(ids(h, "pass"), ["1.1.1", "1.1.2"]);
    await rm(h.report, { recursive: true });
  } finally {
    await server.stop();
  }
});

test("--client: an echo client command runs once per case; one that does not exit is killed", {
  skip,
}, async () => {
  const client = `${node} ${join(fixtures, "ws_echo_client.mjs")}`;
  const h = await harness(["--client", `${client} {url}`, "--cases", "1.1.1,1.1.2,2.1,6.3.1"]);
  assert.equal(h.code, 0, h.stdout);
  assert.equal(h.summary.counts.OK, 4);
  assert.equal(h.junit.match(/<testcase /g)?.length, 4);
  assert.ok(existsSync(join(h.report, "autobahn", "index.html")));
  assert.match(
    await readFile(join(h.report, "logs", "client.log"), "utf8"),
    /runCase\?case=4&agent=testee/,
  );
  // Echoes, then lingers after the close: graded OK, then its process group is killed.
  const lingering = await harness(
    ["--client", `${client} "{url}"; sleep 30`, "--cases", "1.1.1", "--case-timeout", "20"],
  );
  assert.equal(lingering.code, 0, lingering.stdout);
  assert.match(
    lingering.summary.cases[0].note ?? "",
    /did not exit after the server closed; killed/,
  );
  await rm(h.report, { recursive: true });
  await rm(lingering.report, { recursive: true });
});

test("--client: a command that never connects fails with the cases named", { skip }, async () => {
  const h = await harness(["--client", "exit 3 # {url}", "--cases", "1.1.1,1.1.2,1.1.3,1.1.4"]);
  assert.equal(h.code, 1, h.stdout);
  assert.match(h.stdout, /no result for 3 cases in a row/);
  assert.match(h.stdout, /^MISSING \(4\): 1\.1\.1, 1\.1\.2, 1\.1\.3, 1\.1\.4$/m);
  await rm(h.report, { recursive: true });
});
