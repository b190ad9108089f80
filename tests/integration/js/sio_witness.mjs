// A well-behaved socket.io-client that keeps calling the server while others misbehave (test_wire_fuzz.py).
//
//   node tests/integration/js/sio_witness.mjs <url> <polling|websocket|upgrade> <stop file> <interval ms>
//
// Connects to "/" and, until <stop file> exists, emits "echo" with an acknowledgement every <interval ms> (waiting for
// each acknowledgement before the next), checking that each one carries back what was sent. Then it
// disconnects. Reports, one JSON object per line:
//
//   {"event":"connect","id":"...","transport":"..."}
//   {"event":"latency","acks":N,"ms":[...every ack's round trip, in ms...],"at":[...when each call was sent,
//    in ms since the epoch...]}
//   {"event":"error","message":"..."}      (a disconnect, a lost or wrong acknowledgement, a connect error)
//   {"event":"done"}

import { existsSync } from "node:fs";
import { Manager } from "socket.io-client";
import { STEP_TIMEOUT, TRANSPORTS, main, next, report, state, within } from "./scenario.mjs";

const [url, transportArg, stopFile, intervalArg] = process.argv.slice(2);
const interval = Number(intervalArg);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function run() {
  const manager = new Manager(url, {
    transports: TRANSPORTS[transportArg],
    reconnection: false,
    timeout: STEP_TIMEOUT,
  });
  const socket = manager.socket("/");
  let leaving = false;
  socket.on("disconnect", (reason) => {
    if (!leaving) report({ event: "error", message: `disconnected: ${reason}` });
  });
  socket.on("connect_error", (err) => report({ event: "error", message: `connect_error: ${err.message}` }));
  state.step = "connect";
  await within(next(socket, "connect"));
  report({ event: "connect", id: socket.id, transport: manager.engine.transport.name });

  state.step = "echo";
  const times = [];
  const sentAt = [];
  for (let n = 0; !existsSync(stopFile) && socket.connected; n++) {
    const started = performance.now();
    const wallClock = Date.now();
    try {
      const back = await socket.timeout(STEP_TIMEOUT).emitWithAck("echo", { n });
      if (back?.n !== n) report({ event: "error", message: `ack ${n} carried ${JSON.stringify(back)}` });
    } catch (err) {
      report({ event: "error", message: `ack ${n} lost: ${err.message}` });
      break;
    }
    times.push(Math.round((performance.now() - started) * 1000) / 1000);
    sentAt.push(wallClock);
    await sleep(interval);
  }
  report({ event: "latency", acks: times.length, ms: times, at: sentAt });
  leaving = true;
  socket.disconnect();
  report({ event: "done" });
  setTimeout(() => process.exit(0), 500).unref();
}

main("sio_witness.mjs", url, transportArg, run);
