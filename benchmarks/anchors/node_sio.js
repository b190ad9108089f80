// Anchor: the Node.js reference, socket.io 4.8 with its default WebSocket server (ws), on Node's own http server.
// The same contract as benchmarks/bench_server.py: `echo` acks its own arguments, `join` joins the room and acks
// true, `broadcast(room, payload)` emits `msg` to the room. The packages come from NODE_PATH (scripts/bench points
// it at tests/node_modules, installed from tests/package-lock.json by scripts/setup).
// Usage: node benchmarks/anchors/node_sio.js PORT (or env PORT); stops on SIGINT.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || process.env.PORT || 9001);
const host = process.env.HOST || '127.0.0.1';
const server = http.createServer();
const io = new Server(server, { cors: { origin: '*' } });

io.on('connection', (socket) => {
  socket.on('echo', (...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    if (ack) ack(...args);
  });
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack(true);
  });
  socket.on('broadcast', (room, payload, ack) => {
    io.to(room).emit('msg', payload);
    if (typeof ack === 'function') ack(true);
  });
});

process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
server.listen(port, host);
