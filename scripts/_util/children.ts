/**
 * The child processes a script spawned (servers, load clients), so that
 * every exit path kills them: the script's own end, an error, Ctrl-C or
 * SIGTERM.
 *
 * @module
 */

const children = new Set<Deno.ChildProcess>();
let listening = false;

/**
 * Remembers `child` until it exits; the first call also makes SIGINT and
 * SIGTERM kill every tracked child before the script exits (130).
 *
 * @example
 * ```ts ignore
 * import { killChildren, trackChild } from "./children.ts";
 *
 * const child = trackChild(new Deno.Command("sleep", { args: ["60"] }).spawn());
 * killChildren();
 * await child.status;
 * ```
 */
export function trackChild(child: Deno.ChildProcess): Deno.ChildProcess {
  children.add(child);
  child.status.then(() => children.delete(child));
  if (!listening) {
    listening = true;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        killChildren();
        Deno.exit(130);
      });
    }
  }
  return child;
}

/** SIGKILLs every tracked child still running. */
export function killChildren(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }
}
