// What the socket.io-client scenario scripts share: reporting one JSON line per observation, awaiting a step with
// a timeout (exit status 2 and {"event":"timeout","step":...} when it hangs), the transport choices, and the
// connect / exchange / wind-down steps that sio_client.mjs and sio_msgpack_client.mjs both run.

export const factor = Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1") || 1;
export const STEP_TIMEOUT = 5000 * factor;

// The step in progress (named in a timeout report) and the transport the Engine.IO connection opened with.
export const state = { step: "start", openedWith: null };

export function report(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

export function hex(view) {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("hex");
}

// Resolves with the arguments of the next `event` on `emitter`.
export function next(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

// Awaits `promise`, or reports a timeout for the current step and exits with status 2.
export async function within(promise) {
  let timer;
  const expired = new Promise(() => {
    timer = setTimeout(() => {
      report({ event: "timeout", step: state.step });
      process.exit(2);
    }, STEP_TIMEOUT);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

export function transportOf(socket) {
  return socket.io.engine?.transport?.name ?? null;
}

export const TRANSPORTS = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
};

// Remembers the transport each Engine.IO connection of `manager` opens with; reports manager errors.
export function watchManager(manager) {
  manager.on("error", (err) => report({ event: "error", message: `manager: ${err?.message ?? err}` }));
  manager.on("open", () => {
    state.openedWith = manager.engine.transport.name;
  });
}

// Connects `nsp` with `auth`, reports the connection and the server's "auth" event (shown with `describe`).
export async function join(manager, nsp, auth, describe) {
  state.step = `connect ${nsp}`;
  const socket = manager.socket(nsp, auth === undefined ? {} : { auth });
  socket.on("connect_error", (err) => report({ event: "error", message: `connect_error on ${nsp}: ${err.message}` }));
  socket.on("disconnect", (reason) => report({ event: "disconnect", nsp, reason, connected: socket.connected }));
  // The server emits "auth" right after the CONNECT reply: listen before connecting.
  const authArgs = next(socket, "auth");
  const connected = next(socket, "connect");
  socket.connect();
  await within(connected);
  report({ event: "connect", nsp, id: socket.id, engineId: manager.engine.id, openedWith: state.openedWith });
  state.step = `auth ${nsp}`;
  report({ event: "auth", nsp, args: describe(await within(authArgs)) });
  return socket;
}

// Emits "message" with `args` and reports the server's "message-back".
export async function exchange(socket, nsp, args, describe) {
  state.step = `message ${nsp}`;
  const back = next(socket, "message-back");
  socket.emit("message", ...args);
  report({ event: "message-back", nsp, args: describe(await within(back)), transport: transportOf(socket) });
}

// With the "upgrade" transport choice, waits for the upgrade to WebSocket and reports it.
export async function awaitUpgrade(engine, transportArg) {
  if (transportArg !== "upgrade") return;
  state.step = "upgrade";
  if (engine.transport.name !== "websocket") await within(next(engine, "upgrade"));
  report({ event: "upgrade", transport: engine.transport.name });
}

// The last steps: "/random" is refused, "/custom" then "/" disconnect, the Engine.IO connection closes.
export async function windDown(manager, root, custom, engineClosed) {
  state.step = "connect /random";
  const random = manager.socket("/random");
  const failed = next(random, "connect_error");
  random.connect();
  const [err] = await within(failed);
  report({ event: "connect_error", nsp: "/random", message: err.message, data: err.data ?? null });
  random.disconnect();

  state.step = "disconnect /custom";
  const customGone = next(custom, "disconnect");
  custom.disconnect();
  await within(customGone);
  state.step = "disconnect /";
  const rootGone = next(root, "disconnect");
  root.disconnect();
  await within(rootGone);
  state.step = "engine close";
  const [reason] = await within(engineClosed);
  report({ event: "engine-close", reason });
  report({ event: "done" });
  // Let the last packets go out, but never hang.
  setTimeout(() => process.exit(0), 2000 * factor).unref();
}

// Runs `run` when the arguments are valid; any failure is reported with the step it happened in.
export function main(script, url, transportArg, run) {
  if (!url || !(transportArg in TRANSPORTS)) {
    process.stderr.write(`usage: ${script} <url> <${Object.keys(TRANSPORTS).join("|")}>\n`);
    process.exit(64);
  }
  run().catch((err) => {
    report({ event: "error", message: `${state.step}: ${err?.stack ?? err}` });
    process.exit(1);
  });
}
