// The README's "chat" example seen from socket.io-client 4.8: connect, emit "chat" with an acknowledgement, and
// report what comes back.
//
//   node tests/integration/js/chat_client.mjs <url> <polling|websocket|upgrade> <message>
//
// Reports (one JSON object per line):
//   {"event":"connect","id":"...","transport":"..."}
//   {"event":"ack","args":[...]}
//   {"event":"done"} at the end, or {"event":"timeout","step":"..."} (exit status 2) if a step hangs.

import { io } from "socket.io-client";
import { STEP_TIMEOUT, TRANSPORTS, awaitUpgrade, main, next, report, state, transportOf, within } from "./scenario.mjs";

const [url, transportArg, message] = process.argv.slice(2);

main("chat_client.mjs", url, transportArg, async () => {
  const socket = io(url, { transports: TRANSPORTS[transportArg], reconnection: false, timeout: STEP_TIMEOUT });
  socket.on("connect_error", (err) => report({ event: "error", message: `connect_error: ${err.message}` }));
  state.step = "connect";
  await within(next(socket, "connect"));
  await awaitUpgrade(socket.io.engine, transportArg);
  report({ event: "connect", id: socket.id, transport: transportOf(socket) });
  state.step = "ack";
  const args = await within(socket.timeout(STEP_TIMEOUT).emitWithAck("chat", message));
  report({ event: "ack", args: [args] });
  socket.disconnect();
  report({ event: "done" });
});
