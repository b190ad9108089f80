// socket.io-client 4.8 against a Socket.IO server that shares its port (and its token check) with a web framework
// (FastAPI) on the built-in server: a wrong token is refused, the right one connects, and a message posted to the
// framework's HTTP route (with the same token) reaches this client through Socket.IO.
//
//   node tests/integration/js/framework_client.mjs <url> <polling|websocket|upgrade> <token>
//
// For an https:// URL the test passes its self-signed certificate in NODE_EXTRA_CA_CERTS.
// Reports (one JSON object per line):
//   {"event":"refused","message":"..."}      (the wrong token's connect_error)
//   {"event":"connect","transport":"..."}
//   {"event":"posted","status":200,"body":{...}}
//   {"event":"message","args":[...]}
//   {"event":"done"} at the end, or {"event":"timeout","step":"..."} (exit status 2) if a step hangs.

import { io } from "socket.io-client";
import { STEP_TIMEOUT, TRANSPORTS, awaitUpgrade, main, next, report, state, transportOf, within } from "./scenario.mjs";

const [url, transportArg, token] = process.argv.slice(2);

main("framework_client.mjs", url, transportArg, async () => {
  const options = { transports: TRANSPORTS[transportArg], reconnection: false, timeout: STEP_TIMEOUT, forceNew: true };

  state.step = "refused";
  const intruder = io(url, { ...options, auth: { token: "not-a-token" } });
  const [err] = await within(next(intruder, "connect_error"));
  report({ event: "refused", message: err.message });
  intruder.close();

  state.step = "connect";
  const socket = io(url, { ...options, auth: { token } });
  socket.on("connect_error", (e) => report({ event: "error", message: `connect_error: ${e.message}` }));
  await within(next(socket, "connect"));
  await awaitUpgrade(socket.io.engine, transportArg);
  report({ event: "connect", transport: transportOf(socket) });

  state.step = "post";
  const heard = next(socket, "message");
  const response = await within(
    fetch(`${url}/messages/me?text=hello`, { method: "POST", headers: { authorization: `Bearer ${token}` } }),
  );
  report({ event: "posted", status: response.status, body: await response.json() });
  state.step = "message";
  report({ event: "message", args: await within(heard) });
  socket.close();
  report({ event: "done" });
  setTimeout(() => process.exit(0), 500).unref();
});
