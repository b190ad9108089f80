"""The server of the slow-consumer tests (``tests/integration/test_slow_consumer.py``).

Every client joins the room ``feed``. Events, all acknowledged:

- ``blast(count, size, volatile, first)``: broadcast ``count`` events ``chunk(seq, text)`` to ``feed``, ``seq``
  running from ``first``, ``text`` being ``size`` characters; ``volatile`` sends them with ``io.volatile``.
  Answers the server's memory (below).
- ``status()``: ``{"rss": kB, "peak": kB, "connected": [socket ids], "gone": {socket id: reason}}``, where
  ``rss`` and ``peak`` are this process's ``VmRSS`` and ``VmHWM`` (the peak resident size since the last
  ``reset_peak``), read from ``/proc/self/status``.
- ``reset_peak()``: start a new peak measurement (``/proc/self/clear_refs``), then answer ``status()``.

``--limit BYTES`` is every per-connection limit: the front-end's ``max_write_buffer`` (WebSocket; the
runner's option, or the ASGI app's under uvicorn) and the engine's ``max_queued_bytes`` (long-polling). Pings are far apart so that a client that never reads is
dropped for its backlog, not for a missed pong, within the test.

    python tests/servers/slow_consumer.py --port 3000 --frontend runner|uvicorn --limit 1048576
"""

from __future__ import annotations

from typing import Any

from frontend import parse_args, serve

import aiosocketio


def _memory() -> dict[str, int]:
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":")
                values["rss" if name == "VmRSS" else "peak"] = int(value.split()[0])
    return values


def build(limit: int) -> aiosocketio.Server:
    io = aiosocketio.Server(ping_interval=60.0, ping_timeout=60.0, max_queued_bytes=limit)
    gone: dict[str, str] = {}

    def status() -> dict[str, Any]:
        return {**_memory(), "connected": sorted(io.sockets.sockets), "gone": gone}

    async def on_connection(socket: aiosocketio.Socket) -> None:
        await socket.join("feed")
        print(f"CONNECT {socket.id} {socket.conn.transport.name}", flush=True)

        def on_disconnect(reason: str, description: Any) -> None:
            gone[socket.id] = reason
            print(f"DISCONNECT {socket.id} {reason}", flush=True)

        socket.on("disconnect", on_disconnect)

        @socket.on("blast")
        async def blast(count: int, size: int, volatile: bool, first: int) -> dict[str, Any]:
            text = "x" * size
            target = io.to("feed").volatile if volatile else io.to("feed")
            for seq in range(first, first + count):
                await target.emit("chunk", seq, text)
            return status()

        socket.on("status", status)

        @socket.on("reset_peak")
        def reset_peak() -> dict[str, Any]:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # resets VmHWM to the current VmRSS (proc(5))
            return status()

    io.on("connection", on_connection)
    return io


def main() -> None:
    args = parse_args(lambda parser: parser.add_argument("--limit", type=int, default=1024 * 1024))
    serve(build(args.limit), args, max_write_buffer=args.limit)


if __name__ == "__main__":
    main()
