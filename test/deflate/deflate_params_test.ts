import { test } from "node:test";
import assert from "node:assert/strict";
import {
  acceptOffer,
  acceptResponse,
  createOffer,
  type DeflateParams,
} from "../../src/deflate/deflate_params.ts";
import { ProtocolError } from "../../src/engine/errors.ts";
import type { CompressionOptions } from "../../src/deflate/compression_options.ts";

const PMD = "permessage-deflate";

// ---- client offers -------------------------------------------------------

// options → offer header
const OFFERS: Array<[CompressionOptions, string]> = [
  // client_max_window_bits (no value) is offered unless clientMaxWindowBits: false.
  [{}, `${PMD}; client_no_context_takeover; client_max_window_bits`],
  [{ clientMaxWindowBits: false }, `${PMD}; client_no_context_takeover`],
  [
    { clientNoContextTakeover: false },
    `${PMD}; client_no_context_takeover; client_max_window_bits`,
  ],
  [{ clientMaxWindowBits: true }, `${PMD}; client_no_context_takeover; client_max_window_bits`],
  [{ clientMaxWindowBits: 12 }, `${PMD}; client_no_context_takeover; client_max_window_bits=12`],
  [
    { serverNoContextTakeover: true, clientMaxWindowBits: false },
    `${PMD}; server_no_context_takeover; client_no_context_takeover, ${PMD}; client_no_context_takeover`,
  ],
  [
    { serverMaxWindowBits: 10, clientMaxWindowBits: true },
    `${PMD}; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits, ` +
    `${PMD}; client_no_context_takeover; client_max_window_bits`,
  ],
];

test("createOffer follows the offer truth table, with a plain fallback after server requests", () => {
  for (const [options, expected] of OFFERS) {
    assert.equal(createOffer(options), expected, JSON.stringify(options));
  }
});

// ---- server: accepting offers -------------------------------------------

// [offer header, server options, expected response or null (declined)]
const SERVER_TABLE: Array<[string, CompressionOptions, string | null]> = [
  [PMD, {}, `${PMD}; server_no_context_takeover; client_no_context_takeover`],
  [
    `${PMD}; server_no_context_takeover`,
    {},
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  ],
  [
    `${PMD}; client_no_context_takeover`,
    {},
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  ],
  [
    PMD,
    { clientNoContextTakeover: true },
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  ],
  [
    `${PMD}; server_max_window_bits=10`,
    {},
    `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10`,
  ],
  [
    `${PMD}; server_max_window_bits=8`,
    {},
    `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8`,
  ],
  [
    `${PMD}; server_max_window_bits=15`,
    {},
    `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15`,
  ],
  [
    `${PMD}; server_max_window_bits=12`,
    { serverMaxWindowBits: 10 },
    `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10`,
  ],
  [
    PMD,
    { serverMaxWindowBits: 11 },
    `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11`,
  ],
  [
    `${PMD}; client_max_window_bits`,
    {},
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  ],
  [
    `${PMD}; client_max_window_bits`,
    { clientMaxWindowBits: 10 },
    `${PMD}; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10`,
  ],
  [
    `${PMD}; client_max_window_bits=9`,
    { clientMaxWindowBits: 12 },
    `${PMD}; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9`,
  ],
  [
    PMD,
    { clientMaxWindowBits: 10 },
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  ], // §7.1.2.2 MUST NOT
  [
    `${PMD}; server_max_window_bits="10"`,
    {},
    `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10`,
  ],
  [`Permessage-Deflate`, {}, `${PMD}; server_no_context_takeover; client_no_context_takeover`],
  [
    `x-webkit-deflate-frame, ${PMD}`,
    {},
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  ],
  // clientNoContextTakeover: false lets a client keep its context (only its own offer can ask otherwise):
  [PMD, { clientNoContextTakeover: false }, `${PMD}; server_no_context_takeover`],
  [
    `${PMD}; client_no_context_takeover`,
    { clientNoContextTakeover: false },
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  ],
  [
    `${PMD}; client_max_window_bits`,
    { clientNoContextTakeover: false, clientMaxWindowBits: 10 },
    `${PMD}; server_no_context_takeover; client_max_window_bits=10`,
  ],
  // Invalid offers are declined:
  [`${PMD}; server_max_window_bits=7`, {}, null],
  [`${PMD}; server_max_window_bits=16`, {}, null],
  [`${PMD}; server_max_window_bits=0`, {}, null],
  [`${PMD}; server_max_window_bits=08`, {}, null],
  [`${PMD}; server_max_window_bits=15.0`, {}, null],
  [`${PMD}; server_max_window_bits=-9`, {}, null],
  [`${PMD}; server_max_window_bits`, {}, null], // value required
  [`${PMD}; server_max_window_bits=""`, {}, null],
  [`${PMD}; client_max_window_bits=7`, {}, null],
  [`${PMD}; client_max_window_bits=16`, {}, null],
  [`${PMD}; server_no_context_takeover=1`, {}, null],
  [`${PMD}; client_no_context_takeover=true`, {}, null],
  [`${PMD}; server_no_context_takeover; server_no_context_takeover`, {}, null],
  [`${PMD}; client_max_window_bits; client_max_window_bits=10`, {}, null],
  [`${PMD}; foo=1`, {}, null],
  [`${PMD}; __proto__`, {}, null],
  [`${PMD}; constructor=1`, {}, null],
  [`${PMD}; SERVER_NO_CONTEXT_TAKEOVER`, {}, null],
  // Malformed header syntax declines everything:
  [`${PMD}; =1`, {}, null],
  [`${PMD};; server_no_context_takeover`, {}, null],
  [`${PMD}; server_max_window_bits="1 0"`, {}, null],
  [`${PMD}; server_max_window_bits="10`, {}, null],
  [`${PMD} server_no_context_takeover`, {}, null],
  [`${PMD}; a=b c`, {}, null],
  ["", {}, null],
  ["x-other", {}, null],
];

