/**
 * Lists the names every `deno.json` entry point exports, values and types
 * alike, by reading the sources (TypeScript's parser, no type checking):
 * local declarations, `export { … } from`, `export type { … }`, and
 * `export * from` followed to the end. `test/exports_test.ts` pins the lists,
 * so a change to the public surface is always deliberate.
 *
 * Runs under Deno, Bun and Node. Usage: `deno run -A scripts/list_exports.ts`
 * prints each entry point with its names, ready to paste into the test.
 *
 * @module
 */
import ts from "typescript";
import { readFileSync } from "node:fs";
import { join, posix } from "node:path";
import process from "node:process";

/**
 * The names a module exports, sorted.
 *
 * @param root The repository root.
 * @param path The module, relative to `root` (e.g. `mod.ts`).
 * @returns Every exported name, values and types.
 *
 * @example
 * ```ts ignore
 * import { moduleExports } from "./list_exports.ts";
 *
 * console.log(moduleExports(".", "src/engine/mod.ts"));
 * ```
 */
export function moduleExports(root: string, path: string): string[] {
  return [...collect(root, posix.normalize(path), new Set())].sort();
}

function collect(root: string, path: string, seen: Set<string>): Set<string> {
  const names = new Set<string>();
  if (seen.has(path)) return names;
  seen.add(path);
  const source = ts.createSourceFile(
    path,
    readFileSync(join(root, path), "utf8"),
    ts.ScriptTarget.Latest,
  );
  const resolve = (specifier: string) =>
    posix.normalize(posix.join(posix.dirname(path), specifier));
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      const from = statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)
        ? statement.moduleSpecifier.text
        : undefined;
      const clause = statement.exportClause;
      if (clause === undefined && from !== undefined) {
        for (const name of collect(root, resolve(from), seen)) names.add(name);
      } else if (clause !== undefined && ts.isNamedExports(clause)) {
        for (const element of clause.elements) names.add(element.name.text);
      } else if (clause !== undefined && ts.isNamespaceExport(clause)) {
        names.add(clause.name.text);
      }
      continue;
    }
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    if (!modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (ts.isIdentifier(declaration.name)) names.add(declaration.name.text);
      }
    } else if (
      (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement) || ts.isModuleDeclaration(statement)) &&
      statement.name !== undefined && ts.isIdentifier(statement.name)
    ) {
      names.add(statement.name.text);
    }
  }
  return names;
}

/**
 * Every `deno.json` export with the names it exports.
 *
 * @param root The repository root.
 * @returns Subpath → sorted names.
 *
 * @example
 * ```ts ignore
 * import { entryPointExports } from "./list_exports.ts";
 *
 * console.log(entryPointExports(".")["./engine"]);
 * ```
 */
export function entryPointExports(root: string): Record<string, string[]> {
  const { exports } = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  const result: Record<string, string[]> = {};
  for (const [subpath, path] of Object.entries(exports as Record<string, string>)) {
    result[subpath] = moduleExports(root, path);
  }
  return result;
}

// Named in argv, not import.meta.main: a test bundle that inlines this module is the main module.
if (/list_exports\.[jt]s$/.test(process.argv[1] ?? "")) {
  const root = new URL("..", import.meta.url).pathname;
  for (const [subpath, names] of Object.entries(entryPointExports(root))) {
    console.log(`${JSON.stringify(subpath)}: [${names.map((n) => JSON.stringify(n)).join(", ")}],`);
  }
  process.exit(0);
}
