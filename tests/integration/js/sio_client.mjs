// Drives the official socket.io-client against the Socket.IO protocol-suite server and reports what a user
// of the client sees.
//
//   node tests/integration/js/sio_client.mjs <url> <polling|websocket|upgrade>
//
// <url> is the server origin (http://127.0.0.1:3000); the path is the default /socket.io/. The transport
// argument picks the client's transports: ["polling"], ["websocket"], or the default ["polling", "websocket"]
// with a wait for the upgrade to WebSocket before anything is emitted ("upgrade").
//
// The scenario, one step after the other, on one Manager (so one Engine.IO connection for every namespace):
//   1. "/" with auth {token: "123"}: connect, then the server's "auth" event
//   2. emit "message" with text, binary (top level and nested) and numbers: the server's "message-back"
//   3. emit "message-with-ack" with a callback (and a timeout), then emitWithAck: the acknowledgements
//   4. "/custom" with auth {token: "abc"}: connect, "auth", then "message" → "message-back"
//   5. "/random": connect_error
//   6. disconnect "/custom", then "/" (the client then closes the Engine.IO connection)
//
// Every observation is printed to stdout as one JSON object per line; binary values are shown as
// {"$bytes": "<hex>"}:
//
//   {"event":"connect","nsp":"/","id":"...","engineId":"...","openedWith":"polling"}
//   {"event":"upgrade","transport":"websocket"}
//   {"event":"auth","nsp":"/","args":[{...}]}
//   {"event":"message-back","nsp":"/","args":[...],"transport":"..."}
//   {"event":"ack","nsp":"/","args":[...]}                    (callback form: every argument)
//   {"event":"emitWithAck","nsp":"/","value":...}             (promise form: the first argument)
//   {"event":"connect_error","nsp":"/random","message":"...","data":...}
//   {"event":"disconnect","nsp":"/","reason":"...","connected":false}
//   {"event":"engine-close","reason":"..."}
//   {"event":"error","message":"..."}        (anything unexpected)
//   {"event":"done"} at the end, or {"event":"timeout","step":"..."} (exit status 2) if a step hangs.

import { Manager } from "socket.io-client";
import {
  STEP_TIMEOUT,
  TRANSPORTS,
  awaitUpgrade,
  exchange,
  hex,
  join,
  main,
  next,
  report,
  state,
  watchManager,
  windDown,
  within,
} from "./scenario.mjs";

const [url, transportArg] = process.argv.slice(2);

// JSON-friendly view of what the client handed to the application.
function describe(value) {
  if (value instanceof ArrayBuffer) return { $bytes: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) return { $bytes: hex(value) };
  if (Array.isArray(value)) return value.map(describe);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, describe(item)]));
  }
  return value;
}

async function run() {
  const manager = new Manager(url, {
    transports: TRANSPORTS[transportArg],
    reconnection: false,
    autoConnect: false,
    timeout: STEP_TIMEOUT,
  });
  watchManager(manager);

  const root = await join(manager, "/", { token: "123" }, describe);
  const engine = manager.engine;
  const engineClosed = next(engine, "close");
  await awaitUpgrade(engine, transportArg);

  await exchange(root, "/", ["hello", Uint8Array.from([1, 2, 3]), { nested: Buffer.from([4, 5]) }, 42, "héllo 😀"], describe);

  state.step = "ack";
  const acked = new Promise((resolve) => {
    const binary = Uint8Array.from([6, 7]);
    root.timeout(STEP_TIMEOUT).emit("message-with-ack", 1, "2", { 3: [false] }, binary, (err, ...args) => {
      if (err) report({ event: "error", message: `ack: ${err.message}` });
      resolve(args);
    });
  });
  report({ event: "ack", nsp: "/", args: describe(await within(acked)) });
  state.step = "emitWithAck";
  const value = await within(root.timeout(STEP_TIMEOUT).emitWithAck("message-with-ack", "first", "second"));
  report({ event: "emitWithAck", nsp: "/", value: describe(value) });

  const custom = await join(manager, "/custom", { token: "abc" }, describe);
  await exchange(custom, "/custom", ["to custom", Uint8Array.from([8])], describe);
  await windDown(manager, root, custom, engineClosed);
}

main("sio_client.mjs", url, transportArg, run);
