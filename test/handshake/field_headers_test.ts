import assert from "node:assert/strict";
import { test } from "node:test";
import { FieldHeaders } from "../../src/handshake/field_headers.ts";
import { checkUpgradeRequest } from "../../src/handshake/server_handshake.ts";
import { SeededRandom } from "../_util/seeded_random.ts";

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
  // A field Headers refuses (a line break in the value) is left out, the rest kept.
  const headers = new Headers();
  new FieldHeaders(["X", "a\r\nb: c", "Y", "1"]).appendTo(headers);
  assert.deepEqual([...headers], [["y", "1"]]);
});

/** Field names and values a hostile client may mix: repeats, odd case, padding, empty elements. */
const NAMES = [
  "Host",
  "host",
  "Upgrade",
  "UPGRADE",
  "Connection",
  "connection",
  "Sec-WebSocket-Key",
  "sec-websocket-key",
  "Sec-WebSocket-Version",
  "Sec-WebSocket-Protocol",
  "Sec-WebSocket-Extensions",
  "Origin",
  "X-Other",
];
const VALUES = [
  "",
  " ",
  "websocket",
  "WebSocket ",
  "\tUpgrade",
  "keep-alive, Upgrade",
  ",,upgrade,,",
  "upgradefoo",
  "dGhlIHNhbXBsZSBub25jZQ==",
  " dGhlIHNhbXBsZSBub25jZQ== ",
  "AAAAAAAAAAAAAAAAAAAAAA==",
  "13",
  "13, 13",
  "8",
  "chat",
  "chat, superchat",
  ", chat",
  "permessage-deflate; client_max_window_bits",
  "permessage-deflate; =x",
  "https://ok.example",
  "null",
  "example.com:8080",
  "[::1]:80",
  "caf\u00e9",
];

test("FieldHeaders: seeded fields, every upgrade check decides as with a Headers of the same fields", async () => {
  const random = new SeededRandom(0x5eed);
  const options = { protocols: ["chat", "superchat"], origins: ["https://ok.example"] };
  // A valid request, then each case adds or replaces a few fields.
  const valid = [
    "Host",
    "a",
    "Upgrade",
    "websocket",
    "Connection",
    "Upgrade",
    "Sec-WebSocket-Key",
    "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version",
    "13",
  ];
  const outcomes = new Set<string>();
  for (let round = 0; round < 2000; round++) {
    const raw = random.int(4) === 0 ? [] : [...valid];
    for (let n = random.int(4); n > 0; n--) {
      const at = random.int(raw.length / 2 + 1) * 2;
      if (random.int(2) === 0 && at < raw.length) raw[at + 1] = random.pick(VALUES);
      else raw.splice(at, 0, random.pick(NAMES), random.pick(VALUES));
    }
    const headers = new Headers();
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
    const fromFields = checkUpgradeRequest(
      { method: "GET", headers: new FieldHeaders(raw) },
      options,
    );
    const fromHeaders = checkUpgradeRequest({ method: "GET", headers }, options);
    const summary = (result: Awaited<typeof fromFields>) =>
      result.ok
        ? `ok ${result.key} ${result.protocol} ${result.offeredExtensions} ${result.origin}`
        : `${result.response.status} ${result.response.body}`;
    const a = summary(await fromFields);
    assert.equal(a, summary(await fromHeaders), JSON.stringify(raw));
    outcomes.add(a.split(" ").slice(0, 2).join(" "));
  }
  // The cases reach both acceptance and the refusals, not only one answer.
  for (const status of ["ok", "400", "403", "426"]) {
    assert.ok([...outcomes].some((o) => o.startsWith(status)), `${status} in ${[...outcomes]}`);
  }
});
