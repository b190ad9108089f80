// The reference twin of eio_echo.py: a Node.js engine.io 6.6 echo server with the same settings (path /engine.io/,
// ping interval 300 ms, ping timeout 200 ms, max payload 1 000 000 bytes) and the same output, so that
// tests/integration/test_engineio_protocol.py holds both to one set of assertions.
//
// usage (from tests/, so that node_modules resolves): node servers/eio_echo.mjs PORT [HOST]
// Prints "CONNECTION <sid> <transport>", "UPGRADE <sid> <transport>", "CLOSE <sid> <reason>", "HEARTBEAT <sid>"
// and "PACKET_CREATE <sid> ping|pong"; stops on SIGTERM/SIGINT.
import { createServer } from "node:http";
import { attach } from "engine.io";

const port = Number(process.argv[2]);
const host = process.argv[3] ?? "127.0.0.1";
if (!port) {
  process.stderr.write("usage: node servers/eio_echo.mjs PORT [HOST]\n");
  process.exit(64);
}

const httpServer = createServer();
const engine = attach(httpServer, {
  path: "/engine.io",
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1_000_000,
});

engine.on("connection", (socket) => {
  console.log(`CONNECTION ${socket.id} ${socket.transport.name}`);
  socket.on("message", (data) => socket.send(data));
  socket.on("upgrade", (transport) => console.log(`UPGRADE ${socket.id} ${transport.name}`));
  socket.on("close", (reason) => console.log(`CLOSE ${socket.id} ${reason}`));
  socket.on("heartbeat", () => console.log(`HEARTBEAT ${socket.id}`));
  socket.on("packetCreate", (packet) => {
    if (packet.type === "ping" || packet.type === "pong") {
      console.log(`PACKET_CREATE ${socket.id} ${packet.type}`);
    }
  });
});

httpServer.listen(port, host, () => console.log(`READY ${port}`));

function stop() {
  engine.close();
  httpServer.close();
  setTimeout(() => process.exit(0), 300).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
