// socket.io-client 4.8 against a server run with workers=N: open several sessions one after the other, then,
// in each, ask the server which process serves it and exchange an event with an acknowledgement.
//
//   node tests/integration/js/workers_client.mjs <url> <polling|websocket|upgrade> <count>
//
// Reports (one JSON object per line):
//   {"event":"session","id":"...","engineId":"...","transport":"...","whoami":[[pid, index, ...], ...],
//    "echoed":{...},"ack":[...]}                                    (one per session)
//   {"event":"done"} at the end, {"event":"error",...} or {"event":"timeout","step":"..."} (exit status 2).

import { io } from "socket.io-client";
import { STEP_TIMEOUT, TRANSPORTS, awaitUpgrade, main, next, report, state, transportOf, within } from "./scenario.mjs";

const [url, transportArg, countArg] = process.argv.slice(2);
const count = Number(countArg);

main("workers_client.mjs", url, transportArg, async () => {
  const sockets = [];
  for (let i = 0; i < count; i++) {
    // forceNew: a Manager (so an Engine.IO session, a handshake on a connection of its own) per socket.
    const socket = io(url, { transports: TRANSPORTS[transportArg], reconnection: false, forceNew: true, timeout: STEP_TIMEOUT });
    socket.on("connect_error", (err) => report({ event: "error", message: `connect_error: ${err.message}` }));
    state.step = `connect ${i}`;
    await within(next(socket, "connect"));
    sockets.push(socket);
  }
  await Promise.all(
    sockets.map(async (socket, i) => {
      await awaitUpgrade(socket.io.engine, transportArg);
      state.step = `exchange ${i}`;
      const whoami = [];
      for (let k = 0; k < 3; k++) {
        whoami.push(await within(socket.timeout(STEP_TIMEOUT).emitWithAck("whoami")));
      }
      const echoed = next(socket, "echoed");
      const ack = await within(socket.timeout(STEP_TIMEOUT).emitWithAck("echo", { n: i, text: "héllo" }));
      const [back] = await within(echoed);
      report({ event: "session", id: socket.id, engineId: socket.io.engine.id, transport: transportOf(socket), whoami, echoed: back, ack });
    }),
  );
  for (const socket of sockets) socket.disconnect();
  report({ event: "done" });
  process.exit(0);
});
