// Drives the official Socket.IO v2 client (npm socket.io-client 2.5.0, installed as "socket.io-client-v2":
// Engine.IO protocol 3, Socket.IO protocol 4) against a server with EIO=3 compatibility, and reports what a user
// of that client sees. The server is tests/integration/js/node_eio3_server.mjs (the reference) or
// tests/servers/eio3.py (ours); both implement the handlers described there.
//
//   node tests/integration/js/sio_v2_client.mjs <url> <root|admin|heartbeat> <polling|websocket|upgrade>
//
// <url> is the server origin (http://127.0.0.1:3000). The transport argument picks ["polling"], ["websocket"],
// or the default ["polling", "websocket"] with a wait for the upgrade before anything is emitted ("upgrade").
// Every client is created with forceNew and without reconnection, so each one is its own Engine.IO connection.
//
// Scenarios:
//   root       connect to "/"; the server's "welcome"; emit "echo" (text, number, object, binary) with an ack;
//              disconnect
//   admin      connect to "/admin" with the query {token: "abc"}; the server's "seen"; "echo" with an ack; then
//              "/admin" without a token and with a wrong one: the "error" event each refused client gets
//   heartbeat  connect to "/", stay connected for 2 s (the v2 client pings, the server pongs), then ask the
//              server how many heartbeats it counted ("heartbeats" with an ack)
//
// Reports, one JSON object per line (binary values shown as {"$bytes": "<hex>"}):
//   {"event":"connect","nsp":"/admin","id":"/admin#<engine id>","engineId":"...","connected":true,"openedWith":"polling"}
//   {"event":"upgrade","transport":"websocket"}
//   {"event":"welcome","args":[...]}  {"event":"seen","args":[...]}
//   {"event":"ack","nsp":"/","args":[...],"transport":"..."}
//   {"event":"refused","token":...,"error":<payload of the "error" event>,"connected":false}
//   {"event":"heartbeat","pings":n,"pongs":n,"serverHeartbeats":n,"sameEngine":true,"connected":true,...}
//   {"event":"disconnect","nsp":"/","reason":"...","connected":false}
//   {"event":"error","message":"..."}         (anything unexpected)
//   {"event":"done"} at the end, or {"event":"timeout","step":"..."} (exit status 2) if a step hangs.

import io from "socket.io-client-v2";
import { STEP_TIMEOUT, TRANSPORTS, factor, hex, main, next, report, state, within } from "./scenario.mjs";

const [url, scenario, transportArg] = process.argv.slice(2);

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

function transportOf(socket) {
  return socket.io.engine?.transport?.name ?? null;
}

// A new client (its own Manager and Engine.IO connection) for `nsp`; it connects at once.
function open(nsp, query) {
  const options = { transports: TRANSPORTS[transportArg], forceNew: true, reconnection: false, timeout: STEP_TIMEOUT };
  if (query !== undefined) options.query = query;
  const socket = io(url + nsp, options);
  socket.io.on("open", () => {
    state.openedWith = socket.io.engine.transport.name;
  });
  socket.on("connect_error", (err) => report({ event: "error", message: `connect_error on ${nsp}: ${err?.message ?? err}` }));
  return socket;
}

// Waits for the connection of `socket` and reports it (the "error" event counts as a failure here).
async function connected(socket, nsp) {
  state.step = `connect ${nsp}`;
  const refused = new Promise((resolve) => socket.once("error", (payload) => resolve(payload)));
  const outcome = await within(Promise.race([next(socket, "connect").then(() => null), refused.then((p) => ({ p }))]));
  if (outcome !== null) throw new Error(`${nsp} refused: ${JSON.stringify(outcome.p)}`);
  socket.on("disconnect", (reason) => report({ event: "disconnect", nsp, reason, connected: socket.connected }));
  report({ event: "connect", nsp, id: socket.id, engineId: socket.io.engine.id, connected: socket.connected, openedWith: state.openedWith });
}

// With the "upgrade" transport choice, waits for the upgrade to WebSocket and reports it.
async function awaitUpgrade(socket) {
  if (transportArg !== "upgrade") return;
  state.step = "upgrade";
  const engine = socket.io.engine;
  if (engine.transport.name !== "websocket") await within(next(engine, "upgrade"));
  report({ event: "upgrade", transport: engine.transport.name });
}

// Emits "echo" with `args` and an ack callback; reports what the ack brought back.
async function echo(socket, nsp, args) {
  state.step = `echo ${nsp}`;
  const acked = new Promise((resolve) => socket.emit("echo", ...args, (...back) => resolve(back)));
  report({ event: "ack", nsp, args: describe(await within(acked)), transport: transportOf(socket) });
}

// Closes the client and reports its "disconnect".
async function leave(socket, nsp) {
  state.step = `disconnect ${nsp}`;
  const gone = next(socket, "disconnect");
  socket.close();
  await within(gone);
}

function finish() {
  report({ event: "done" });
  // Let the last packets go out, but never hang.
  setTimeout(() => process.exit(0), 1000 * factor).unref();
}

async function root() {
  const socket = open("/");
  const welcome = next(socket, "welcome"); // emitted right after the connection: listen first
  await connected(socket, "/");
  state.step = "welcome";
  report({ event: "welcome", args: describe(await within(welcome)) });
  await awaitUpgrade(socket);
  await echo(socket, "/", ["hello", 42, { a: [1, "b"], n: null }, Buffer.from([1, 2, 3])]);
  await leave(socket, "/");
  finish();
}

async function admin() {
  const socket = open("/admin", { token: "abc" });
  const seen = next(socket, "seen");
  await connected(socket, "/admin");
  state.step = "seen";
  report({ event: "seen", args: describe(await within(seen)) });
  await awaitUpgrade(socket);
  await echo(socket, "/admin", ["admin", Buffer.from([4, 5])]);

  for (const token of [null, "wrong"]) {
    state.step = `refused ${token}`;
    const refused = open("/admin", token === null ? undefined : { token });
    refused.on("connect", () => report({ event: "error", message: `/admin connected with token ${token}` }));
    const [payload] = await within(next(refused, "error"));
    report({ event: "refused", token, error: describe(payload), connected: refused.connected });
    refused.close();
  }
  await leave(socket, "/admin");
  finish();
}

async function heartbeat() {
  const socket = open("/");
  await connected(socket, "/");
  const engine = socket.io.engine;
  let pings = 0;
  let pongs = 0;
  socket.on("ping", () => {
    pings += 1;
  });
  socket.on("pong", () => {
    pongs += 1;
  });
  await awaitUpgrade(socket);
  state.step = "stay connected";
  await new Promise((resolve) => setTimeout(resolve, 2000));
  state.step = "heartbeats";
  const [serverHeartbeats] = await within(new Promise((resolve) => socket.emit("heartbeats", (...back) => resolve(back))));
  report({
    event: "heartbeat",
    pingInterval: engine.pingInterval,
    pingTimeout: engine.pingTimeout,
    pings,
    pongs,
    serverHeartbeats,
    sameEngine: socket.io.engine === engine,
    connected: socket.connected,
    transport: transportOf(socket),
  });
  await leave(socket, "/");
  finish();
}

const SCENARIOS = { root, admin, heartbeat };
if (!(scenario in SCENARIOS)) {
  process.stderr.write(`usage: sio_v2_client.mjs <url> <${Object.keys(SCENARIOS).join("|")}> <${Object.keys(TRANSPORTS).join("|")}>\n`);
  process.exit(64);
}
main("sio_v2_client.mjs", url, transportArg, SCENARIOS[scenario]);
