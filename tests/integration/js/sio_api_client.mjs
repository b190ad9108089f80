// The official socket.io-client against an in-process aiosocketio server set up by
// tests/integration/test_socketio_api.py (test_js_client_sees_the_api): reports what the application sees.
//
//   node tests/integration/js/sio_api_client.mjs <url> <polling|websocket>
//
// The scenario, step by step, on one Manager (one Engine.IO connection for both namespaces):
//   1. "/" with auth {token: "js"} and query {client: "js"}: "connect", then the server's "welcome"
//   2. "ask-me": the server calls socket.emit_with_ack("ask", 21); we answer (42, "twice"); the server
//      reports what it got in "asked"
//   3. callback acks: "multi" (the handler returns a tuple) and "nothing" (it returns None)
//   4. emitWithAck("start-poll"): the server broadcasts "poll" with io.timeout().emit_with_ack and returns the
//      list of answers (ours is "js:<question>")
//   5. "/admin" with auth {token: "bad"}: connect_error from a middleware (message and data); then again
//      with {token: "ok"}: "connect"
//   6. "/admin" emitWithAck("join", ["r1", "r2"]), then "fanout" (a broadcast to both rooms) until the
//      server's "news-done": how many "news" arrived
//   7. "/admin" "kick": the server disconnects the socket
//   8. "/" disconnect from the client side, then the Engine.IO connection closes
//
// One JSON object per line on stdout:
//   {"event":"connect","nsp":"/","id":"...","engineId":"..."}
//   {"event":"welcome","args":[...]}                {"event":"asked","args":[...]}
//   {"event":"ack","name":"multi","args":[...]}     {"event":"poll","value":[...]}
//   {"event":"connect_error","nsp":"/admin","message":"...","data":...}
//   {"event":"joined","value":[...]}                {"event":"news","count":N}
//   {"event":"disconnect","nsp":"...","reason":"..."}
//   {"event":"engine-close","reason":"..."}
//   {"event":"error","message":"..."}               (anything unexpected)
//   {"event":"done"}, or {"event":"timeout","step":"..."} (exit status 2) when a step hangs.

import { Manager } from "socket.io-client";
import { STEP_TIMEOUT, factor, next, report, state, within } from "./scenario.mjs";

const [url, transport] = process.argv.slice(2);

function callbackAck(socket, name, ...args) {
  return new Promise((resolve) => {
    socket.timeout(STEP_TIMEOUT).emit(name, ...args, (err, ...answer) => {
      if (err) report({ event: "error", message: `${name}: ${err.message}` });
      resolve(answer);
    });
  });
}

async function run() {
  const manager = new Manager(url, {
    transports: [transport],
    reconnection: false,
    autoConnect: false,
    timeout: STEP_TIMEOUT,
    query: { client: "js" },
  });
  manager.on("error", (err) => report({ event: "error", message: `manager: ${err?.message ?? err}` }));

  // 1. the main namespace
  state.step = "connect /";
  const root = manager.socket("/", { auth: { token: "js" } });
  root.on("disconnect", (reason) => report({ event: "disconnect", nsp: "/", reason }));
  root.on("connect_error", (err) => report({ event: "error", message: `connect_error on /: ${err.message}` }));
  root.on("ask", (n, callback) => callback(n * 2, "twice"));
  root.on("poll", (question, callback) => callback(`js:${question}`, "ignored"));
  const welcome = next(root, "welcome");
  const rootConnected = next(root, "connect");
  root.connect();
  await within(rootConnected);
  report({ event: "connect", nsp: "/", id: root.id, engineId: manager.engine.id });
  const engineClosed = next(manager.engine, "close");
  state.step = "welcome";
  report({ event: "welcome", args: await within(welcome) });

  // 2. the server asks, we answer
  state.step = "asked";
  const asked = next(root, "asked");
  root.emit("ask-me");
  report({ event: "asked", args: await within(asked) });

  // 3. acknowledgements of the server's handlers
  state.step = "multi";
  report({ event: "ack", name: "multi", args: await within(callbackAck(root, "multi", 1, 2, 3)) });
  state.step = "nothing";
  report({ event: "ack", name: "nothing", args: await within(callbackAck(root, "nothing")) });

  // 4. a broadcast with acknowledgements, answered by us
  state.step = "poll";
  const polled = await within(root.timeout(STEP_TIMEOUT).emitWithAck("start-poll", "colour?"));
  report({ event: "poll", value: polled });

  // 5. a middleware refuses, then accepts
  state.step = "connect /admin (refused)";
  const admin = manager.socket("/admin", { auth: { token: "bad" } });
  admin.on("disconnect", (reason) => report({ event: "disconnect", nsp: "/admin", reason }));
  let news = 0;
  admin.on("news", () => {
    news += 1;
  });
  const refused = next(admin, "connect_error");
  admin.connect();
  const [err] = await within(refused);
  report({ event: "connect_error", nsp: "/admin", message: err.message, data: err.data ?? null });
  state.step = "connect /admin";
  admin.auth = { token: "ok" };
  const adminConnected = next(admin, "connect");
  admin.connect();
  await within(adminConnected);
  report({ event: "connect", nsp: "/admin", id: admin.id, engineId: manager.engine.id });

  // 6. rooms and a broadcast to two of them
  state.step = "join";
  report({ event: "joined", value: await within(admin.timeout(STEP_TIMEOUT).emitWithAck("join", ["r1", "r2"])) });
  state.step = "fanout";
  const done = next(admin, "news-done");
  admin.emit("fanout");
  await within(done);
  report({ event: "news", count: news });

  // 7. the server disconnects /admin
  state.step = "kick";
  const kicked = next(admin, "disconnect");
  admin.emit("kick");
  await within(kicked);

  // 8. we leave /
  state.step = "disconnect /";
  const left = next(root, "disconnect");
  root.disconnect();
  await within(left);
  state.step = "engine close";
  const [reason] = await within(engineClosed);
  report({ event: "engine-close", reason });
  report({ event: "done" });
  setTimeout(() => process.exit(0), 2000 * factor).unref();
}

if (!url || !["polling", "websocket"].includes(transport)) {
  process.stderr.write("usage: sio_api_client.mjs <url> <polling|websocket>\n");
  process.exit(64);
}
run().catch((error) => {
  report({ event: "error", message: `${state.step}: ${error?.stack ?? error}` });
  process.exit(1);
});
