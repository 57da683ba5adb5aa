// Load client of the fan-out benchmark: N subscriber connections on raw TCP (an upgrade request,
// then a minimal frame parser that only counts frames), plus one /ctl connection that drives the
// server's publisher (protocol in fanout_control.mjs). Lean on purpose, so that the server is the
// bottleneck: no WebSocket library, no per-message objects. Runs on Bun (Bun.connect) or Node.
// Usage: bun bench/peers/fanout_client.mjs --port P --connections N --sizes 20,1024
//        [--window 8] [--burst 0] [--seconds 2] [--warmup 1] [--net node]
// --burst k: the server publishes at most k messages per event-loop turn (0: the whole window).
// For each size: "go", warm up, print "COUNTING <size>", count, print "RESULT <json>", "stop",
// then wait until every subscriber got every published message (else exit 3). "DONE" at the end.
import net from "node:net";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const port = Number(arg("port"));
const total = Number(arg("connections", "1000"));
const sizes = arg("sizes", "20,1024").split(",").map(Number);
const window = Number(arg("window", "8"));
const burst = Number(arg("burst", "0"));
const seconds = Number(arg("seconds", "2"));
const warmup = Number(arg("warmup", "1"));
const useBun = typeof globalThis.Bun !== "undefined" && arg("net", "bun") === "bun";
const host = "127.0.0.1";

const RING = 1 << 16; // > window: completions per message index, reused round the ring
const done = new Uint32Array(RING);
let completed = 0; // messages 0..completed-1 reached every subscriber
let frames = 0; // data frames received by all subscribers
let ackQueued = false;

