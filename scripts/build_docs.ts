/**
 * Generates the HTML API reference from the JSDoc of every `deno.json`
 * export with `deno doc --html`: one page per entry point and symbol, usage
 * lines with the package name (`@wsc/websocket-channel/engine`), the
 * examples and a search. The same reference JSR shows after publication.
 *
 * Usage: `deno run -A scripts/build_docs.ts [--out DIR]` (also `npm run docs`);
 * writes `.build/api/` by default (git-ignored) and prints the index page.
 * Exits non-zero when `deno doc` fails.
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const deno = Deno.env.get("WSC_DENO") ?? `${root}/node_modules/.bin/deno`;

const outIndex = Deno.args.indexOf("--out");
const out = outIndex >= 0 ? Deno.args[outIndex + 1] : `${root}/.build/api`;
const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
const entries = Object.values(config.exports as Record<string, string>);

await Deno.remove(out, { recursive: true }).catch(() => {}); // no pages of removed symbols
const { success } = await new Deno.Command(deno, {
  args: ["doc", "--html", `--name=${config.name}`, `--output=${out}`, ...entries],
  cwd: root,
}).spawn().status;
if (!success) Deno.exit(1);

// The "Usage" box of `deno doc --html` 2.9 names a subpath without the
// package (`from "engine"`); JSR shows `from "@wsc/websocket-channel/engine"`.
const subpaths = Object.keys(config.exports).filter((key) => key !== ".").map((key) =>
  key.slice(2)
);
const usage = new RegExp(`from &quot;(${subpaths.map(escape).join("|")})&quot;`, "g");
let fixed = 0;
for await (const file of htmlFiles(out)) {
  const html = await Deno.readTextFile(file);
  const next = html.replace(usage, (_m, subpath) => `from &quot;${config.name}/${subpath}&quot;`);
  if (next !== html) {
    await Deno.writeTextFile(file, next);
    fixed++;
  }
}
console.log(`usage lines with the package name: ${fixed} pages`);
console.log(`API reference of ${entries.length} entry points: ${out}/index.html`);

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

async function* htmlFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* htmlFiles(path);
    else if (entry.name.endsWith(".html")) yield path;
  }
}
