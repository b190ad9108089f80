"""A Socket.IO server mounted in Starlette under a prefix: ``Mount("/realtime", io.asgi_app())``, so that clients
connect with ``path: "/realtime/socket.io/"`` and the server keeps its own ``path``. Served by uvicorn or
hypercorn as ``app:app``. Used by tests/integration/test_asgiapp_frameworks.py."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import aiosocketio

io = aiosocketio.Server()


@io.on("connection")
def on_connection(socket: aiosocketio.Socket) -> None:
    @socket.on("whoami")
    def whoami() -> str:
        return "anonymous"


async def online(request: Request) -> JSONResponse:
    return JSONResponse({"online": len(await io.fetch_sockets())})


async def news(request: Request) -> JSONResponse:
    await io.emit("news", "from starlette")
    return JSONResponse({"sent": True})


app = Starlette(
    routes=[
        Route("/online", online),
        Route("/news", news, methods=["POST"]),
        Mount("/realtime", io.asgi_app()),
    ]
)
