"""A server with the workers adapter built at import time, then forked into workers (``workers=N`` style).

``python tests/servers/workers_forked.py DIR PORT0 PORT1 ...``: builds the server of ``workers_cluster.py`` with
``create_adapter()`` (no arguments: each worker reads its settings from the environment), prints
``BEFORE FORK files=F threads=T new-fds=N`` (the files in DIR, the threads, and the file descriptors building the
server opened: all should be nothing), then forks one worker per port with ``AIOSOCKETIO_WORKER_INDEX``,
``AIOSOCKETIO_WORKERS`` and ``AIOSOCKETIO_WORKER_DIR`` set. SIGTERM stops the workers, then this process.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from workers_cluster import build

from aiosocketio.adapters.workers import create_adapter

DIRECTORY = sys.argv[1]
PORTS = [int(port) for port in sys.argv[2:]]

fds_before = len(os.listdir("/proc/self/fd"))
io = build(create_adapter(), lambda: int(os.environ["AIOSOCKETIO_WORKER_INDEX"]))
io.of("/other")
app = io.asgi_app()


def main() -> None:
    files = len(os.listdir(DIRECTORY)) if os.path.isdir(DIRECTORY) else 0
    new_fds = len(os.listdir("/proc/self/fd")) - fds_before
    print(f"BEFORE FORK files={files} threads={threading.active_count()} new-fds={new_fds}", flush=True)
    children = []
    for index, port in enumerate(PORTS):
        pid = os.fork()
        if pid == 0:
            os.environ.update(
                AIOSOCKETIO_WORKER_INDEX=str(index),
                AIOSOCKETIO_WORKERS=str(len(PORTS)),
                AIOSOCKETIO_WORKER_DIR=DIRECTORY,
            )
            io.run(port=port, log_level="warning")
            os._exit(0)
        children.append(pid)

    def stop(signum: int, frame: object) -> None:
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    for child in children:
        os.waitpid(child, 0)


if __name__ == "__main__":
    main()
