// socket.io-client's own retry scenario ("should not emit a packet twice in the 'connect' handler") against
// tests/servers/client_suite_sio.py, reporting what the client saw instead of asserting it here.
//
//   node tests/integration/js/sio_retry_client.mjs <url> <rounds> [ackTimeoutMs]
//
// Each round opens a new connection (polling, then the upgrade to WebSocket) with `retries: 3` (and
// `ackTimeout` when given) and emits "echo" null in the "connect" handler, which the server acknowledges. The
// emit lands while the WebSocket probe is under way, so a server that holds the acknowledgement back until the
// upgrade completes makes the client's retry timer fire and the packet go out twice.
//
// One JSON object per line on stdout:
//   {"event":"round","round":N,"id":"<socket id>","sentAt100":[...],"receivedAt100":[...],
//    "sent":[...],"received":[...],"ack":[...],"transport":"websocket"}
// where "sent" are the Engine.IO packets the client created (packetCreate) and "received" those it got (type
// and data); the *At100 lists are the same 100 ms after the connection started, where the suite's test looks.
//   {"event":"client","version":"4.8.1","deferEmit":true}
//   {"event":"error","message":"..."}, {"event":"done"} or {"event":"timeout","step":"..."}

import { createRequire } from "node:module";
import { io } from "socket.io-client";
import { factor, report, state, within } from "./scenario.mjs";

// Before 4.8.2 the client itself sent an event emitted in the "connect" handler twice (it drained its retry
// queue again after the handlers ran; fixed upstream as "drain queue before emitting 'connect'"). With such a
// client the emit is made in a microtask: after the handlers and that second drain, but before any other I/O
// is handled, so at the same point of the upgrade as the suite's emit, and only the server is under test.
const clientVersion = createRequire(import.meta.url)("socket.io-client/package.json").version;
const [major, minor, patch] = clientVersion.split(".").map(Number);
const deferEmit = major === 4 && (minor < 8 || (minor === 8 && patch < 2));

const [url, roundsArg, ackTimeoutArg] = process.argv.slice(2);
const rounds = Number(roundsArg || "1");
const SETTLE = 600 * factor; // long enough for the upgrade and for any retry (ackTimeout 50 ms, 3 retries)

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function round(n) {
  const options = { forceNew: true, retries: 3, reconnection: false };
  if (ackTimeoutArg) options.ackTimeout = Number(ackTimeoutArg);
  const socket = io(url, options);
  const sent = [];
  const received = [];
  let ack = null;
  socket.io.engine.on("packetCreate", ({ data }) => sent.push(data));
  socket.io.engine.on("packet", ({ type, data }) => received.push(data === undefined ? type : `${type}:${data}`));
  socket.on("connect_error", (err) => report({ event: "error", message: `connect_error: ${err.message}` }));
  const acked = new Promise((resolve) => {
    socket.on("connect", () => {
      const emit = () =>
        socket.emit("echo", null, (...args) => {
          ack = args;
          resolve();
        });
      if (deferEmit) queueMicrotask(emit);
      else emit();
    });
  });
  await sleep(100);
  const sentAt100 = [...sent];
  const receivedAt100 = [...received];
  state.step = `round ${n}: ack`;
  await within(acked);
  await sleep(SETTLE);
  report({
    event: "round",
    round: n,
    id: socket.id,
    sentAt100,
    receivedAt100,
    sent,
    received,
    ack,
    transport: socket.io.engine.transport.name,
  });
  socket.disconnect();
}

for (let n = 1; n <= rounds; n++) {
  await round(n);
}
report({ event: "client", version: clientVersion, deferEmit });
report({ event: "done" });
process.exit(0);
