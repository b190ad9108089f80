// A socket.io-client 4.8 that survives its server: it reconnects (after RECONNECT_DELAY_MS) to the same URL, which
// the test points at another server of the cluster. Prints one JSON line per observation.
// usage: node sio_failover_client.mjs URL [RECONNECT_DELAY_MS]
// stdin: {"op":"join","room":R} asks the server to join R (prints {"kind":"joined"} on the ack);
// {"op":"emit","event":E,"args":[...]} emits E with an ack (prints {"kind":"acked","args":[...]}); EOF ends the client.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const [url, delayArg] = process.argv.slice(2);
const delay = Number(delayArg || 1000);
const print = (obj) => console.log(JSON.stringify(obj));
const socket = io(url, {
  transports: ["websocket"],
  reconnectionDelay: delay,
  reconnectionDelayMax: delay,
  randomizationFactor: 0,
});
socket.on("connect", () => print({ kind: "connect", id: socket.id, recovered: socket.recovered }));
socket.on("disconnect", (reason) => print({ kind: "disconnect", reason }));
socket.onAny((event, ...args) => print({ kind: "event", event, args }));
createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.op === "join") socket.emit("join", cmd.room, () => print({ kind: "joined" }));
  if (cmd.op === "emit") socket.emit(cmd.event, ...cmd.args, (...args) => print({ kind: "acked", args }));
});
process.stdin.on("end", () => { socket.disconnect(); process.exit(0); });
setTimeout(() => { print({ kind: "timeout" }); process.exit(1); }, 30000);
