"""Django's ASGI application with a Socket.IO server in front (``io.asgi_app(other_app=django_app)``); a view
emits to every connected client. Django refuses the lifespan scope, and the Socket.IO server still starts and
stops with the ASGI server. Served by uvicorn or hypercorn as ``app:app``. Used by
tests/integration/test_asgiapp_frameworks.py."""

import django
from django.conf import settings

settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["127.0.0.1"], SECRET_KEY="not a secret")
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402  (after the settings, as Django wants)
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

import aiosocketio  # noqa: E402

io = aiosocketio.Server()


@io.on("connection")
def on_connection(socket: aiosocketio.Socket) -> None:
    @socket.on("whoami")
    def whoami() -> str:
        return "anonymous"


@csrf_exempt
async def broadcast(request: HttpRequest) -> JsonResponse:
    await io.emit("news", "from django")
    return JsonResponse({"sent": True})


urlpatterns = [path("broadcast", broadcast)]

app = io.asgi_app(other_app=get_asgi_application())
