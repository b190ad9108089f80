// A Node.js socket.io 4.8 server with @socket.io/redis-adapter 8.3.0, for mixed-cluster tests.
// usage: node node_cluster_server.mjs PORT REDIS_URL KEY
// Prints "READY" once listening. Reads JSON commands on stdin, one per line ({id, op, ...}), and prints one JSON
// line {id, result} or {id, error} per command; events it receives from other servers print {kind: ...} lines.
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";

const [port, redisUrl, key] = process.argv.slice(2);
const print = (obj) => console.log(JSON.stringify(obj));
const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);
const httpServer = createServer();
const io = new Server(httpServer, { adapter: createAdapter(pub, sub, { key, requestsTimeout: 2000 }) });
const emitter = new Emitter(pub, { key });

io.on("connection", (socket) => {
  socket.data.server = "node";
  socket.on("join", (room, cb) => { socket.join(room); cb && cb(); });
});
io.on("hello", (...args) => print({ kind: "server-side", args }));
io.on("question", (value, cb) => cb(value * 4));

const jsonable = (value) => JSON.parse(JSON.stringify(value, (k, v) =>
  v && v.type === "Buffer" && Array.isArray(v.data) ? { $bytes: Buffer.from(v.data).toString("hex") } : v));

async function run(cmd) {
  let target = io;
  if (cmd.rooms) target = target.to(cmd.rooms);
  if (cmd.except) target = target.except(cmd.except);
  switch (cmd.op) {
    case "emit":
      target.emit(cmd.event, ...(cmd.args || []));
      return null;
    case "emitWithAck":
      return await target.timeout(cmd.timeout).emitWithAck(cmd.event, ...(cmd.args || []));
    case "fetchSockets": {
      const sockets = await target.fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data, query: s.handshake.query }));
    }
    case "socketsJoin":
      target.socketsJoin(cmd.join);
      return null;
    case "disconnectSockets":
      target.disconnectSockets(cmd.close || false);
      return null;
    case "serverSideEmit":
      io.serverSideEmit(cmd.event, ...(cmd.args || []));
      return null;
    case "serverSideEmitWithAck":
      return await io.serverSideEmitWithAck(cmd.event, ...(cmd.args || []));
    case "serverCount":
      return await io.of("/").adapter.serverCount();
    case "emitterEmit": {
      let e = emitter;
      if (cmd.rooms) e = e.to(cmd.rooms);
      e.emit(cmd.event, ...(cmd.args || []));
      return null;
    }
    case "emitterServerSideEmit":
      emitter.serverSideEmit(cmd.event, ...(cmd.args || []));
      return null;
    default:
      throw new Error("unknown op " + cmd.op);
  }
}

createInterface({ input: process.stdin }).on("line", async (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  try {
    print({ id: cmd.id, result: jsonable(await run(cmd)) });
  } catch (err) {
    print({ id: cmd.id, error: String(err && err.message ? err.message : err) });
  }
});
process.stdin.on("end", async () => { io.close(); await Promise.allSettled([pub.quit(), sub.quit()]); process.exit(0); });
httpServer.listen(Number(port), "127.0.0.1", () => print({ kind: "ready" }));
