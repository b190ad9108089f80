// Drives the official engine.io-client against an Engine.IO server and reports what it observed.
//
//   node tests/integration/js/eio_client.mjs <url> <scenario> [polling|websocket|default]
//
// <url> is the server origin (http://127.0.0.1:3000); the Engine.IO path comes from $EIO_PATH (default
// /engine.io/). Every observation is printed to stdout as one JSON object per line:
//
//   {"event":"handshake","data":{...open packet...}}
//   {"event":"open","sid":"...","transport":"polling"}
//   {"event":"message","data":"text" | {"$bytes":"hex"},"transport":"websocket"}
//   {"event":"upgrade","transport":"websocket"}
//   {"event":"ping","transport":"..."}
//   {"event":"alive","readyState":"open","pings":3,"transport":"..."}   (heartbeat)
//   {"event":"close","reason":"...","description":"..."}
//   {"event":"error","message":"..."}
//   {"event":"done"} once the scenario completed, or {"event":"timeout"} (exit status 2) if it did not.
//
// Scenarios:
//   polling-echo     transports ["polling"]: send two texts and one binary message, await the three echoes
//   websocket-echo   the same with transports ["websocket"]
//   upgrade          default transports: wait for the upgrade to WebSocket, then the same echo exchange
//   heartbeat        stay connected for 4.5 ping intervals, counting the server's pings, then close
//   close            close the connection from the client as soon as it is open
//
// The optional third argument picks the transports for "heartbeat" and "close" (default: "websocket").

import { Socket } from "engine.io-client";

const [url, scenario, transportArg = "websocket"] = process.argv.slice(2);
const factor = Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1") || 1;
const path = process.env.EIO_PATH || "/engine.io/";

const TEXTS = ["hello", "héllo wörld ✓ 😀"];
const BINARY = Uint8Array.from([1, 2, 3, 4, 0, 255]);

function report(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function toHex(data) {
  if (data instanceof ArrayBuffer) {
    return Buffer.from(data).toString("hex");
  }
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}

function describe(data) {
  return typeof data === "string" ? data : { $bytes: toHex(data) };
}

function transportsFor(name) {
  if (name === "polling") return ["polling"];
  if (name === "websocket") return ["websocket"];
  if (name === "default") return ["polling", "websocket"];
  throw new Error(`unknown transport choice ${name}`);
}

let finished = false;
const guard = setTimeout(() => {
  report({ event: "timeout" });
  process.exit(2);
}, 15000 * factor);

function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(guard);
  report({ event: "done" });
  // Let pending writes (a close packet over polling) go out, but never hang.
  setTimeout(() => process.exit(0), 2000 * factor).unref();
}

function connect(transports) {
  const socket = new Socket(url, { path, transports });
  let pingInterval = 0;
  socket.on("handshake", (data) => {
    pingInterval = data.pingInterval;
    report({ event: "handshake", data });
  });
  socket.on("open", () => report({ event: "open", sid: socket.id, transport: socket.transport.name }));
  socket.on("upgrade", (transport) => report({ event: "upgrade", transport: transport.name }));
  socket.on("ping", () => report({ event: "ping", transport: socket.transport.name }));
  socket.on("message", (data) =>
    report({ event: "message", data: describe(data), transport: socket.transport.name }),
  );
  socket.on("error", (err) => report({ event: "error", message: String(err?.message ?? err) }));
  socket.on("close", (reason, description) => {
    report({
      event: "close",
      reason,
      description: description === undefined ? null : String(description?.message ?? description),
    });
    finish();
  });
  return { socket, pingInterval: () => pingInterval };
}

function echoExchange(socket) {
  let expected = TEXTS.length + 1;
  socket.on("message", () => {
    expected -= 1;
    if (expected === 0) socket.close();
  });
  for (const text of TEXTS) socket.send(text);
  socket.send(BINARY);
}

const scenarios = {
  "polling-echo"() {
    const { socket } = connect(["polling"]);
    socket.on("open", () => echoExchange(socket));
  },
  "websocket-echo"() {
    const { socket } = connect(["websocket"]);
    socket.on("open", () => echoExchange(socket));
  },
  upgrade() {
    const { socket } = connect(["polling", "websocket"]);
    socket.on("upgrade", () => echoExchange(socket));
  },
  heartbeat() {
    const { socket, pingInterval } = connect(transportsFor(transportArg));
    let pings = 0;
    socket.on("ping", () => {
      pings += 1;
    });
    socket.on("open", () => {
      setTimeout(() => {
        report({ event: "alive", readyState: socket.readyState, pings, transport: socket.transport.name });
        socket.close();
      }, 4.5 * pingInterval());
    });
  },
  close() {
    const { socket } = connect(transportsFor(transportArg));
    socket.on("open", () => socket.close());
  },
};

if (!url || !(scenario in scenarios)) {
  process.stderr.write(`usage: eio_client.mjs <url> <${Object.keys(scenarios).join("|")}> [transport]\n`);
  process.exit(64);
}
scenarios[scenario]();
