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

const [url, transportArg] = process.argv.slice(2);
const factor = Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1") || 1;
const STEP_TIMEOUT = 5000 * factor;

function report(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function hex(view) {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("hex");
}

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

let step = "start";
let openedWith = null;

// Resolves with the arguments of the next `event` on `emitter`.
function next(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

// Awaits `promise`, or reports a timeout for the current step and exits with status 2.
async function within(promise) {
  let timer;
  const expired = new Promise(() => {
    timer = setTimeout(() => {
      report({ event: "timeout", step });
      process.exit(2);
    }, STEP_TIMEOUT);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function transportOf(socket) {
  return socket.io.engine?.transport?.name ?? null;
}

const TRANSPORTS = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
};

async function join(manager, nsp, auth) {
  step = `connect ${nsp}`;
  const socket = manager.socket(nsp, auth === undefined ? {} : { auth });
  socket.on("connect_error", (err) => report({ event: "error", message: `connect_error on ${nsp}: ${err.message}` }));
  socket.on("disconnect", (reason) => report({ event: "disconnect", nsp, reason, connected: socket.connected }));
  // The server emits "auth" right after the CONNECT reply: listen before connecting.
  const authArgs = next(socket, "auth");
  const connected = next(socket, "connect");
  socket.connect();
  await within(connected);
  report({ event: "connect", nsp, id: socket.id, engineId: manager.engine.id, openedWith });
  step = `auth ${nsp}`;
  report({ event: "auth", nsp, args: describe(await within(authArgs)) });
  return socket;
}

async function exchange(socket, nsp, args) {
  step = `message ${nsp}`;
  const back = next(socket, "message-back");
  socket.emit("message", ...args);
  report({ event: "message-back", nsp, args: describe(await within(back)), transport: transportOf(socket) });
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
  const transports = TRANSPORTS[transportArg];
  const manager = new Manager(url, {
    transports,
    parser: msgpackParser,
    reconnection: false,
    autoConnect: false,
    timeout: STEP_TIMEOUT,
  });
  manager.on("error", (err) => report({ event: "error", message: `manager: ${err?.message ?? err}` }));
  manager.on("open", () => {
    openedWith = manager.engine.transport.name;
  });

  const root = await join(manager, "/", { token: "123" });
  const engine = manager.engine;
  const engineClosed = next(engine, "close");
  if (transportArg === "upgrade") {
    step = "upgrade";
    if (engine.transport.name !== "websocket") await within(next(engine, "upgrade"));
    report({ event: "upgrade", transport: engine.transport.name });
  }

  await exchange(root, "/", [
    "hello",
    Uint8Array.from([1, 2, 3]),
    { nested: Buffer.from([4, 5]) },
    42,
    "héllo 😀",
    1.5,
    -7,
    null,
    true,
  ]);

  step = "ack";
  const acked = await within(withCallback(root, "message-with-ack", 1, "2", { 3: [false] }, Buffer.from([6, 7])));
  report({ event: "ack", nsp: "/", args: describe(acked) });
  step = "emitWithAck";
  const value = await within(root.timeout(STEP_TIMEOUT).emitWithAck("message-with-ack", "first", "second"));
  report({ event: "emitWithAck", nsp: "/", value: describe(value) });

  step = "types";
  report({ event: "types", args: describe(await within(withCallback(root, "types"))) });

  step = "ask-me";
  root.once("question", (...args) => {
    const callback = args.pop();
    report({ event: "question", args: describe(args) });
    callback("answer", Buffer.from([11]));
  });
  report({ event: "ask-me", args: describe(await within(withCallback(root, "ask-me", "why?"))) });

  const custom = await join(manager, "/custom", { token: "abc" });
  await exchange(custom, "/custom", ["to custom", Uint8Array.from([8])]);

  step = "connect /random";
  const random = manager.socket("/random");
  const failed = next(random, "connect_error");
  random.connect();
  const [err] = await within(failed);
  report({ event: "connect_error", nsp: "/random", message: err.message, data: err.data ?? null });
  random.disconnect();

  step = "disconnect /custom";
  const customGone = next(custom, "disconnect");
  custom.disconnect();
  await within(customGone);
  step = "disconnect /";
  const rootGone = next(root, "disconnect");
  root.disconnect();
  await within(rootGone);
  step = "engine close";
  const [reason] = await within(engineClosed);
  report({ event: "engine-close", reason });
  report({ event: "done" });
  // Let the last packets go out, but never hang.
  setTimeout(() => process.exit(0), 2000 * factor).unref();
}

if (!url || !(transportArg in TRANSPORTS)) {
  process.stderr.write(`usage: sio_msgpack_client.mjs <url> <${Object.keys(TRANSPORTS).join("|")}>\n`);
  process.exit(64);
}
run().catch((err) => {
  report({ event: "error", message: `${step}: ${err?.stack ?? err}` });
  process.exit(1);
});
