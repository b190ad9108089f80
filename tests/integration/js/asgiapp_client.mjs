// The official socket.io-client against a Socket.IO server hosted inside a web framework (FastAPI, Starlette,
// Django) under an ASGI server: it connects where the framework put the server, asks who it is, has the
// framework's HTTP side emit to it, and leaves.
//
//   node tests/integration/js/asgiapp_client.mjs <origin> <path> <polling|websocket> <token|-> <trigger|->
//
// <path> is the client's `path` option (/socket.io/, or /realtime/socket.io/ under a prefix); <token> goes in
// `auth` and, as "Bearer <token>", in the Authorization header of the trigger; <trigger> is a URL the client
// POSTs to once connected (a view that emits "news" to it), "-" for none.
//
// Reports, one JSON object per line:
//   {"event":"connect","transport":"polling"}
//   {"event":"whoami","value":"ada"}                       (the acknowledgement of "whoami")
//   {"event":"trigger","status":200,"body":{...}}          (the view's answer)
//   {"event":"news","args":[...]}                          (what the view emitted)
//   {"event":"disconnect","reason":"io client disconnect"}
//   {"event":"done"}; {"event":"error",...} or {"event":"timeout",...} on failure.

import { io } from "socket.io-client";
import { TRANSPORTS, main, next, report, state, within } from "./scenario.mjs";

const [origin, path, transportArg, token, trigger] = process.argv.slice(2);

main("asgiapp_client.mjs", origin, transportArg, async () => {
  const socket = io(origin, {
    path,
    transports: TRANSPORTS[transportArg],
    auth: token === "-" ? {} : { token },
    reconnection: false,
  });
  socket.on("connect_error", (err) => report({ event: "error", message: `connect_error: ${err.message}` }));
  state.step = "connect";
  await within(next(socket, "connect"));
  report({ event: "connect", transport: socket.io.engine.transport.name });

  state.step = "whoami";
  report({ event: "whoami", value: await within(socket.timeout(5000).emitWithAck("whoami")) });

  if (trigger !== "-") {
    state.step = "trigger";
    const news = next(socket, "news");
    const headers = token === "-" ? {} : { Authorization: `Bearer ${token}` };
    const answer = await within(fetch(trigger, { method: "POST", headers }));
    report({ event: "trigger", status: answer.status, body: await answer.json() });
    state.step = "news";
    report({ event: "news", args: await within(news) });
  }

  state.step = "disconnect";
  const gone = next(socket, "disconnect");
  socket.disconnect();
  const [reason] = await within(gone);
  report({ event: "disconnect", reason });
  report({ event: "done" });
  setTimeout(() => process.exit(0), 2000).unref(); // never hang on a socket that lingers
});
