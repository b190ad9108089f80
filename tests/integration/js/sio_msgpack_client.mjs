// Drives the official socket.io-client with the msgpack parser (npm socket.io-msgpack-parser) against the
// msgpack server (tests/servers/sio_msgpack.py) and reports what a user of the client sees.
//
//   node tests/integration/js/sio_msgpack_client.mjs <url> <polling|websocket|upgrade>
//
// <url> is the server origin (http://127.0.0.1:3000); the path is the default /socket.io/. The transport
// argument picks the client's transports: ["polling"], ["websocket"], or the default ["polling", "websocket"]
// with a wait for the upgrade to WebSocket before anything is emitted ("upgrade").
//
// The scenario, one step after the other, on one Manager (so one Engine.IO connection for every namespace):
//   1. "/" with auth {token: "123"}: connect, then the server's "auth" event
//   2. emit "message" with text, binary (Buffer and plain Uint8Array, top level and nested) and numbers:
//      the server's "message-back"
//   3. emit "message-with-ack" with a callback (and a timeout), then emitWithAck: the acknowledgements
//   4. emit "types" with a callback: values whose MessagePack form is special, as the client reads them
//   5. emit "ask-me": the server asks "question" with an ack, the client answers, the server acknowledges
//      "ask-me" with that answer
//   6. "/custom" with auth {token: "abc"}: connect, "auth", then "message" → "message-back"
//   7. "/random" (no auth: the CONNECT carries data: undefined): connect_error
//   8. disconnect "/custom", then "/" (the client then closes the Engine.IO connection)
//
// Every observation is printed to stdout as one JSON object per line. Values are shown with tags:
// {"$bytes": "<hex>"} for binary, {"$date": <ms>} for a Date, {"$undefined": true}, {"$double": "-0"}, and
// objects as {"$object": [[key, value], ...]} so that the key order the client sees is kept.
//
//   {"event":"connect","nsp":"/","id":"...","engineId":"...","openedWith":"polling"}
//   {"event":"upgrade","transport":"websocket"}
//   {"event":"auth","nsp":"/","args":[...]}
//   {"event":"message-back","nsp":"/","args":[...],"transport":"..."}
//   {"event":"ack","nsp":"/","args":[...]}                    (callback form: every argument)
//   {"event":"emitWithAck","nsp":"/","value":...}             (promise form: the first argument)
//   {"event":"types","args":[...]}
//   {"event":"question","args":[...]}                         (the server's question, before the answer)
//   {"event":"ask-me","args":[...]}                           (the server's ack of "ask-me")
//   {"event":"connect_error","nsp":"/random","message":"...","data":...}
//   {"event":"disconnect","nsp":"/","reason":"...","connected":false}
//   {"event":"engine-close","reason":"..."}
//   {"event":"error","message":"..."}        (anything unexpected)
//   {"event":"done"} at the end, or {"event":"timeout","step":"..."} (exit status 2) if a step hangs.

import { Manager } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
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
  if (value === undefined) return { $undefined: true };
  if (Object.is(value, -0)) return { $double: "-0" };
  if (value instanceof ArrayBuffer) return { $bytes: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) return { $bytes: hex(value) };
  if (value instanceof Date) return { $date: value.getTime() };
  if (Array.isArray(value)) return value.map(describe);
  if (value !== null && typeof value === "object") {
    return { $object: Object.entries(value).map(([key, item]) => [key, describe(item)]) };
  }
  return value;
}

function withCallback(socket, event, ...args) {
  return new Promise((resolve) => {
    socket.timeout(STEP_TIMEOUT).emit(event, ...args, (err, ...answer) => {
      if (err) report({ event: "error", message: `${event}: ${err.message}` });
      resolve(answer);
    });
  });
}

async function run() {
  const manager = new Manager(url, {
    transports: TRANSPORTS[transportArg],
    parser: msgpackParser,
    reconnection: false,
    autoConnect: false,
    timeout: STEP_TIMEOUT,
  });
  watchManager(manager);

  const root = await join(manager, "/", { token: "123" }, describe);
  const engine = manager.engine;
  const engineClosed = next(engine, "close");
  await awaitUpgrade(engine, transportArg);

  await exchange(
    root,
    "/",
    ["hello", Uint8Array.from([1, 2, 3]), { nested: Buffer.from([4, 5]) }, 42, "héllo 😀", 1.5, -7, null, true],
    describe,
  );

  state.step = "ack";
  const acked = await within(withCallback(root, "message-with-ack", 1, "2", { 3: [false] }, Buffer.from([6, 7])));
  report({ event: "ack", nsp: "/", args: describe(acked) });
  state.step = "emitWithAck";
  const value = await within(root.timeout(STEP_TIMEOUT).emitWithAck("message-with-ack", "first", "second"));
  report({ event: "emitWithAck", nsp: "/", value: describe(value) });

  state.step = "types";
  report({ event: "types", args: describe(await within(withCallback(root, "types"))) });

  state.step = "ask-me";
  root.once("question", (...args) => {
    const callback = args.pop();
    report({ event: "question", args: describe(args) });
    callback("answer", Buffer.from([11]));
  });
  report({ event: "ask-me", args: describe(await within(withCallback(root, "ask-me", "why?"))) });

  const custom = await join(manager, "/custom", { token: "abc" }, describe);
  await exchange(custom, "/custom", ["to custom", Uint8Array.from([8])], describe);
  await windDown(manager, root, custom, engineClosed);
}

main("sio_msgpack_client.mjs", url, transportArg, run);
