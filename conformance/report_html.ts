/**
 * The harness's own HTML page of an outside run (`--report DIR` → `index.html`): the target, the
 * gate, the count of each outcome, and one row per case with its result, close code, what was
 * accepted and the verdict, FAILED and MISSING rows highlighted, each linking to wstest's detail page
 * (`autobahn/<agent>_case_<id>.html`, with the wire log). Self-contained (no scripts, no remote
 * resources), so it opens from a CI artifact as is. Pure; runs on Deno, Bun and Node.
 *
 * @example
 * ```ts
 * await writeFile("report/index.html", renderHtml(outcome, judge(outcome, undefined)));
 * ```
 * @module
 */
import {
  BEHAVIORS,
  caseGroup,
  countBehaviors,
  type ExternalOutcome,
  type Judgement,
  shortDescription,
} from "./external_report.ts";

const html = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** CSS class of a behaviour: `FAILED` → `failed`, `NON-STRICT` → `non-strict`. */
const cls = (behavior: string) => behavior.toLowerCase().replace(/[^a-z]+/g, "-");

/**
 * wstest's file name of a case's detail page: the agent lower-cased with every character outside
 * `[a-z0-9]` made `_` (trimmed), then `_case_` and the id with `_` for `.`.
 *
 * @example
 * ```ts
 * detailFile("My-Server", "6.4.1"); // "my_server_case_6_4_1.html"
 * ```
 */
export function detailFile(agent: string, id: string): string {
  const clean = agent.trim().toLowerCase().replace(/[^a-z0-9]/g, " ").trim().replace(/ /g, "_");
  return `${clean}_case_${id.replace(/\./g, "_")}.html`;
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
.gate { display: inline-block; padding: .2em .7em; border-radius: 4px; font-weight: bold; color: #fff; }
.gate.pass { background: #2e7d32; } .gate.fail { background: #c62828; }
#counts { list-style: none; padding: 0; display: flex; gap: .6em; flex-wrap: wrap; }
#counts li { padding: .3em .8em; border-radius: 4px; border: 1px solid #ccc; }
#counts li b { font-size: 1.3em; margin-right: .3em; }
.errors li { color: #c62828; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { background: #f3f3f3; position: sticky; top: 0; }
tr.group td { background: #fafafa; font-weight: bold; padding-top: .8em; }
.ok { background: #e8f5e9; } .non-strict { background: #fff8e1; } .informational { background: #e3f2fd; }
.unimplemented { background: #eeeeee; } .failed { background: #ffcdd2; } .missing { background: #ffe0b2; }
tr.failed td, tr.missing td { font-weight: bold; }
tr.failed td.verdict, tr.verdict-fail td.verdict { color: #b71c1c; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
`;

/**
 * The page. Rows carry `data-case`, `data-behavior` and `data-verdict`; the counts list carries
 * `data-behavior` and `data-count`; `#gate` says pass or FAIL.
 */
export function renderHtml(outcome: ExternalOutcome, judgement: Judgement): string {
  const counts = countBehaviors(outcome);
  const target = outcome.role === "server"
    ? `server ${outcome.target}`
    : `client ${outcome.target}`;
  const out = [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>Autobahn|Testsuite: ${html(target)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>Autobahn|Testsuite: ${html(target)}</h1>`,
    `<p>Agent <code>${html(outcome.agent)}</code>, ${outcome.planned.length} cases in ${
      outcome.seconds.toFixed(1)
    } s (${html(outcome.fuzzer)}${
      (outcome.jobs ?? 1) > 1 ? `, ${outcome.jobs} fuzzer processes at once` : ""
    }), started ${html(outcome.started)}.</p>`,
    `<p>Gate: <span id="gate" class="gate ${judgement.ok ? "pass" : "fail"}">${
      judgement.ok ? "pass" : "FAIL"
    }</span> (${
      html(
        judgement.expect
          ? `every result one that ${judgement.expect} accepts`
          : "passes when no case is FAILED or MISSING",
      )
    })</p>`,
    '<ul id="counts">',
    ...BEHAVIORS.map((b) =>
      `<li class="${cls(b)}" data-behavior="${b}" data-count="${counts[b]}"><b>${
        counts[b]
      }</b>${b}</li>`
    ),
    "</ul>",
    ...(outcome.errors.length
      ? ['<ul class="errors">', ...outcome.errors.map((e) => `<li>${html(e)}</li>`), "</ul>"]
      : []),
    "<p>wstest's own report, with every case's wire log: <a href=\"autobahn/index.html\">autobahn/index.html</a>.</p>",
    '<table id="cases"><thead><tr><th>case</th><th>description</th><th>result</th><th>close</th>' +
    "<th>accepted</th><th>verdict</th><th>ms</th><th>note</th></tr></thead><tbody>",
  ];
  let group: string | undefined;
  for (const v of judgement.verdicts) {
    const r = outcome.results[v.id];
    if (caseGroup(v.id) !== group) {
      group = caseGroup(v.id);
      out.push(`<tr class="group"><td colspan="8">${html(group)}</td></tr>`);
    }
    const behavior = r?.behavior ?? "MISSING";
    const id = r ? `<a href="autobahn/${detailFile(outcome.agent, v.id)}">${v.id}</a>` : v.id;
    out.push(
      `<tr class="case ${
        cls(behavior)
      } verdict-${v.status}" data-case="${v.id}" data-behavior="${behavior}" data-verdict="${v.status}">` +
        `<td>${id}</td><td>${html(shortDescription(r?.description))}</td>` +
        `<td class="result">${html(v.actual)}</td><td>${r?.remoteCloseCode ?? ""}</td>` +
        `<td>${html(v.expected.join(" or "))}</td><td class="verdict">${v.status}</td>` +
        `<td class="num">${r ? r.duration : ""}</td><td>${html(v.reason ?? "")}</td></tr>`,
    );
  }
  out.push("</tbody></table>", "</body></html>", "");
  return out.join("\n");
}
