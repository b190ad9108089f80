// Drives the official socket.io-client against the "/early" namespace of the protocol-suite server, whose
// middleware emits events before it accepts the connection, and reports what the application sees, in order.
//
//   node tests/integration/js/sio_early_client.mjs <url> <polling|websocket|upgrade>
//
// The client keeps events that arrive before the CONNECT reply and hands them to the application just before
// its "connect" event; "early-ack" is acknowledged with "yes", which the server answers with "acked".
//
//   {"event":"early","args":[{"token":"t"}]}
//   {"event":"early-ack","connected":true}
//   {"event":"connect"}
//   {"event":"auth","args":[{"token":"t"}]}
//   {"event":"acked","args":["yes"]}
//   {"event":"disconnect","reason":"io client disconnect"}
//   {"event":"done"}, or {"event":"error",...} / {"event":"timeout",...}

import { Manager } from "socket.io-client";
import { STEP_TIMEOUT, TRANSPORTS, main, next, report, state, watchManager, within } from "./scenario.mjs";

const [url, transportArg] = process.argv.slice(2);

async function run() {
  const manager = new Manager(url, {
    transports: TRANSPORTS[transportArg],
    reconnection: false,
    autoConnect: false,
    timeout: STEP_TIMEOUT,
  });
  watchManager(manager);
  const socket = manager.socket("/early", { auth: { token: "t" } });
  socket.on("connect_error", (err) => report({ event: "error", message: `connect_error: ${err.message}` }));
  socket.on("early", (...args) => report({ event: "early", args }));
  socket.on("early-ack", (ack) => {
    report({ event: "early-ack", connected: socket.connected });
    ack("yes");
  });
  socket.on("connect", () => report({ event: "connect" }));
  socket.on("auth", (...args) => report({ event: "auth", args }));
  const acked = next(socket, "acked");
  state.step = "connect /early";
  socket.connect();
  state.step = "acked";
  report({ event: "acked", args: await within(acked) });
  const disconnected = next(socket, "disconnect");
  socket.disconnect();
  const [reason] = await within(disconnected);
  report({ event: "disconnect", reason });
  report({ event: "done" });
}

main("sio_early_client.mjs", url, transportArg, run);
