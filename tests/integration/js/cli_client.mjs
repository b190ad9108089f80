// socket.io-client 4.8 against a server started by the `aiosocketio run` command: connect, get an
// acknowledgement, then stay connected until the server goes away, and report how it went.
//
//   node tests/integration/js/cli_client.mjs <url> <polling|websocket|upgrade> <path> <message>
//
// <path> is the client's `path` option (/socket.io/, or /prefix/socket.io/ for a server run with --root-path).
// Reports (one JSON object per line):
//   {"event":"connect","id":"...","transport":"..."}
//   {"event":"ack","args":[...]}
//   {"event":"ready"}                       (the test may now stop the server)
//   {"event":"disconnect","reason":"..."}   (what the client saw when the server stopped)
//   {"event":"done"} at the end, or {"event":"timeout","step":"..."} (exit status 2) if a step hangs.

import { io } from "socket.io-client";
import { STEP_TIMEOUT, TRANSPORTS, awaitUpgrade, main, next, report, state, transportOf, within } from "./scenario.mjs";

const [url, transportArg, path, message] = process.argv.slice(2);

main("cli_client.mjs", url, transportArg, async () => {
  const socket = io(url, { path, transports: TRANSPORTS[transportArg], reconnection: false, timeout: STEP_TIMEOUT });
  socket.on("connect_error", (err) => report({ event: "error", message: `connect_error: ${err.message}` }));
  state.step = "connect";
  await within(next(socket, "connect"));
  await awaitUpgrade(socket.io.engine, transportArg);
  report({ event: "connect", id: socket.id, transport: transportOf(socket) });
  state.step = "ack";
  const args = await within(socket.timeout(STEP_TIMEOUT).emitWithAck("chat", message));
  report({ event: "ack", args: [args] });
  // The test stops the server once every client is ready; wait for that without a step timeout of our own
  // (the test bounds the whole run).
  const gone = next(socket, "disconnect");
  report({ event: "ready" });
  const [reason] = await gone;
  report({ event: "disconnect", reason });
  report({ event: "done" });
  process.exit(0);
});
