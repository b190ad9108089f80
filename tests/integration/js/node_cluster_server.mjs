// A Node.js socket.io 4.8 server in a cluster, for mixed-cluster tests.
// usage: node node_cluster_server.mjs PORT BUS_URL KEY [KIND] [csr]
//   KIND: classic (@socket.io/redis-adapter 8.3.0 createAdapter, the default), sharded (its createShardedAdapter),
//   streams (@socket.io/redis-streams-adapter 0.3.1) or postgres (@socket.io/postgres-adapter 0.5.0; BUS_URL is a
//   PostgreSQL URL). KEY is the key / channel prefix (and stream name, attachment table). "csr" turns on
//   connection state recovery.
// Prints "READY" once listening. Reads JSON commands on stdin, one per line ({id, op, ...}), and prints one JSON
// line {id, result} or {id, error} per command; events it receives from other servers print {kind: ...} lines.
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createAdapter as createPostgresAdapter } from "@socket.io/postgres-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import pg from "pg";

const [port, busUrl, key, kind = "classic", csr] = process.argv.slice(2);
const print = (obj) => console.log(JSON.stringify(obj));
const clients = [];
let adapter;
let emitter;
if (kind === "postgres") {
  const pool = new pg.Pool({ connectionString: busUrl });
  clients.push({ quit: () => pool.end() });
  adapter = createPostgresAdapter(pool, { channelPrefix: key, tableName: key + "_attachments", heartbeatInterval: 1000, heartbeatTimeout: 3000 });
} else {
  const pub = createClient({ url: busUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  clients.push(pub, sub);
  emitter = new Emitter(pub, { key });
  if (kind === "classic") adapter = createAdapter(pub, sub, { key, requestsTimeout: 2000 });
  else if (kind === "sharded") adapter = createShardedAdapter(pub, sub, { channelPrefix: key });
  else if (kind === "streams") adapter = createStreamsAdapter(pub, { streamName: key, channelPrefix: key, sessionKeyPrefix: key + ":session:", blockTimeInMs: 1000 });
  else throw new Error("unknown adapter kind " + kind);
}
const httpServer = createServer();
const options = { adapter };
if (csr === "csr") options.connectionStateRecovery = { maxDisconnectionDuration: 60000, skipMiddlewares: true };
const io = new Server(httpServer, options);

io.on("connection", (socket) => {
  if (!socket.recovered) socket.data.server = "node";
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
      target.emit(cmd.event, ...(cmd.args || []), ...(cmd.binary ? [Buffer.from(cmd.binary, "hex")] : []));
      return null;
    case "close":
      io.close();
      return null;
    case "emitWithAck":
      return await target.timeout(cmd.timeout).emitWithAck(cmd.event, ...(cmd.args || []));
    case "fetchSockets": {
      const sockets = await target.fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data, query: s.handshake.query }));
    }
    case "remote": {
      // act on the sockets fetchSockets returns for the given ids (RemoteSocket objects for other servers' sockets)
      const sockets = (await target.fetchSockets()).filter((s) => cmd.ids.includes(s.id));
      const results = [];
      for (const s of sockets) {
        if (cmd.method === "emitWithAck") results.push(await s.timeout(cmd.timeout).emitWithAck(cmd.event, ...(cmd.args || [])));
        else if (cmd.method === "emit") s.emit(cmd.event, ...(cmd.args || []));
        else if (cmd.method === "join") s.join(cmd.room);
        else if (cmd.method === "leave") s.leave(cmd.room);
        else if (cmd.method === "disconnect") s.disconnect(cmd.close || false);
      }
      return { count: sockets.length, results };
    }
    case "socketsLeave":
      target.socketsLeave(cmd.leave);
      return null;
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
    case "allRooms":  // classic adapter only: the legacy ALL_ROOMS request
      return [...(await io.of("/").adapter.allRooms())].sort();
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
process.stdin.on("end", async () => { io.close(); await Promise.allSettled(clients.map((c) => c.quit())); process.exit(0); });
httpServer.listen(Number(port), "127.0.0.1", () => print({ kind: "ready" }));
