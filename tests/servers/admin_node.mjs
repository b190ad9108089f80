// The Node.js twin of admin_app.py: socket.io 4.8 instrumented by @socket.io/admin-ui 0.5.1, in a Redis cluster
// with the classic @socket.io/redis-adapter.
// usage: node admin_node.mjs PORT HOST REDIS_URL KEY SERVER_ID PASSWORD_HASH
// Users connect to "/" with ?nick=...&rooms=a,b; prints "CONNECT <sid> <nick>" and "DISCONNECT <sid> <reason>".
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { instrument } from "@socket.io/admin-ui";
import { createClient } from "redis";

const [port, host, redisUrl, key, serverId, passwordHash] = process.argv.slice(2);
const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);

const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { key, requestsTimeout: 2000 }) });
instrument(io, { auth: { type: "basic", username: "admin", password: passwordHash }, serverId, mode: "development" });

io.on("connection", (socket) => {
  const nick = socket.handshake.query.nick || "anonymous";
  socket.data.nick = nick;
  const rooms = (socket.handshake.query.rooms || "").split(",").filter(Boolean);
  if (rooms.length) socket.join(rooms);
  console.log(`CONNECT ${socket.id} ${nick}`);
  socket.on("disconnect", (reason) => console.log(`DISCONNECT ${socket.id} ${reason}`));
});

const stop = () => {
  io.close();
  Promise.all([pub.quit(), sub.quit()]).finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
httpServer.listen(Number(port), host);
