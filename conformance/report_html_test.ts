import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type ExternalOutcome, judge } from "./external_report.ts";
import { detailFile, renderHtml } from "./report_html.ts";
import { currentRuntime, repoRoot } from "../test/_util/runtimes.ts";
import { fuzzerMissing, harness, outsideServer } from "../test/_util/conformance_harness.ts";

// The HTML page of an outside run (report_html.ts): markup checks everywhere, then a real run
// against a server that skips UTF-8 validation (so two cases FAIL), split over two fuzzer
// processes, opened in headless Chromium: the DOM must show every case row, the right counts and the
// FAILED rows highlighted, and wstest's merged page every case. A screenshot of the page stays in
// conformance/report/html-check-<runtime>/index.png for a person to look at.

const CHROMIUM = "/usr/bin/chromium";

test("renderHtml: escapes, links each case to wstest's detail page, marks FAILED and MISSING", () => {
  const outcome: ExternalOutcome = {
    role: "client",
    target: `my_client <b>{url}</b> & more`,
    agent: "My-Client",
    planned: ["1.1.1", "6.3.1", "6.3.2"],
    results: {
      "1.1.1": {
        id: "1.1.1",
        behavior: "OK",
        behaviorClose: "OK",
        duration: 4,
        remoteCloseCode: 1000,
      },
      "6.3.1": {
        id: "6.3.1",
        behavior: "FAILED",
        behaviorClose: "FAILED",
        duration: 2,
        remoteCloseCode: null,
        description: "Send invalid UTF-8 <text>",
      },
    },
    errors: ["the client produced no result"],
    started: "2025-01-01T00:00:00.000Z",
    seconds: 3,
    fuzzer: "autobahntestsuite 25.10.1 (venv)",
    jobs: 2,
  };
  const page = renderHtml(outcome, judge(outcome, undefined));
  assert.equal(detailFile("My-Client", "6.3.1"), "my_client_case_6_3_1.html");
  assert.match(page, /my_client &lt;b&gt;\{url\}&lt;\/b&gt; &amp; more/);
  assert.doesNotMatch(page, /<b>\{url\}/);
  assert.match(page, /Send invalid UTF-8 &lt;text&gt;/);
  assert.match(page, /<a href="autobahn\/my_client_case_1_1_1\.html">1\.1\.1<\/a>/);
  assert.match(page, /<tr class="case failed verdict-fail" data-case="6\.3\.1"/);
  // No result, so no detail page to link to.
  assert.match(
    page,
    /<tr class="case missing verdict-missing" data-case="6\.3\.2"[^>]*><td>6\.3\.2<\/td>/,
  );
  assert.match(page, /id="gate" class="gate fail">FAIL/);
  assert.match(page, /data-behavior="FAILED" data-count="1"/);
  assert.match(page, /<li>the client produced no result<\/li>/);
  assert.match(page, /2 fuzzer processes at once/);
});

const skip = currentRuntime === "bun"
  ? "playwright-core runs under Node or Deno"
  : !existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM}`
  : fuzzerMissing();

test("the report page in headless Chromium: case rows, counts, FAILED highlighted", {
  skip,
}, async () => {
  const report = join(repoRoot, "conformance", "report", `html-check-${currentRuntime}`);
  await rm(report, { recursive: true, force: true });
  const server = await outsideServer("no-utf8-check");
  let h;
  try {
    h = await harness(
      ["--server", server.url, "--cases", "1.1.1,1.1.2,6.3.*,9.1.1", "--jobs", "2"],
      { report },
    );
  } finally {
    await server.stop();
  }
  assert.equal(h.code, 1, h.stdout);
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    await page.goto(pathToFileURL(join(report, "index.html")).href);
    // Runs in the page (a string: this file is type-checked without the DOM library).
    const seen = await page.evaluate(`(() => {
      const rows = [...document.querySelectorAll("#cases tr.case")];
      const counts = Object.fromEntries(
        [...document.querySelectorAll("#counts li")].map((li) => [li.dataset.behavior, li.textContent]),
      );
      return {
        title: document.querySelector("h1")?.textContent,
        gate: document.querySelector("#gate")?.textContent,
        counts,
        rows: rows.map((row) => ({
          id: row.dataset.case,
          result: row.querySelector(".result")?.textContent,
          verdict: row.querySelector(".verdict")?.textContent,
          background: getComputedStyle(row).backgroundColor,
          weight: getComputedStyle(row.cells[0]).fontWeight,
          link: row.querySelector("a")?.getAttribute("href"),
          visible: row.getBoundingClientRect().height > 0,
        })),
      };
    })()`) as {
      title?: string;
      gate?: string;
      counts: Record<string, string>;
      rows: {
        id: string;
        result: string;
        verdict: string;
        background: string;
        weight: string;
        link?: string;
        visible: boolean;
      }[];
    };
    await page.screenshot({ path: join(report, "index.png"), fullPage: true });
    assert.match(seen.title ?? "", /^Autobahn\|Testsuite: server ws:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(seen.gate, "FAIL");
    assert.equal(seen.counts.OK, "3OK");
    assert.equal(seen.counts.FAILED, "2FAILED");
    assert.equal(seen.counts.MISSING, "0MISSING");
    assert.deepEqual(seen.rows.map((r) => r.id), ["1.1.1", "1.1.2", "6.3.1", "6.3.2", "9.1.1"]);
    assert.ok(seen.rows.every((r) => r.visible));
    const failed = seen.rows.filter((r) => r.result === "FAILED");
    assert.deepEqual(failed.map((r) => r.id), ["6.3.1", "6.3.2"]);
    const passed = seen.rows.filter((r) => r.result === "OK");
    // FAILED rows are red and bold, OK rows green and not bold.
    for (const r of failed) {
      assert.equal(r.background, "rgb(255, 205, 210)");
      assert.equal(r.weight, "700");
      assert.equal(r.verdict, "fail");
    }
    for (const r of passed) {
      assert.equal(r.background, "rgb(232, 245, 233)");
      assert.equal(r.weight, "400");
    }
    // Each case links to wstest's detail page, which exists and is the right case.
    await page.goto(pathToFileURL(join(report, failed[0].link!)).href);
    assert.match(await page.textContent("body") ?? "", /Case 6\.3\.1/);
    // wstest's own page, rebuilt over both fuzzer processes: every case run, with its outcome.
    await page.goto(pathToFileURL(join(report, "autobahn", "index.html")).href);
    const cells = await page.evaluate(`Object.fromEntries(
      [...document.querySelectorAll("tr.agent_case_result_row")].map((row) => [
        row.querySelector("td.case")?.textContent,
        row.querySelector("td:nth-child(2)")?.className,
      ]),
    )`) as Record<string, string>;
    assert.equal(cells["Case 1.1.1"], "case_ok");
    assert.equal(cells["Case 1.1.2"], "case_ok");
    assert.equal(cells["Case 9.1.1"], "case_ok");
    assert.equal(cells["Case 6.3.1"], "case_failed");
    assert.equal(cells["Case 6.3.2"], "case_failed");
    assert.equal(cells["Case 1.1.3"], "case_missing close_flex"); // not asked for
  } finally {
    await browser.close();
  }
  const png = await readFile(join(report, "index.png"));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  assert.ok((await stat(join(report, "index.png"))).size > 10_000);
});
