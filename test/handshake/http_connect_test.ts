import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConnectResponseReader,
  encodeConnectRequest,
  proxyFor,
} from "../../src/handshake/http_connect.ts";
import { checkProxySetting } from "../../src/handshake/proxy_setting.ts";
import { HandshakeError } from "../../src/handshake/errors.ts";

const envOf = (values: Record<string, string>) => (name: string) => values[name];

test("proxyFor: an explicit URL is used as is, no proxy without the option", () => {
  const env = envOf({ HTTP_PROXY: "http://env:1" });
  assert.equal(proxyFor(new URL("ws://a.test/"), "http://p:3128", env)?.host, "p:3128");
  assert.equal(proxyFor(new URL("ws://a.test/"), undefined, env), undefined);
});

test('proxyFor "env": HTTPS_PROXY for wss, HTTP_PROXY for ws and as fallback, lowercase first', () => {
  const both = envOf({ HTTPS_PROXY: "http://s:1", HTTP_PROXY: "http://h:1" });
  assert.equal(proxyFor(new URL("wss://a.test/"), "env", both)?.host, "s:1");
  assert.equal(proxyFor(new URL("ws://a.test/"), "env", both)?.host, "h:1");
  const httpOnly = envOf({ HTTP_PROXY: "http://h:1" });
  assert.equal(proxyFor(new URL("wss://a.test/"), "env", httpOnly)?.host, "h:1");
  const cases = envOf({ http_proxy: "http://lower:1", HTTP_PROXY: "http://upper:1" });
  assert.equal(proxyFor(new URL("ws://a.test/"), "env", cases)?.host, "lower:1");
  const empty = envOf({ http_proxy: "", HTTP_PROXY: "http://upper:1" });
  assert.equal(proxyFor(new URL("ws://a.test/"), "env", empty)?.host, "upper:1");
  assert.equal(proxyFor(new URL("ws://a.test/"), "env", envOf({})), undefined);
  const bare = envOf({ HTTP_PROXY: "proxy.corp:8080" });
  assert.equal(proxyFor(new URL("ws://a.test/"), "env", bare)?.href, "http://proxy.corp:8080/");
  assert.throws(
    () => proxyFor(new URL("wss://a.test/"), "env", envOf({ HTTPS_PROXY: "https://p:443" })),
    (error: Error) => error instanceof TypeError && /HTTPS_PROXY/.test(error.message),
  );
});

test("proxyFor: NO_PROXY entries (hosts, subdomains, ports, IPs, *)", () => {
  const through = (target: string, noProxy: string) =>
    proxyFor(new URL(target), "env", envOf({ HTTP_PROXY: "http://p:1", NO_PROXY: noProxy })) !==
      undefined;
  assert.equal(through("ws://a.test/", "*"), false);
  assert.equal(through("ws://a.test/", "b.test, a.test"), false);
  assert.equal(through("ws://api.a.test/", "a.test"), false, "a subdomain");
  assert.equal(through("ws://api.a.test/", ".a.test"), false);
  assert.equal(through("ws://api.a.test/", "*.a.test"), false);
  assert.equal(through("ws://xa.test/", "a.test"), true, "not a suffix of the label");
  assert.equal(through("ws://a.test:8080/", "a.test:8080"), false);
  assert.equal(through("ws://a.test/", "a.test:8080"), true, "port 80 is not 8080");
  assert.equal(through("wss://a.test/", "a.test:443"), false, "the default port of wss");
  assert.equal(through("ws://127.0.0.1:9/", "127.0.0.1"), false);
  assert.equal(through("ws://[::1]:9/", "::1"), false);
  assert.equal(through("ws://[::1]:9/", "[::1]:9"), false);
  assert.equal(through("ws://[::1]:9/", "[::1]:10"), true);
  assert.equal(through("ws://A.Test/", "a.TEST"), false, "case-insensitive");
  assert.equal(through("ws://a.test/", ""), true);
  assert.equal(
    proxyFor(
      new URL("ws://a.test/"),
      "env",
      envOf({ HTTP_PROXY: "http://p:1", no_proxy: "a.test" }),
    ),
    undefined,
    "lowercase no_proxy",
  );
});

test("checkProxySetting: only env and http:// URLs with a host", () => {
  assert.equal(checkProxySetting("env"), "env");
  assert.equal((checkProxySetting(new URL("http://u:p@p:1")) as URL).username, "u");
  for (const bad of ["https://p", "socks5://p:1080", "p:3128", "", "http://"]) {
    assert.throws(() => checkProxySetting(bad), TypeError, bad);
  }
});

test("encodeConnectRequest: authority form, Host, Basic credentials percent-decoded as UTF-8", () => {
  const text = (target: string, proxy: string) =>
    new TextDecoder().decode(encodeConnectRequest(new URL(target), new URL(proxy)));
  assert.equal(
    text("ws://a.test/chat?x=1", "http://p:1"),
    "CONNECT a.test:80 HTTP/1.1\r\nHost: a.test:80\r\n\r\n",
  );
  assert.equal(
    text("wss://[::1]:9443/", "http://p:1"),
    "CONNECT [::1]:9443 HTTP/1.1\r\nHost: [::1]:9443\r\n\r\n",
  );
  const bytes = new TextEncoder().encode("jürgen:p@ss:w");
  const expected = btoa(String.fromCharCode(...bytes));
  assert.match(
    text("wss://a.test/", "http://j%C3%BCrgen:p%40ss%3Aw@p:1"),
    new RegExp(`\r\nProxy-Authorization: Basic ${expected}\r\n`),
  );
});

test("ConnectResponseReader: any split, HTTP/1.0 too, the bytes after the head kept", () => {
  const answer = new TextEncoder().encode(
    "HTTP/1.0 200 Connection established\r\nVia: p\r\n\r\nXY",
  );
  for (let cut = 1; cut < answer.length; cut++) {
    const reader = new ConnectResponseReader();
    const first = reader.push(answer.subarray(0, cut));
    const result = first ?? reader.push(answer.subarray(cut));
    assert.ok(result, `cut at ${cut}`);
    assert.equal(result.status, 200);
    assert.equal(result.statusText, "Connection established");
    if (!first) assert.equal(new TextDecoder().decode(result.rest), "XY");
  }
});

test("ConnectResponseReader: an oversized or malformed head is a HandshakeError, never buffered on", () => {
  const reader = new ConnectResponseReader({ maxHeadSize: 1024 });
  reader.push(new TextEncoder().encode("HTTP/1.1 200 OK\r\n"));
  const line = new TextEncoder().encode(`X: ${"a".repeat(100)}\r\n`);
  assert.throws(() => {
    for (let i = 0; i < 20; i++) reader.push(line);
  }, HandshakeError);
  for (const bad of ["SSH-2.0-OpenSSH\r\n\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n"]) {
    assert.throws(
      () => new ConnectResponseReader().push(new TextEncoder().encode(bad)),
      HandshakeError,
      bad,
    );
  }
});
