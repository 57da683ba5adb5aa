import assert from "node:assert/strict";
import { test } from "node:test";
import { FieldHeaders } from "../../src/handshake/field_headers.ts";

/** Fields as a client may send them: mixed case, repeats, padding, empty values. */
const RAW = [
  "Host",
  "example.com:8080",
  "CONNECTION",
  "keep-alive",
  "connection",
  " Upgrade\t",
  "Sec-WebSocket-Protocol",
  "chat",
  "sec-websocket-protocol",
  "superchat",
  "X-Empty",
  "",
  "Sec-WebSocket-Key",
  "dGhlIHNhbXBsZSBub25jZQ==",
];

test("FieldHeaders.get answers as a Headers filled from the same fields", () => {
  const fields = new FieldHeaders(RAW);
  const headers = new Headers();
  for (let i = 0; i < RAW.length; i += 2) headers.append(RAW[i], RAW[i + 1]);
  const names = [
    "host",
    "connection",
    "sec-websocket-protocol",
    "x-empty",
    "sec-websocket-key",
    "origin",
    "upgrade",
    "hos",
    "hostx",
  ];
  for (const name of names) assert.equal(fields.get(name), headers.get(name), name);
  assert.equal(fields.get("connection"), "keep-alive, Upgrade");
  assert.equal(fields.get("x-empty"), "");
  assert.equal(fields.get("origin"), null);
});

test("FieldHeaders.get: no fields, a name without its value, names past ASCII", () => {
  assert.equal(new FieldHeaders([]).get("host"), null);
  // An odd count (never from node:http): the unpaired name is no field.
  assert.equal(new FieldHeaders(["Host", "a", "Origin"]).get("origin"), null);
  // Only A–Z fold: a Latin-1 name never matches an ASCII one.
  assert.equal(new FieldHeaders(["Ho\u00d3t", "a"]).get("ho\u00f3t"), null);
});

test("FieldHeaders.appendTo appends every field in order, repeats kept", () => {
  const request = new Request("http://example.com/");
  new FieldHeaders(RAW).appendTo(request.headers);
  assert.equal(request.headers.get("connection"), "keep-alive, Upgrade");
  assert.equal(request.headers.get("sec-websocket-protocol"), "chat, superchat");
  assert.equal(request.headers.get("host"), "example.com:8080");
  // Headers validates as always: a value with a line break is a TypeError.
  assert.throws(() => new FieldHeaders(["X", "a\r\nb: c"]).appendTo(new Headers()), TypeError);
});
