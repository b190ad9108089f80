// The reference twin of sio_suite.py: a Node.js socket.io 4.8 server with the same settings (path /socket.io/,
// ping interval 300 ms, ping timeout 200 ms, connect timeout 1 s) and the same handlers and output, so that
// tests/integration/test_socketio_protocol.py holds both to one set of assertions.
//
// usage (from tests/, so that node_modules resolves): node servers/sio_suite.mjs PORT [HOST]
// Namespaces "/" and "/custom": emit "auth" (the client's auth) right after the CONNECT reply, answer "message"
// with "message-back" (same arguments) and acknowledge "message-with-ack" with all its arguments; "/early" does the
// same after a middleware that emits "early" (the auth) and "early-ack" (whose acknowledgement comes back as
// "acked") before the connection is accepted. Prints
// "CONNECT <nsp> <id>" and "DISCONNECT <id> <reason>"; stops on SIGTERM/SIGINT.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
const host = process.argv[3] ?? "127.0.0.1";
if (!port) {
  process.stderr.write("usage: node servers/sio_suite.mjs PORT [HOST]\n");
  process.exit(64);
}

const httpServer = createServer();
const io = new Server(httpServer, { pingInterval: 300, pingTimeout: 200, connectTimeout: 1000 });

function onConnection(socket) {
  console.log(`CONNECT ${socket.nsp.name} ${socket.id}`);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("disconnect", (reason) => console.log(`DISCONNECT ${socket.id} ${reason}`));
  socket.emit("auth", socket.handshake.auth);
}

io.on("connection", onConnection);
io.of("/custom").on("connection", onConnection);
const early = io.of("/early");
early.use((socket, next) => {
  socket.emit("early", socket.handshake.auth);
  socket.emit("early-ack", (answer) => socket.emit("acked", answer));
  next();
});
early.on("connection", onConnection);

httpServer.listen(port, host, () => console.log(`READY ${port}`));

function stop() {
  io.close();
  setTimeout(() => process.exit(0), 300).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
