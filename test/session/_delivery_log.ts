/**
 * What the applications of session server processes received, read back
 * from their logs (written by `fixtures/session_server.ts`: `RECV <ms>
 * <session> <seq> <data>` for each delivery, `UNRECORDED <ms> <session>
 * <seq>` for each failed attempt to record one, `RECORDED …` for a later
 * success), and the check that each client send reached an application
 * once, or twice only where a second delivery is allowed: the first server
 * was killed between the application's handler and the record of its
 * acceptance, or it could not record it at all (the store was away for a
 * whole lease).
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";

/** A server process as the check needs it. */
export interface LoggedServer {
  /** Its log file. */
  readonly log: string;
  /** When the test sent it SIGKILL (`Date.now()`), `undefined` when it was never killed. */
  readonly killedAt: number | undefined;
}

/** One send as one server's application received it. */
export interface Received<S extends LoggedServer = LoggedServer> {
  readonly session: string;
  readonly seq: number;
  readonly data: string;
  /** When the application got it (`Date.now()` in the server process; one clock per machine). */
  readonly at: number;
  readonly server: S;
  /** Its index among that server's lines of the same session. */
  readonly index: number;
  /** How many lines of that session that server wrote. */
  readonly of: number;
  /** False when that server failed to record its acceptance and never did. */
  readonly recorded: boolean;
}

/** Parses the `RECV` lines of every server's log. */
export function readLogs<S extends LoggedServer>(servers: readonly S[]): Received<S>[] {
  const out: Received<S>[] = [];
  for (const server of servers) {
    if (!existsSync(server.log)) continue;
    out.push(...parseLog(readFileSync(server.log, "utf8"), server));
  }
  return out;
}

/** Parses one server's log text. */
export function parseLog<S extends LoggedServer>(text: string, server: S): Received<S>[] {
  const bySession = new Map<string, number>();
  const unrecorded = new Set<string>();
  const parsed = [];
  for (const line of text.split("\n")) {
    const [kind, at, session, seq, ...data] = line.split(" ");
    if (kind === "UNRECORDED") unrecorded.add(`${session} ${seq}`);
    else if (kind === "RECORDED") unrecorded.delete(`${session} ${seq}`);
    if (kind !== "RECV") continue;
    const index = bySession.get(session) ?? 0;
    bySession.set(session, index + 1);
    parsed.push({ session, seq: Number(seq), data: data.join(" "), at: Number(at), server, index });
  }
  return parsed.map((entry) => ({
    ...entry,
    of: bySession.get(entry.session)!,
    recorded: !unrecorded.has(`${entry.session} ${entry.seq}`),
  }));
}

/**
 * Groups deliveries by `<session> <seq>`, each group in the order the
 * applications got them (by time, not by the order of the servers).
 */
export function bySend<S extends LoggedServer>(received: readonly Received<S>[]) {
  const groups = new Map<string, Received<S>[]>();
  for (const entry of received) {
    const key = `${entry.session} ${entry.seq}`;
    const group = groups.get(key);
    if (group) group.push(entry);
    else groups.set(key, [entry]);
  }
  for (const group of groups.values()) group.sort((a, b) => a.at - b.at);
  return groups;
}

/**
 * Why a send's deliveries break the guarantee, or `undefined` when they
 * keep it: one delivery, or two where the first server was killed after
 * its handler and before the record (then the first copy is the last line
 * of that session on it, and the second came after the kill), or where
 * the first server lived on but never recorded the acceptance (its
 * attempts failed until it gave up: the store was away for a whole lease).
 */
export function duplicateFault(key: string, copies: readonly Received[]): string | undefined {
  if (copies.length === 1) return undefined;
  if (copies.length !== 2) return `${key} delivered ${copies.length} times`;
  const [first, second] = copies;
  const killedAt = first.server.killedAt;
  if (killedAt === undefined) {
    if (!first.recorded) return undefined;
    return `${key} delivered twice, the first time on a live server`;
  }
  if (first.index !== first.of - 1) return `${key}: not the last accepted before the kill`;
  if (!(second.at > killedAt)) {
    return `${key} delivered again at ${second.at}, before its first server was killed at ${killedAt}`;
  }
  return undefined;
}
