/**
 * Topics that are hard to carry on a NATS subject (empty, dots, wildcards,
 * escapes that look like our own, non-ASCII, lone surrogates): the subject
 * mapping's unit tests check their mapping, the server tests carry them.
 *
 * @module
 */

/** Awkward topic names; every one must map to its own subject and back. */
export const AWKWARD_TOPICS: readonly string[] = [
  "",
  " ",
  "room 1",
  "a.b",
  "a",
  "b",
  "a.b.c",
  ".",
  "..",
  "a.",
  ".a",
  "*",
  ">",
  "a.*",
  "a.>",
  "*.>",
  "a*b",
  "_",
  "__",
  "_2E",
  "a_2Eb", // what "a.b" escapes to: must not collide with it
  "__00E9",
  "é",
  "e\u0301", // é decomposed: another string, another subject
  "日本語",
  "😀",
  "\uD83D", // a lone surrogate
  "\uFFFD", // what a lone surrogate becomes in UTF-8
  "tab\tnew\nline\r",
  "\0",
  "$SYS.x",
  "-",
  "x".repeat(500),
];
