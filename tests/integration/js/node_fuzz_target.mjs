// The Node.js reference under the wire fuzz (test_wire_fuzz.py with AIOSOCKETIO_FUZZ_FRONTENDS=node): socket.io
// 4.8 with the settings of tests/servers/fuzz_target.py, to compare the witnesses' latencies.
// usage: node node_fuzz_target.mjs --port PORT [--host HOST]   (stops on SIGTERM/SIGINT)
//
// Namespaces "/" and "/chat": "echo" acknowledges its arguments, "message" is answered with "message-back";
// "trim" acknowledges {blocks: 0, objects: 0, sessions: <open Engine.IO sessions>} (there is no count of
// allocated blocks to give here).
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const { values } = parseArgs({
  options: { port: { type: "string" }, host: { type: "string", default: "127.0.0.1" }, frontend: { type: "string" } },
});
const httpServer = createServer();
const io = new Server(httpServer, { pingInterval: 500, pingTimeout: 1000, connectTimeout: 1000, upgradeTimeout: 1000 });

function onConnection(socket) {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("trim", (ack) => {
    if (typeof ack === "function") ack({ blocks: 0, objects: 0, sessions: io.engine.clientsCount });
  });
}

io.on("connection", onConnection);
io.of("/chat").on("connection", onConnection);
httpServer.listen(Number(values.port), values.host);
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
