// Lean soak load client (Node, raw TCP, a minimal RFC 6455 client per socket): opens N
// connections to an echo server, prints "OPEN {stats}", then keeps a trickle of traffic: every
// second `--rate` of the connections (default 1%) send a small text message whose echo is checked
// byte for byte, `--ping-rate` (default 0.1%) send a ping whose pong is checked, and server pings
// (heartbeat) are answered. A line "release" on stdin closes every connection: 80% with a close
// handshake (1000), 10% with a FIN and no close frame, 10% with a reset; it prints
// "RELEASED {stats}" once every socket is gone (or after 30 s) and exits when stdin ends.
// Errors: failed upgrades, socket errors before release, unexpected closes, wrong or missing
// (10 s) echoes and pongs, frames that break the protocol. Stats every 10 s on stderr.
// Usage: node scripts/soak/client.mjs --port PORT [--connections 10000] [--rate 0.01]
//        [--ping-rate 0.001] [--seed 1]
import net from "node:net";
import { randomFillSync } from "node:crypto";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg("port"));
const total = Number(arg("connections", "10000"));
const rate = Number(arg("rate", "0.01"));
const pingRate = Number(arg("ping-rate", "0.001"));
let state = Number(arg("seed", "1")) >>> 0;
// Mulberry32: which connections talk, and what they say, repeat from run to run.
const random = () => {
  let t = (state = (state + 0x6d2b79f5) >>> 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const stats = {
  connections: 0,
  upgradeFailures: 0,
  socketErrors: 0,
  unexpectedCloses: 0,
  sent: 0,
  echoed: 0,
  wrongEchoes: 0,
  echoTimeouts: 0,
  pings: 0,
  pongs: 0,
  wrongPongs: 0,
  pongTimeouts: 0,
  serverPings: 0,
  protocolErrors: 0,
  closedClean: 0,
  closedFin: 0,
  closedReset: 0,
  releaseTimeouts: 0,
};
const errorKeys = [
  "upgradeFailures",
  "socketErrors",
  "unexpectedCloses",
  "wrongEchoes",
  "echoTimeouts",
  "wrongPongs",
  "pongTimeouts",
  "protocolErrors",
  "releaseTimeouts",
];
const errorCount = () => errorKeys.reduce((sum, key) => sum + stats[key], 0);
const samples = [];
const note = (text) => {
  if (samples.length < 10) samples.push(text);
};

const request = (i) =>
  `GET /soak/${i} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

/** A masked frame from the client (RFC 6455 §5.3), payloads under 126 bytes here. */
function frame(opcode, payload) {
  const out = Buffer.allocUnsafe(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  randomFillSync(out, 2, 4);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ out[2 + (i & 3)];
  return out;
}

class Connection {
  constructor(socket, id) {
    this.socket = socket;
    this.id = id;
    this.buffer = Buffer.alloc(0);
    this.echoes = []; // [payload, sentAt]
    this.pongs = [];
    this.seq = 0;
    this.releasing = false;
    this.gone = false;
  }

  send(opcode, payload) {
    this.socket.write(frame(opcode, payload));
  }

  message() {
    const text = `m${this.id}.${this.seq++}.${"x".repeat(Math.floor(random() * 64))}`;
    const payload = Buffer.from(text);
    this.echoes.push([payload, Date.now()]);
    this.send(0x1, payload);
    stats.sent++;
  }

  ping() {
    const payload = Buffer.from(`p${this.id}.${this.seq++}`);
    this.pongs.push([payload, Date.now()]);
    this.send(0x9, payload);
    stats.pings++;
  }

  onData(chunk) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      const opcode = b[0] & 0x0f;
      if ((b[1] & 0x80) !== 0 || (b[0] & 0x70) !== 0) {
        return this.protocolError("masked or RSV frame");
      }
      let length = b[1] & 0x7f;
      let at = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        return this.protocolError("64-bit length from an echo of a small message");
      }
      if (b.length < at + length) return;
      const payload = b.subarray(at, at + length);
      this.buffer = b.subarray(at + length);
      this.onFrame(opcode, payload);
      if (this.gone) return;
    }
  }

  onFrame(opcode, payload) {
    if (opcode === 0x1) {
      const expected = this.echoes.shift();
      if (expected === undefined || !expected[0].equals(payload)) {
        stats.wrongEchoes++;
        note(`conn ${this.id}: wrong echo ${payload.toString().slice(0, 40)}`);
      } else {
        stats.echoed++;
      }
    } else if (opcode === 0x9) {
      stats.serverPings++;
      if (!this.releasing) this.send(0xa, payload);
    } else if (opcode === 0xa) {
      const expected = this.pongs.shift();
      if (expected === undefined || !expected[0].equals(payload)) stats.wrongPongs++;
      else stats.pongs++;
    } else if (opcode === 0x8) {
      if (this.releasing) {
        stats.closedClean++;
      } else {
        stats.unexpectedCloses++;
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        note(`conn ${this.id}: server closed with ${code} ${payload.subarray(2).toString()}`);
        this.send(0x8, payload.subarray(0, 2));
      }
      this.socket.end();
      this.gone = true;
    } else {
      this.protocolError(`opcode ${opcode}`);
    }
  }

  protocolError(what) {
    stats.protocolErrors++;
    note(`conn ${this.id}: ${what}`);
    this.gone = true;
    this.socket.destroy();
  }

  /** Checks the oldest outstanding echo and pong against the 10 s deadline. */
  checkDeadlines(now) {
    while (this.echoes.length > 0 && now - this.echoes[0][1] > 10_000) {
      this.echoes.shift();
      stats.echoTimeouts++;
    }
    while (this.pongs.length > 0 && now - this.pongs[0][1] > 10_000) {
      this.pongs.shift();
      stats.pongTimeouts++;
    }
  }
}

const connections = [];
let open = 0;

function connect(i) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(request(i)));
    let head = Buffer.alloc(0);
    let connection;
    const onHead = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onHead);
      if (!head.subarray(0, 12).toString("latin1").startsWith("HTTP/1.1 101")) {
        stats.upgradeFailures++;
        note(`conn ${i}: ${head.subarray(0, end).toString("latin1").split("\r\n")[0]}`);
        socket.destroy();
        return resolve();
      }
      connection = new Connection(socket, i);
      connections.push(connection);
      open++;
      stats.connections++;
      socket.on("data", (data) => connection.onData(data));
      const rest = head.subarray(end + 4);
      if (rest.length > 0) connection.onData(rest);
      resolve();
    };
    socket.on("data", onHead);
    socket.on("error", (error) => {
      if (connection === undefined) {
        stats.upgradeFailures++;
        note(`conn ${i}: ${error.message}`);
        resolve();
      } else if (!connection.releasing) {
        stats.socketErrors++;
        note(`conn ${i}: ${error.message}`);
      }
    });
    socket.on("close", () => {
      if (connection === undefined) return resolve();
      open--;
      if (!connection.releasing && !connection.gone) {
        stats.unexpectedCloses++;
        note(`conn ${i}: socket closed by the server`);
      }
      connection.gone = true;
      if (open === 0 && onAllGone) onAllGone();
    });
  });
}

let onAllGone;
// Batches of 100 so the listen backlog never overflows.
for (let i = 0; i < total; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, total - i) }, (_, j) => connect(i + j)));
}
console.log(`OPEN ${JSON.stringify({ ...stats, errors: errorCount(), samples })}`);

let released = false;
const perTick = Math.max(1, Math.round(connections.length * rate));
const pingsPerTick = pingRate > 0 ? Math.max(1, Math.round(connections.length * pingRate)) : 0;
const traffic = setInterval(() => {
  if (released || connections.length === 0) return;
  const now = Date.now();
  for (const connection of connections) connection.checkDeadlines(now);
  for (let k = 0; k < perTick; k++) {
    const connection = connections[Math.floor(random() * connections.length)];
    if (!connection.gone) connection.message();
  }
  for (let k = 0; k < pingsPerTick; k++) {
    const connection = connections[Math.floor(random() * connections.length)];
    if (!connection.gone) connection.ping();
  }
}, 1000);
const progress = setInterval(() => {
  console.error(`soak client: ${JSON.stringify({ open, ...stats, errors: errorCount() })}`);
}, 10_000);

async function release() {
  released = true;
  clearInterval(traffic);
  // Echoes and pongs still on their way get their 10 s, then count as missing.
  const outstanding = () => connections.some((c) => c.echoes.length > 0 || c.pongs.length > 0);
  for (const until = Date.now() + 10_000; outstanding() && Date.now() < until;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const connection of connections) connection.checkDeadlines(Date.now() + 10_000);
  const done = new Promise((resolve) => {
    onAllGone = resolve;
    if (open === 0) resolve();
  });
  for (const connection of connections) {
    if (connection.gone) continue;
    connection.releasing = true;
    const r = random();
    if (r < 0.8) {
      // The server answers our close and closes TCP first (RFC 6455 §7.1.1).
      connection.send(0x8, Buffer.from([0x03, 0xe8]));
    } else if (r < 0.9) {
      stats.closedFin++;
      connection.socket.end();
    } else {
      stats.closedReset++;
      connection.socket.resetAndDestroy();
    }
  }
  const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), 30_000));
  if ((await Promise.race([done, timeout])) === "timeout") {
    stats.releaseTimeouts = open;
    for (const connection of connections) connection.socket.destroy();
  }
  clearInterval(progress);
  console.log(`RELEASED ${JSON.stringify({ ...stats, errors: errorCount(), samples })}`);
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text) => {
  input += text;
  if (!released && input.includes("release\n")) release();
});
process.stdin.on("end", () => process.exit(0));