test("acceptOffer follows the server truth table and declines invalid offers without throwing", () => {
  for (const [header, options, expected] of SERVER_TABLE) {
    const result = acceptOffer(header, options);
    assert.equal(
      result === null ? null : result.response,
      expected,
      `${header} ${JSON.stringify(options)}`,
    );
  }
});

test("acceptOffer picks the first valid offer and skips invalid ones", () => {
  const header = `${PMD}; server_max_window_bits=16, ${PMD}; server_max_window_bits=11, ${PMD}`;
  assert.equal(
    acceptOffer(header)?.response,
    `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11`,
  );
  const dup = `${PMD}; foo, ${PMD}; client_no_context_takeover`;
  assert.equal(
    acceptOffer(dup)?.response,
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  );
});

test("acceptOffer reports the agreed parameters", () => {
  const result = acceptOffer(`${PMD}; server_max_window_bits=10; client_max_window_bits`, {
    clientMaxWindowBits: 12,
    clientNoContextTakeover: false,
  });
  assert.deepEqual(
    result?.params,
    {
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    } satisfies DeflateParams,
  );
});

test("acceptOffer never throws on hostile input", () => {
  const inputs = [
    "\u0000",
    "permessage-deflate; \u00ff=1",
    ",,,,",
    "a;".repeat(10000),
    '"',
    'permessage-deflate; a="\\',
    "é",
  ];
  for (const input of inputs) assert.doesNotThrow(() => acceptOffer(input));
  assert.equal(acceptOffer(undefined as unknown as string), null);
});

// ---- client: accepting responses ----------------------------------------

