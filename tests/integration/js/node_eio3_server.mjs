// The reference for the EIO=3 bench: Node.js socket.io 4.8.4 with allowEIO3, the behaviour tests/servers/eio3.py
// copies on aiosocketio, so that what a socket.io-client 2.x sees from it is what it must see from ours.
// usage: node node_eio3_server.mjs PORT        (prints "READY <port>" once listening, stops on SIGTERM/SIGINT)
//
// "/": on connection, emits "welcome" {id, binary: <01 02 03>}; "echo" acknowledges every argument it got;
//      "heartbeats" acknowledges the number of heartbeat events of the Engine.IO connection so far (with
//      protocol 3 that is one per client ping).
// "/admin": a middleware refuses a missing token (Error "no token", no data) and a wrong one (Error
//      "not authorized", data {token}); v2 clients carry the query in the URL and in the CONNECT packet. A
//      connected socket gets "seen" {id, query, auth, protocol}; "echo" acknowledges like on "/".
// Every connection and disconnection is printed as "CONNECT <nsp> <id>" / "DISCONNECT <nsp> <id> <reason>".
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2]);
if (!port) {
  process.stderr.write("usage: node node_eio3_server.mjs PORT\n");
  process.exit(64);
}

const httpServer = createServer();
const io = new Server(httpServer, { allowEIO3: true, pingInterval: 300, pingTimeout: 200, connectTimeout: 1000 });

function track(socket) {
  console.log(`CONNECT ${socket.nsp.name} ${socket.id}`);
  socket.on("disconnect", (reason) => console.log(`DISCONNECT ${socket.nsp.name} ${socket.id} ${reason}`));
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
}

io.on("connection", (socket) => {
  track(socket);
  let heartbeats = 0;
  socket.conn.on("heartbeat", () => {
    heartbeats += 1;
  });
  socket.on("heartbeats", (ack) => ack(heartbeats));
  socket.emit("welcome", { id: socket.id, binary: Buffer.from([1, 2, 3]) });
});

const admin = io.of("/admin");
admin.use((socket, next) => {
  const token = socket.handshake.query.token;
  if (token === undefined) return next(new Error("no token"));
  if (token !== "abc") {
    const err = new Error("not authorized");
    err.data = { token };
    return next(err);
  }
  next();
});
admin.on("connection", (socket) => {
  track(socket);
  socket.emit("seen", {
    id: socket.id,
    query: socket.handshake.query,
    auth: socket.handshake.auth,
    protocol: socket.conn.protocol,
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`READY ${port}`));

function stop() {
  io.close();
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