const request = (path, i) =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: ${btoa(String(i).padStart(16, "k"))}\r\nSec-WebSocket-Version: 13\r\n\r\n`;

/** Per-connection parser state; `onFrame(state)` runs for every complete data frame. */
function newState(onFrame) {
  return { need: 0, data: false, partial: null, count: 0, onFrame, head: "", upgraded: false };
}

/** Counts frames in `chunk`; keeps a split header for the next chunk. */
function parse(state, chunk) {
  let buf = chunk;
  if (state.partial !== null) {
    buf = new Uint8Array(state.partial.length + chunk.length);
    buf.set(state.partial);
    buf.set(chunk, state.partial.length);
    state.partial = null;
  }
  const length = buf.length;
  let i = 0;
  while (i < length) {
    if (state.need > 0) {
      const take = Math.min(state.need, length - i);
      state.need -= take;
      i += take;
      if (state.need === 0 && state.data) state.onFrame(state);
      continue;
    }
    const left = length - i;
    if (left < 2) {
      state.partial = buf.slice(i);
      return;
    }
    let payload = buf[i + 1] & 127;
    let header = 2;
    if (payload === 126) {
      if (left < 4) {
        state.partial = buf.slice(i);
        return;
      }
      payload = (buf[i + 2] << 8) | buf[i + 3];
      header = 4;
    } else if (payload === 127) {
      if (left < 10) {
        state.partial = buf.slice(i);
        return;
      }
      payload = buf[i + 6] * 0x1000000 + ((buf[i + 7] << 16) | (buf[i + 8] << 8) | buf[i + 9]);
      header = 10;
    }
    const opcode = buf[i] & 15;
    state.data = opcode === 1 || opcode === 2;
    i += header;
    state.need = payload;
    if (payload === 0 && state.data) state.onFrame(state);
  }
}

function onSubscriberFrame(state) {
  frames++;
  const slot = state.count++ & (RING - 1);
  if (++done[slot] === total) {
    done[slot] = 0;
    completed = state.count;
    if (!ackQueued) {
      ackQueued = true;
      queueMicrotask(sendAck);
    }
  }
}

function sendAck() {
  ackQueued = false;
  control.send(`ack ${completed}`);
}

// Control connection: its bytes are kept until they hold whole frames (server frames: unmasked).
let controlWaiter;
let controlBytes = new Uint8Array(0);
function feedControl(_state, chunk) {
  const joined = new Uint8Array(controlBytes.length + chunk.length);
  joined.set(controlBytes);
  joined.set(chunk, controlBytes.length);
  controlBytes = joined;
  for (;;) {
    if (controlBytes.length < 2) return;
    let length = controlBytes[1] & 127;
    let header = 2;
    if (length === 126) {
      if (controlBytes.length < 4) return;
      length = (controlBytes[2] << 8) | controlBytes[3];
      header = 4;
    }
    if (controlBytes.length < header + length) return;
    const text = new TextDecoder().decode(controlBytes.subarray(header, header + length));
    controlBytes = controlBytes.slice(header + length);
    const waiter = controlWaiter;
    controlWaiter = undefined;
    waiter?.(text);
  }
}

/** A masked client text frame (RFC 6455 §5.3: a fresh random key per frame). */
function textFrame(text) {
  const payload = new TextEncoder().encode(text);
  const frame = new Uint8Array(6 + payload.length); // control messages stay < 126 bytes
  frame[0] = 0x81;
  frame[1] = 0x80 | payload.length;
  const key = crypto.getRandomValues(new Uint8Array(4));
  frame.set(key, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ key[i & 3];
  return frame;
}

function onHandshake(state, chunk, feed, resolve, reject) {
  const text = new TextDecoder("latin1").decode(chunk);
  state.head += text;
  const end = state.head.indexOf("\r\n\r\n");
  if (end < 0) return;
  if (!state.head.startsWith("HTTP/1.1 101")) return reject(new Error(state.head.split("\r\n")[0]));
  state.upgraded = true;
  const rest = chunk.subarray(chunk.length - (state.head.length - end - 4));
  if (rest.length > 0) feed(state, rest);
  resolve();
}

/** Opens one upgraded connection; resolves to { send(text), close() }. */
function dial(path, i, state, feed) {
  return new Promise((resolve, reject) => {
    let connection;
    const upgraded = () => resolve(connection);
    const onData = (chunk) => {
      if (state.upgraded) feed(state, chunk);
      else onHandshake(state, chunk, feed, upgraded, reject);
    };
    if (useBun) {
      globalThis.Bun.connect({
        hostname: host,
        port,
        socket: {
          open(socket) {
            socket.setNoDelay?.(true);
            connection = {
              send: (text) => socket.write(textFrame(text)),
              close: () => socket.end(),
            };
            socket.write(request(path, i));
          },
          data: (_socket, chunk) => onData(chunk),
          error: (_socket, error) => reject(error),
          connectError: (_socket, error) => reject(error),
          close() {},
        },
      }).catch(reject);
    } else {
      const socket = net.connect(
        { host, port, noDelay: true },
        () => socket.write(request(path, i)),
      );
      connection = { send: (text) => socket.write(textFrame(text)), close: () => socket.destroy() };
      socket.on("data", onData);
      socket.on("error", reject);
    }
  });
}

const subscriberStates = [];
const connections = [];
// Batches, so the listen backlog never overflows.
for (let i = 0; i < total; i += 200) {
  const batch = [];
  for (let j = i; j < Math.min(i + 200, total); j++) {
    const state = newState(onSubscriberFrame);
    subscriberStates.push(state);
    batch.push(dial("/sub", j, state, parse));
  }
  connections.push(...(await Promise.all(batch)));
}
/** The /ctl connection. */
const control = await dial("/ctl", total, newState(undefined), feedControl);

function ask(text) {
  return new Promise((resolve) => {
    controlWaiter = resolve;
    control.send(text);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
console.log(`CONNECTED ${total}`);
for (const size of sizes) {
  for (const state of subscriberStates) state.count = 0;
  done.fill(0);
  completed = 0;
  const started = await ask(`go ${size} ${window} ${total} ${burst}`);
  if (started !== "started") throw new Error(`server: ${started}`);
  await sleep(warmup * 1000);
  console.log(`COUNTING ${size}`);
  const first = frames;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const counted = frames - first;
  const elapsed = (performance.now() - t0) / 1000;
  console.log(`RESULT ${JSON.stringify({ size, messages: counted, seconds: elapsed })}`);
  const stopped = await ask("stop");
  if (!stopped.startsWith("stopped ")) throw new Error(`server: ${stopped}`);
  const published = Number(stopped.split(" ")[1]);
  const end = Date.now() + 60_000;
  while (completed < published) {
    if (Date.now() > end) {
      console.error(`only ${completed} of ${published} messages reached every subscriber`);
      process.exit(3);
    }
    await sleep(5);
  }
  console.log(`DRAINED ${size} ${published} ${stopped.split(" ").slice(2).join(" ")}`);
}
for (const connection of connections) connection.close();
control.close();
console.log("DONE");
process.exit(0);
