// Drives socket.io-client 4.8 through connection state recovery; prints one JSON line per observation.
// usage: node sio_recovery_client.mjs URL CUTS [RECONNECT_DELAY_MS]
//   Each time the event "cut-me" arrives, the client's WebSocket is cut (the TCP socket destroyed, no close
//   frame), CUTS times in all; the client exits after the (CUTS+1)-th "done" event or after 10 s.
import { io } from "socket.io-client";

const [url, cutsArg, delayArg] = process.argv.slice(2);
let cutsLeft = Number(cutsArg);
let doneLeft = cutsLeft + 1;
const print = (obj) => console.log(JSON.stringify(obj));
const socket = io(url, {
  transports: ["websocket"],
  reconnectionDelay: Number(delayArg || 50),
  reconnectionDelayMax: Number(delayArg || 50),
  randomizationFactor: 0,
});
socket.on("connect", () => print({ kind: "connect", id: socket.id, recovered: socket.recovered }));
socket.on("disconnect", (reason) => print({ kind: "disconnect", reason }));
socket.onAny((event, ...args) => {
  print({ kind: "event", event, args });
  if (event === "cut-me" && cutsLeft > 0) {
    cutsLeft -= 1;
    socket.io.engine.transport.ws._socket.destroy();
  }
  if (event === "done" && --doneLeft === 0) {
    socket.disconnect();
    print({ kind: "end" });
    process.exit(0);
  }
});
setTimeout(() => { print({ kind: "timeout" }); process.exit(1); }, 10000);
