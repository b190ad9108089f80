// Several socket.io-client 4.8 connections through a reverse proxy, opened one after the other, each with its own
// Engine.IO session and cookie jar (withCredentials: true, so that a cookie the proxy sets is sent back).
//
//   node tests/integration/js/proxy_clients.mjs <url> <transport,transport,...> <stay|try>
//
// Each client asks the server behind the proxy for its process id ("pid", acknowledged) once connected.
// Reports (one JSON object per line):
//   {"event":"connect","client":i,"spec":"polling","id":"...","pid":123,"transport":"polling"}
//   {"event":"error","client":i,"message":"..."}         a connect_error (or a failed step)
//   {"event":"disconnect","client":i,"reason":"..."}
//   {"event":"news","client":i,"args":[...]}              every "news" event
// stay: after every client connected, {"event":"ready"}; then each client waits for the server's "bye" event and
//   reports {"event":"bye","client":i,"connected":true,"id":"...","transport":"..."}; then {"event":"done"}.
// try: each client gets STEP_TIMEOUT to connect and then 2 s more; {"event":"status","client":i,"connected":...};
//   no step failing is fatal here (the caller expects failures); then {"event":"done"}.
// follow: one client (the first transport) that reconnects by itself; a "connect" report (with the pid) for each
//   connection, and on the server's "bye", {"event":"bye","client":0,"connected":...,"id":...,"pid":...}, then
//   {"event":"done"}.

import { io } from "socket.io-client";
import { STEP_TIMEOUT, TRANSPORTS, factor, next, report, state, transportOf, within } from "./scenario.mjs";

const [url, specsArg, mode] = process.argv.slice(2);
const specs = (specsArg || "").split(",").filter(Boolean);
if (!url || !specs.every((spec) => spec in TRANSPORTS) || !["stay", "try", "follow"].includes(mode)) {
  process.stderr.write("usage: proxy_clients.mjs <url> <polling|websocket|upgrade,...> <stay|try|follow>\n");
  process.exit(64);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function open(client, spec, reconnection = false) {
  const socket = io(url, {
    transports: TRANSPORTS[spec],
    withCredentials: true,
    forceNew: true,
    reconnection,
    reconnectionDelay: 200,
    reconnectionDelayMax: 500,
    timeout: STEP_TIMEOUT,
  });
  socket.on("connect_error", (err) => report({ event: "error", client, message: `connect_error: ${err.message}` }));
  socket.on("disconnect", (reason) => report({ event: "disconnect", client, reason }));
  socket.on("news", (...args) => report({ event: "news", client, args }));
  return socket;
}

async function connectStaying(client, spec) {
  const socket = open(client, spec);
  const bye = next(socket, "bye");
  state.step = `connect ${client} (${spec})`;
  await within(next(socket, "connect"));
  const engine = socket.io.engine;
  if (spec === "upgrade" && engine.transport.name !== "websocket") await within(next(engine, "upgrade"));
  const pid = await within(socket.timeout(STEP_TIMEOUT).emitWithAck("pid"));
  report({ event: "connect", client, spec, id: socket.id, pid, transport: transportOf(socket) });
  return { socket, bye };
}

async function stay() {
  const clients = [];
  for (const [client, spec] of specs.entries()) clients.push(await connectStaying(client, spec));
  report({ event: "ready" });
  for (const [client, { socket, bye }] of clients.entries()) {
    state.step = `bye ${client}`;
    // The caller lets the clients idle through several heartbeats before it says bye: no step timeout here.
    await bye;
    report({ event: "bye", client, connected: socket.connected, id: socket.id, transport: transportOf(socket) });
  }
  for (const { socket } of clients) socket.disconnect();
  report({ event: "done" });
  setTimeout(() => process.exit(0), 1000 * factor).unref();
}

async function attempt() {
  for (const [client, spec] of specs.entries()) {
    const socket = open(client, spec);
    const connected = await Promise.race([
      next(socket, "connect").then(() => true),
      next(socket, "connect_error").then(() => false),
      sleep(STEP_TIMEOUT).then(() => false),
    ]);
    if (connected) {
      const pid = await Promise.race([socket.timeout(STEP_TIMEOUT).emitWithAck("pid").catch(() => null), sleep(STEP_TIMEOUT)]);
      report({ event: "connect", client, spec, id: socket.id, pid: pid ?? null, transport: transportOf(socket) });
    }
    await sleep(2000 * factor);
    report({ event: "status", client, connected: socket.connected });
    socket.disconnect();
  }
  report({ event: "done" });
  setTimeout(() => process.exit(0), 1000 * factor).unref();
}

async function follow() {
  const socket = open(0, specs[0], true);
  socket.on("connect", async () => {
    const pid = await socket.timeout(STEP_TIMEOUT).emitWithAck("pid").catch(() => null);
    report({ event: "connect", client: 0, spec: specs[0], id: socket.id, pid, transport: transportOf(socket) });
  });
  await next(socket, "bye");
  const pid = await within(socket.timeout(STEP_TIMEOUT).emitWithAck("pid"));
  report({ event: "bye", client: 0, connected: socket.connected, id: socket.id, pid });
  socket.disconnect();
  report({ event: "done" });
  setTimeout(() => process.exit(0), 1000 * factor).unref();
}

({ stay, try: attempt, follow })[mode]().catch((err) => {
  report({ event: "error", message: `${state.step}: ${err?.stack ?? err}` });
  process.exit(1);
});
