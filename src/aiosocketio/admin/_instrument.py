"""``instrument()``: what the Socket.IO Admin UI (npm ``@socket.io/admin-ui`` 0.5) expects from a server.

The UI is a Socket.IO client of the admin namespace (``/admin``). This module speaks its protocol, as the npm
package's server half does:

* a middleware checks the credentials (a bcrypt hash) or a session id from an earlier login, and the client gets
  a new session id (``session``) after logging in with credentials;
* on connection the admin client gets ``config`` (the features it may use) and, in development mode,
  ``all_sockets``: every socket of every namespace, fetched through the adapter, so from the whole cluster;
* every two seconds each server broadcasts ``server_stats`` to the admin namespace (through the adapter, so a UI
  connected to one server of a cluster sees all of them), with the engine's counts of the last seconds
  (``aggregatedEvents``: connections, disconnections, packets and bytes in and out);
* in development mode, ``socket_connected``/``socket_updated``/``socket_disconnected``, ``room_joined``/
  ``room_left`` (the adapter's room events) and ``event_received``/``event_sent`` (``on_any`` and
  ``on_any_outgoing``) as they happen;
* unless ``read_only``: the admin actions ``emit``, ``join``, ``leave`` and ``_disconnect``, which act on every
  matching socket of the cluster (``io.of(nsp).in_(filter)....``).

Dates travel as JavaScript's ``JSON.stringify`` writes a ``Date``: ISO 8601 in UTC with milliseconds and ``Z``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import socket as _socket
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from aiosocketio._checks import missing_extra
from aiosocketio._emitter import step
from aiosocketio.admin.stores import InMemoryStore, Store
from aiosocketio.exceptions import ConnectError

if TYPE_CHECKING:
    from aiosocketio.engineio.packet import Packet as EnginePacket
    from aiosocketio.engineio.socket import EngineSocket
    from aiosocketio.namespace import Namespace
    from aiosocketio.server import Server
    from aiosocketio.socket import Socket

__all__ = ["instrument"]

logger = logging.getLogger("aiosocketio.admin")

STATS_INTERVAL = 2.0
"""How often each server sends its ``server_stats``, in seconds (the npm package's period)."""

# The features the UI reads from ``config`` (the names are the npm package's).
EMIT, JOIN, LEAVE, DISCONNECT = "EMIT", "JOIN", "LEAVE", "DISCONNECT"
MJOIN, MLEAVE, MDISCONNECT = "MJOIN", "MLEAVE", "MDISCONNECT"
AGGREGATED_EVENTS, ALL_EVENTS = "AGGREGATED_EVENTS", "ALL_EVENTS"

#: A bcrypt hash: ``$2a$``, ``$2b$`` or ``$2y$``, a two-digit cost, then 22 characters of salt and 31 of hash.
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")

Mode = Literal["development", "production"]
"""``instrument(mode=...)``: development also reports every event to the UI."""


def _now() -> str:
    """The current time as ``JSON.stringify(new Date())`` writes it."""
    return js_date(time.time())


def js_date(seconds: float) -> str:
    """``2026-12-07T07:01:02.345Z``: a moment as JavaScript's ``Date.prototype.toJSON`` writes it."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _process_started() -> float:
    """When this process started (``time.monotonic()`` clock), for ``uptime`` as Node's ``process.uptime()``."""
    now = time.monotonic()
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
        ticks = os.sysconf("SC_CLK_TCK")
        started_after_boot = int(fields[19]) / ticks
        with open("/proc/uptime", encoding="ascii") as uptime:
            since_boot = float(uptime.read().split()[0])
        return now - max(0.0, since_boot - started_after_boot)
    except (OSError, ValueError, IndexError):
        return now  # no /proc: counted from the import of this module


_PROCESS_STARTED = _process_started()


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` with what JSON cannot carry made readable: the UI shows ``socket.data``, which may hold any
    Python object, and one that cannot be encoded must not stop the admin's broadcast."""
    if value is None or isinstance(value, (str, bool, int, float, bytes)):
        return value
    if depth > 20:
        return repr(value)
    if isinstance(value, dict):
        return {str(key): plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item, depth + 1) for item in value]
    return repr(value)


def serialize_data(data: Any) -> dict[str, Any]:
    """``socket.data`` for the UI: without the instrumentation's own ``_admin`` entry."""
    if not isinstance(data, dict):
        return {}
    return {str(key): plain(value) for key, value in data.items() if key != "_admin"}


def serialize_socket(socket: Any, nsp: str) -> dict[str, Any]:
    """A socket (local or remote) as the UI lists it. ``clientId`` and ``transport`` come from ``data._admin``
    (set by an instrumented server in development mode) and are left out when absent, as JavaScript leaves out
    an undefined field."""
    data = socket.data
    admin = data.get("_admin") if isinstance(data, dict) else None
    handshake = socket.handshake
    if not isinstance(handshake, dict):  # a Handshake; a remote server's may stay the dict it sent
        handshake = handshake.to_dict() if hasattr(handshake, "to_dict") else {}
    headers = handshake.get("headers")
    headers = headers if isinstance(headers, dict) else {}
    serialized: dict[str, Any] = {"id": socket.id}
    if isinstance(admin, dict):
        if admin.get("clientId") is not None:
            serialized["clientId"] = admin["clientId"]
        if admin.get("transport") is not None:
            serialized["transport"] = admin["transport"]
    serialized["nsp"] = nsp
    serialized["data"] = serialize_data(data)
    # behind a proxy, the client's address as the proxy reports it (what the npm package shows too)
    address = headers.get("cf-connecting-ip") or headers.get("x-forwarded-for") or handshake.get("address")
    serialized["handshake"] = {
        "address": address,
        "headers": headers,
        **{name: handshake.get(name) for name in ("query", "issued", "secure", "time", "url", "xdomain")},
        # the auth (credentials, tokens) is left out on purpose
    }
    serialized["rooms"] = list(socket.rooms)
    return serialized


class TrackedData(dict[str, Any]):
    """``socket.data`` of an instrumented socket: setting or deleting a key tells the UI (``socket_updated``).

    Only the top level is watched: a change inside a value (``socket.data["user"]["name"] = ...``) is not seen
    until a key is set again. Replacing ``socket.data`` with another dict ends the watching.
    """

    __slots__ = ("_on_change",)

    def __init__(self, values: dict[str, Any], on_change: Callable[[TrackedData], None]) -> None:
        super().__init__(values)
        self._on_change = on_change

    def _changed(self) -> None:
        self._on_change(self)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``dict.update``, then report the change."""
        super().update(*args, **kwargs)
        self._changed()

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``dict.setdefault``, reporting a change when ``key`` was missing."""
        missing = key not in self
        value = super().setdefault(key, default)
        if missing:
            self._changed()
        return value

    def pop(self, key: str, *default: Any) -> Any:
        """``dict.pop``, reporting a change when ``key`` was there."""
        present = key in self
        value = super().pop(key, *default)
        if present:
            self._changed()
        return value

    def popitem(self) -> tuple[str, Any]:
        """``dict.popitem``, then report the change."""
        item = super().popitem()
        self._changed()
        return item

    def clear(self) -> None:
        """``dict.clear``, then report the change."""
        super().clear()
        self._changed()

    def __ior__(self, other: Any) -> TrackedData:  # type: ignore[override,misc]
        super().update(other)
        self._changed()
        return self


class EventBuffer:
    """Counts of engine events per second, sent and cleared with each ``server_stats``."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, str | None], int] = {}

    def push(self, kind: str, sub_type: str | None = None, count: int = 1) -> None:
        """Count ``count`` events of ``kind`` (and ``sub_type``) in the current second."""
        second = int(time.time()) * 1000
        key = (second, kind, sub_type)
        self._counts[key] = self._counts.get(key, 0) + count

    def values_and_clear(self) -> list[dict[str, Any]]:
        """The counts as the UI reads them (``timestamp`` in ms, ``type``, ``subType``, ``count``), then none."""
        values = []
        for (timestamp, kind, sub_type), count in self._counts.items():
            value: dict[str, Any] = {"timestamp": timestamp, "type": kind}
            if sub_type is not None:  # undefined in JavaScript: no field at all
                value["subType"] = sub_type
            value["count"] = count
            values.append(value)
        self._counts = {}
        return values


def _check_auth(auth: Any) -> tuple[str, bytes] | None:
    """``auth``: False (no authentication) or the basic method; returns the username and the hash."""
    if auth is False:
        logger.warning("the Admin UI namespace has no authentication (auth=False): use it with caution")
        return None
    if isinstance(auth, dict) and auth.get("type") == "basic":
        username, password = auth.get("username"), auth.get("password")
        if not isinstance(username, str):
            raise TypeError("auth['username'] is a str")
        if not isinstance(password, str) or _BCRYPT_HASH.fullmatch(password) is None:
            raise ValueError(
                "auth['password'] must be a valid bcrypt hash (such as bcrypt.hashpw(b'changeit', "
                "bcrypt.gensalt()).decode()), not the password itself"
            )
        try:
            import bcrypt  # noqa: F401
        except ImportError:
            raise missing_extra("bcrypt", "admin", "the Admin UI's basic authentication") from None
        return username, password.encode()
    raise ValueError(
        "invalid auth option: auth=False, or auth={'type': 'basic', 'username': ..., 'password': <bcrypt hash>}"
    )


def _password_matches(password: str, hashed: bytes) -> bool:
    import bcrypt

    # bcrypt only reads the first 72 bytes of a password; the npm package's bcryptjs ignores the rest, where
    # the Python binding refuses longer ones: cut them the same way.
    try:
        return bool(bcrypt.checkpw(password.encode()[:72], hashed))
    except ValueError:
        return False


#: Set in each process of a multi-process server (``workers=N``; documented in docs/deployment.md).
_WORKER_INDEX_VARIABLE = "AIOSOCKETIO_WORKER_INDEX"


def _checked_server_id(server_id: str | None) -> str | None:
    if server_id is not None and (not isinstance(server_id, str) or not server_id):
        raise TypeError("server_id is a non-empty str")
    return server_id


def _default_server_id() -> str:
    """The id the UI lists this process under when none was given, as the npm package chooses it: the host name,
    and in a worker of a multi-process server the host name and the process id (``host#pid``), so that the UI
    lists each worker. Asked each time: ``instrument()`` usually runs when the app module is imported, which may
    be in the parent, before the workers are forked."""
    host = _socket.gethostname()
    return f"{host}#{os.getpid()}" if _WORKER_INDEX_VARIABLE in os.environ else host


def _rooms_argument(value: Any) -> str | list[str] | None:
    """A room (or filter) from the UI: a str or a list of str; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(room, str) for room in value):
        return value
    return None


class Instrumentation:
    """The state of one instrumented server; made by :func:`instrument`."""

    def __init__(
        self,
        io: Server,
        *,
        auth: Any,
        mode: Mode,
        namespace_name: str,
        read_only: bool,
        server_id: str | None,
        store: Store | None,
    ) -> None:
        if mode not in ("development", "production"):
            raise ValueError(f"mode is 'development' or 'production', not {mode!r}")
        if not isinstance(namespace_name, str):
            raise TypeError("namespace_name is a str such as '/admin'")
        credentials = _check_auth(auth)
        self.io = io
        """The instrumented server."""
        self.development = mode == "development"
        """Whether every event is reported to the UI (``mode="development"``)."""
        self.store: Store = store if store is not None else InMemoryStore()
        """Where the UI's session ids are kept."""
        self.server_id = _checked_server_id(server_id)
        """The id the UI lists this server under; None: :func:`_default_server_id`, in the serving process."""
        self.nsp: Namespace = io.of(namespace_name)
        """The admin namespace the UI connects to."""
        features = [] if read_only else [EMIT, JOIN, LEAVE, DISCONNECT, MJOIN, MLEAVE, MDISCONNECT]
        features.append(AGGREGATED_EVENTS)
        if self.development:
            features.append(ALL_EVENTS)
        self.features = features
        """What the UI may do and show (the npm package's feature names)."""
        self.events = EventBuffer()
        """The engine events counted since the last ``server_stats``."""
        self.polling_clients = 0
        """How many Engine.IO sessions are on long-polling now."""
        self._stats_task: asyncio.Task[None] | None = None
        # Session ids given by the middleware, sent once the admin client is connected (an event emitted before
        # the CONNECT reply would reach the client before it listens for it).
        self._new_sessions: weakref.WeakKeyDictionary[Socket, str] = weakref.WeakKeyDictionary()

        if credentials is not None:
            self.nsp.use(self._authenticator(*credentials))
        self.nsp.on("connection", self._on_admin_connection)
        io.engine.on("connection", self._on_engine_connection)
        if self.development:
            for nsp in io.namespaces.values():
                self._watch(nsp)
            io.on("new_namespace", self._watch)
        io.on("startup", self._start_stats)
        io.on("shutdown", self._stop_stats)
        if io.serving:  # instrumented while serving: no startup event will come
            self._start_stats()

    # -- sending to the admin namespace ------------------------------------------------------------------

    def _send(self, event: str, *args: Any) -> None:
        """Broadcast to the admin namespace of every server now (the local part is written at once)."""
        step(self.nsp.emit(event, *args))

    # -- authentication ----------------------------------------------------------------------------------

    def _authenticator(self, username: str, hashed: bytes) -> Callable[[Socket], Any]:
        store = self.store
        sessions = self._new_sessions

        async def authenticate(socket: Socket) -> None:
            auth = socket.handshake.auth
            session_id = auth.get("sessionId")
            if isinstance(session_id, str) and session_id and await store.does_session_exist(session_id):
                return
            password = auth.get("password")
            if (
                auth.get("username") == username
                and isinstance(password, str)
                and await asyncio.to_thread(_password_matches, password, hashed)
            ):
                session_id = secrets.token_hex(8)
                await store.save_session(session_id)
                sessions[socket] = session_id
                return
            raise ConnectError("invalid credentials")

        return authenticate

    # -- the admin clients -------------------------------------------------------------------------------

    def _on_admin_connection(self, socket: Socket) -> Any:
        self._register_actions(socket)
        session_id = self._new_sessions.pop(socket, None)
        step(socket.emit("config", {"supportedFeatures": list(self.features)}))
        if session_id is not None:
            step(socket.emit("session", session_id))
        if self.development:
            return self._send_all_sockets(socket)
        return None

    async def _send_all_sockets(self, socket: Socket) -> None:
        await socket.emit("all_sockets", await self.fetch_all_sockets())

    async def fetch_all_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace of this server, from the whole cluster."""
        namespaces = list(self.io.namespaces.values())
        found = await asyncio.gather(*(nsp.fetch_sockets() for nsp in namespaces), return_exceptions=True)
        sockets: list[dict[str, Any]] = []
        for nsp, result in zip(namespaces, found, strict=True):
            if isinstance(result, BaseException):
                # Another server did not answer in time: show this server's sockets rather than none.
                logger.warning("fetching the sockets of %s for the Admin UI failed: %s", nsp.name, result)
                result = await nsp.local.fetch_sockets()
            sockets.extend(serialize_socket(s, nsp.name) for s in result)
        return sockets

    def _register_actions(self, socket: Socket) -> None:
        if DISCONNECT not in self.features:  # read_only: none of the actions is available
            return
        io = self.io

        def target(nsp: Any, selector: Any) -> Any:
            """``io.of(nsp)``, narrowed to the sockets in ``selector`` if any; None for input that is not."""
            if not isinstance(nsp, str):
                return None
            namespace = io.of(nsp)
            if not selector:
                return namespace
            rooms = _rooms_argument(selector)
            return None if rooms is None else namespace.in_(rooms)

        async def on_emit(nsp: Any = None, selector: Any = None, event: Any = None, *args: Any) -> None:
            where = target(nsp, selector)
            if where is None or not isinstance(event, str):
                logger.debug("admin emit with a bad namespace, filter or event name: ignored")
                return
            try:
                await where.emit(event, *args)
            except (TypeError, ValueError) as exc:  # a reserved event name, say
                logger.debug("admin emit of %r refused: %s", event, exc)

        async def on_join(nsp: Any = None, room: Any = None, selector: Any = None, *_: Any) -> None:
            where = target(nsp, selector)
            rooms = _rooms_argument(room)
            if where is not None and rooms is not None:
                await where.sockets_join(rooms)

        async def on_leave(nsp: Any = None, room: Any = None, selector: Any = None, *_: Any) -> None:
            where = target(nsp, selector)
            rooms = _rooms_argument(room)
            if where is not None and rooms is not None:
                await where.sockets_leave(rooms)

        async def on_disconnect(nsp: Any = None, close: Any = False, selector: Any = None, *_: Any) -> None:
            where = target(nsp, selector)
            if where is not None:
                await where.disconnect_sockets(bool(close))

        socket.on("emit", on_emit)
        socket.on("join", on_join)
        socket.on("leave", on_leave)
        socket.on("_disconnect", on_disconnect)

    # -- development mode: every socket, room and event --------------------------------------------------

    def _watch(self, nsp: Namespace) -> None:
        """Report what happens in ``nsp`` to the admin namespace."""
        name = nsp.name
        send = self._send

        def on_connection(socket: Socket) -> None:
            self._track(socket, nsp)

        nsp.prepend_listener("connection", on_connection)
        nsp.adapter.on("join-room", lambda room, sid: send("room_joined", name, room, sid, _now()))

        def on_leave_room(room: str, sid: str) -> None:
            # Told a moment later, as the npm package does: after the disconnection that caused it.
            _call_soon(lambda: send("room_left", name, room, sid, _now()))

        nsp.adapter.on("leave-room", on_leave_room)

    def _track(self, socket: Socket, nsp: Namespace) -> None:
        name, sid, send = nsp.name, socket.id, self._send
        conn = socket.conn

        def on_data_change(data: TrackedData) -> None:
            send("socket_updated", {"id": sid, "nsp": name, "data": serialize_data(data)})

        previous = socket.data  # a middleware may have put something there already
        values = {"_admin": {"clientId": conn.id[:12], "transport": conn.transport.name}}
        values.update((key, value) for key, value in previous.items() if key != "_admin")
        socket.data = TrackedData(values, on_data_change)
        send("socket_connected", serialize_socket(socket, name), _now())

        def on_upgrade(transport: Any) -> None:
            admin = socket.data.get("_admin")
            if isinstance(admin, dict):
                admin["transport"] = transport.name
            send("socket_updated", {"id": sid, "nsp": name, "transport": transport.name})

        conn.on("upgrade", on_upgrade)
        if nsp is not self.nsp:
            socket.on_any(lambda *args: send("event_received", name, sid, plain(args), _now()))
            socket.on_any_outgoing(lambda *args: send("event_sent", name, sid, plain(args), _now()))

        def on_disconnect(reason: str, description: Any = None) -> None:
            conn.off("upgrade", on_upgrade)
            send("socket_disconnected", name, sid, reason, _now())

        socket.on("disconnect", on_disconnect)

    # -- the engine: aggregated events and the polling clients -------------------------------------------

    def _on_engine_connection(self, conn: EngineSocket) -> None:
        events = self.events
        events.push("rawConnection")
        if conn.transport.name == "polling":
            self.polling_clients += 1
            counted = [True]

            def uncount(*_: Any) -> None:
                if counted[0]:
                    counted[0] = False
                    self.polling_clients -= 1

            conn.on("upgrade", uncount)
            conn.on("close", uncount)

        def on_packet_create(item: str | bytes) -> None:
            if type(item) is str:
                if len(item) > 1:  # "4..." (a message packet's data after its type)
                    events.push("packetsOut")
                    events.push("bytesOut", None, _utf8_length(item) - 1)
            elif item:
                events.push("packetsOut")
                events.push("bytesOut", None, len(item))

        def on_packet(packet: EnginePacket) -> None:
            data = packet.data
            if data:
                events.push("packetsIn")
                events.push("bytesIn", None, _utf8_length(data) if type(data) is str else len(data))

        def on_close(reason: str, description: Any = None) -> None:
            events.push("rawDisconnection", reason)

        conn.on("packet_create", on_packet_create)
        conn.on("packet", on_packet)
        conn.on("close", on_close)

    # -- server_stats ------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """This server's ``server_stats`` payload: ids, uptime, client counts, namespaces, and the event counts
        since the last call (which it clears)."""
        io = self.io
        return {
            "serverId": self.server_id or _default_server_id(),
            "hostname": _socket.gethostname(),
            "pid": os.getpid(),
            "uptime": time.monotonic() - _PROCESS_STARTED,
            "clientsCount": io.engine.clients_count,
            "pollingClientsCount": self.polling_clients,
            "aggregatedEvents": self.events.values_and_clear(),
            "namespaces": [
                {"name": nsp.name, "socketsCount": len(nsp.sockets)} for nsp in io.namespaces.values()
            ],
        }

    def _start_stats(self) -> None:
        task = self._stats_task
        if task is None or task.done():
            self._stats_task = asyncio.get_running_loop().create_task(self._send_stats())

    def _stop_stats(self) -> None:
        task, self._stats_task = self._stats_task, None
        if task is not None:
            task.cancel()

    async def _send_stats(self) -> None:
        while True:
            try:
                await self.nsp.emit("server_stats", self.stats())
            except Exception:
                logger.exception("sending the Admin UI's server_stats failed")
            await asyncio.sleep(STATS_INTERVAL)


def _utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _call_soon(callback: Callable[[], Any]) -> None:
    try:
        asyncio.get_running_loop().call_soon(callback)
    except RuntimeError:  # no loop (a test driving the adapter by hand): at once
        callback()


def instrument(
    io: Server,
    *,
    auth: Literal[False] | dict[str, str],
    mode: Mode = "development",
    namespace_name: str = "/admin",
    read_only: bool = False,
    server_id: str | None = None,
    store: Store | None = None,
) -> Namespace:
    """Let the Socket.IO Admin UI connect to ``io`` (in its namespace ``namespace_name``); returns that namespace.

    ``auth``: ``False`` (anyone may connect: use with caution), or
    ``{"type": "basic", "username": "admin", "password": "<bcrypt hash>"}`` (``pip install 'aiosocketio[admin]'``).
    ``mode="production"`` sends only the servers' stats and aggregated counts, not every socket, room and event.
    ``read_only=True`` refuses the UI's actions (emit, join, leave, disconnect). ``server_id``: how the UI names
    this server (by default the host name, and ``host#pid`` in each worker of ``workers=N``, as the npm package
    names ``node:cluster`` workers; give each server of one machine its own, under uvicorn's or gunicorn's
    workers too). ``store``: where session
    ids are kept (:class:`~aiosocketio.admin.RedisStore` to share them in a cluster).
    """
    return Instrumentation(
        io,
        auth=auth,
        mode=mode,
        namespace_name=namespace_name,
        read_only=read_only,
        server_id=server_id,
        store=store,
    ).nsp
