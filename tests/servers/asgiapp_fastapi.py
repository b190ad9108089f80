"""FastAPI and Socket.IO in one ASGI app (``io.asgi_app(other_app=api)``), served by uvicorn or hypercorn as
``app:app``: FastAPI's lifespan (with state), an HTTP route, a WebSocket route, and one authentication shared by
a FastAPI dependency and a Socket.IO middleware. Used by tests/integration/test_asgiapp_frameworks.py."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Header, HTTPException, Request, WebSocket

import aiosocketio
from aiosocketio import ConnectError

TOKENS = {"token-of-ada": "ada", "token-of-bob": "bob"}


def user_for(token: object) -> str | None:
    """The one check, for HTTP (a bearer token) and for Socket.IO (``auth.token``)."""
    return TOKENS.get(token) if isinstance(token, str) else None


def current_user(authorization: str = Header()) -> str:
    user = user_for(authorization.removeprefix("Bearer "))
    if user is None:
        raise HTTPException(status_code=401)
    return user


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncIterator[dict[str, str]]:
    print("fastapi startup", flush=True)
    yield {"greeting": "hello"}
    print("fastapi shutdown", flush=True)


io = aiosocketio.Server()
api = FastAPI(lifespan=lifespan)


@io.use
def authenticate(socket: aiosocketio.Socket) -> None:
    user = user_for(socket.handshake.auth.get("token"))
    if user is None:
        raise ConnectError("not authorized")
    socket.data["user"] = user


@io.on("connection")
async def on_connection(socket: aiosocketio.Socket) -> None:
    await socket.join(f"user:{socket.data['user']}")

    @socket.on("whoami")
    def whoami() -> str:
        return str(socket.data["user"])


@api.post("/messages/{to}")
async def send_message(to: str, request: Request, sender: str = Depends(current_user)) -> dict[str, bool]:
    await io.to(f"user:{to}").emit("news", f"{request.state.greeting} from {sender}")
    return {"sent": True}


@api.get("/online")
async def online() -> dict[str, int]:
    return {"online": len(await io.fetch_sockets())}


@api.websocket("/shout")
async def shout(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text((await websocket.receive_text()).upper())
    await websocket.close()


app = io.asgi_app(other_app=api)
