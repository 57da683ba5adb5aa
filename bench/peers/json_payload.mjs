// Deterministic JSON-like text messages for the compression benchmark: API-style records with
// repeated keys, numbers, short strings and a little multi-byte UTF-8, from a seeded PRNG
// (mulberry32), so every run and every runtime sends the same bytes. Each message is valid
// JSON of exactly `size` UTF-8 bytes (padded with an ASCII "pad" field).
// Usage: import { jsonMessages } from "./json_payload.mjs"; jsonMessages(1024, 64, 1)

/** mulberry32: a tiny 32-bit seeded PRNG; returns floats in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "alpha",
  "bravo",
  "order",
  "pending",
  "shipped",
  "paid",
  "refund",
  "cart",
  "item",
  "user",
  "Zürich",
  "München",
  "São Paulo",
  "Kraków",
  "東京",
  "Ørsted",
  "café",
  "naïve",
  "blue",
  "green",
];
const STATUSES = ["ok", "pending", "failed", "retry"];

function record(rand, id) {
  const pick = (list) => list[Math.floor(rand() * list.length)];
  return {
    id,
    type: pick(["order", "event", "metric", "user"]),
    ts: 1_700_000_000_000 + Math.floor(rand() * 1e9),
    user: {
      id: Math.floor(rand() * 100_000),
      name: `${pick(WORDS)} ${pick(WORDS)}`,
      vip: rand() < 0.2,
    },
    status: pick(STATUSES),
    amount: Math.round(rand() * 100_000) / 100,
    tags: [pick(WORDS), pick(WORDS)],
    geo: {
      lat: Math.round((rand() * 180 - 90) * 1e5) / 1e5,
      lon: Math.round((rand() * 360 - 180) * 1e5) / 1e5,
    },
  };
}

const utf8Length = (text) => new TextEncoder().encode(text).length;

/** One JSON message of exactly `size` UTF-8 bytes (size ≥ 64). */
export function jsonMessage(size, rand) {
  const items = [];
  const seq = Math.floor(rand() * 1e9);
  let id = Math.floor(rand() * 1e6);
  // Add whole records while they fit, then pad to the exact byte size.
  for (;;) {
    const next = [...items, record(rand, id++)];
    if (utf8Length(JSON.stringify({ seq, items: next, pad: "" })) > size) break;
    items.push(next[next.length - 1]);
  }
  const base = JSON.stringify({ seq, items, pad: "" });
  const missing = size - utf8Length(base);
  if (missing < 0) throw new Error(`size ${size} too small for one record`);
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let pad = "";
  for (let i = 0; i < missing; i++) pad += alphabet[Math.floor(rand() * alphabet.length)];
  const text = base.slice(0, -2) + pad + '"}';
  if (utf8Length(text) !== size) throw new Error("jsonMessage: size mismatch");
  return text;
}

/** `count` distinct JSON messages of `size` bytes from `seed` (same seed → same messages). */
export function jsonMessages(size, count, seed = 1) {
  const rand = prng(seed);
  return Array.from({ length: count }, () => jsonMessage(size, rand));
}