// [our options, server response, expected agreed params or "fail"]
const CLIENT_TABLE: Array<[CompressionOptions, string, Partial<DeflateParams> | "fail"]> = [
  [{}, PMD, {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  }],
  [{}, `${PMD}; server_no_context_takeover`, { serverNoContextTakeover: true }],
  [{}, `${PMD}; client_no_context_takeover`, { clientNoContextTakeover: true }],
  [{}, `${PMD}; server_max_window_bits=10`, { serverMaxWindowBits: 10 }], // §7.1.2.1 server MAY add it
  [{}, `${PMD}; server_max_window_bits=8`, { serverMaxWindowBits: 8 }],
  [{ clientMaxWindowBits: false }, `${PMD}; client_max_window_bits=10`, "fail"], // §7.1.2.2 not offered
  [{}, `${PMD}; client_max_window_bits=9`, { clientMaxWindowBits: 9 }], // offered by default
  [{ clientMaxWindowBits: true }, `${PMD}; client_max_window_bits=10`, { clientMaxWindowBits: 10 }],
  [{ clientMaxWindowBits: true }, `${PMD}; client_max_window_bits=8`, { clientMaxWindowBits: 8 }],
  [{ clientMaxWindowBits: true }, `${PMD}; client_max_window_bits`, "fail"], // value required in a response
  [{ clientMaxWindowBits: 11 }, `${PMD}; client_max_window_bits=12`, "fail"],
  [{ clientMaxWindowBits: 11 }, `${PMD}; client_max_window_bits=11`, { clientMaxWindowBits: 11 }],
  [{ clientMaxWindowBits: 11 }, PMD, { clientMaxWindowBits: 11 }],
  [{ serverMaxWindowBits: 10 }, `${PMD}; server_max_window_bits=10`, { serverMaxWindowBits: 10 }],
  [{ serverMaxWindowBits: 10 }, `${PMD}; server_max_window_bits=9`, { serverMaxWindowBits: 9 }],
  // Bigger than requested in the first offer, but the plain fallback offer lets the server add any value:
  [{ serverMaxWindowBits: 10 }, `${PMD}; server_max_window_bits=11`, { serverMaxWindowBits: 11 }],
  [{ serverMaxWindowBits: 10 }, `${PMD}; server_max_window_bits=16`, "fail"],
  [{ serverMaxWindowBits: 10 }, PMD, { serverMaxWindowBits: 15 }], // matches the fallback offer
  [{ serverNoContextTakeover: true }, PMD, { serverNoContextTakeover: false }], // fallback offer
  [{ serverNoContextTakeover: true }, `${PMD}; server_no_context_takeover`, {
    serverNoContextTakeover: true,
  }],
  [{}, `${PMD}; server_max_window_bits=7`, "fail"],
  [{}, `${PMD}; server_max_window_bits=16`, "fail"],
  [{}, `${PMD}; server_max_window_bits=0`, "fail"],
  [{}, `${PMD}; server_max_window_bits=08`, "fail"],
  [{}, `${PMD}; server_max_window_bits=15.0`, "fail"],
  [{}, `${PMD}; server_max_window_bits`, "fail"],
  [{}, `${PMD}; server_no_context_takeover; server_no_context_takeover`, "fail"],
  [{}, `${PMD}; server_no_context_takeover=1`, "fail"],
  [{}, `${PMD}; foo`, "fail"],
  [{}, `${PMD}; __proto__=1`, "fail"],
  [{}, `${PMD}, ${PMD}`, "fail"],
  [{}, `x-webkit-deflate-frame`, "fail"],
  [{}, `${PMD}; =`, "fail"],
];

test("acceptResponse follows the client truth table; everything else fails with 1010", () => {
  for (const [options, header, expected] of CLIENT_TABLE) {
    const label = `${JSON.stringify(options)} ← ${header}`;
    if (expected === "fail") {
      assert.throws(() => acceptResponse(header, options), (error: unknown) => {
        assert.ok(error instanceof ProtocolError, label);
        assert.equal(error.closeCode, 1010, label);
        assert.equal(error.code, "WS_DEFLATE_NEGOTIATION", label);
        return true;
      }, label);
    } else {
      const params = acceptResponse(header, options);
      assert.ok(params !== null, label);
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(params[key as keyof DeflateParams], value, `${label}: ${key}`);
      }
    }
  }
});

test("acceptResponse returns null when the server declined", () => {
  assert.equal(acceptResponse(null), null);
  assert.equal(acceptResponse(undefined), null);
  assert.equal(acceptResponse("  "), null);
});

test("every server response to our own offers is accepted by our client", () => {
  const optionSets: CompressionOptions[] = [
    {},
    { serverNoContextTakeover: true },
    { serverMaxWindowBits: 9 },
    { clientMaxWindowBits: true },
    { clientMaxWindowBits: 10, serverMaxWindowBits: 12, serverNoContextTakeover: true },
  ];
  const serverSets: CompressionOptions[] = [
    {},
    { clientNoContextTakeover: true },
    { clientNoContextTakeover: false },
    { clientMaxWindowBits: 9 },
    { clientMaxWindowBits: 9, clientNoContextTakeover: false },
    { serverMaxWindowBits: 10 },
  ];
  for (const client of optionSets) {
    for (const server of serverSets) {
      const accepted = acceptOffer(createOffer(client), server);
      assert.ok(accepted !== null);
      const params = acceptResponse(accepted.response, client);
      assert.deepEqual(
        params,
        accepted.params,
        `${JSON.stringify(client)} / ${JSON.stringify(server)}`,
      );
    }
  }
});
