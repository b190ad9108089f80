"""The seams between the Socket.IO objects: what a server, namespace, socket, client and broadcast operator need
from one another, as ``Protocol``\\ s.

Each module annotates what it receives from another with these types and imports an implementation only where
it creates one, so the modules form layers (server > client > namespace > socket > broadcast > this module >
adapters) and never import one another in a circle. What an adapter sees (its namespace, the local sockets, the
packet writer) is in :mod:`aiosocketio.adapters._types`, below the adapters. Internal: not part of the user API,
but the names are public because other modules call them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from aiosocketio.adapters._types import AdapterNamespace, AdapterServer, Items, PacketWriter

if TYPE_CHECKING:
    from aiosocketio.adapters.base import Adapter
    from aiosocketio.adapters.options import BroadcastOptions
    from aiosocketio.clock import Clock
    from aiosocketio.engineio.socket import EngineSocket
    from aiosocketio.parsers.packet import Packet

__all__ = [
    "BroadcastNamespace",
    "ClientNamespace",
    "ClientServer",
    "ClientSocket",
    "NamespaceClient",
    "NamespaceServer",
    "SocketClient",
    "SocketNamespace",
]


class BroadcastNamespace(Protocol):
    """What a broadcast operator needs from its namespace: the adapter, ack ids and the outgoing listeners."""

    @property
    def name(self) -> str:
        """The namespace's name."""
        ...

    @property
    def adapter(self) -> Adapter:
        """The namespace's adapter, which delivers broadcasts."""
        ...

    @property
    def server(self) -> AdapterServer:
        """The server's settings (its clock times broadcast acks)."""
        ...

    def next_ack_id(self) -> int:
        """A fresh ack id from the namespace's counter (shared with its sockets)."""
        ...

    def notify_outgoing(self, options: BroadcastOptions, event: Any, args: tuple[Any, ...]) -> None:
        """Run the ``on_any_outgoing`` listeners of the local sockets a broadcast reaches."""
        ...

    def check_not_parent(self, what: str) -> None:
        """Raise ``TypeError`` when ``what()`` is called on a parent (dynamic) namespace, which has no sockets."""
        ...


class SocketNamespace(BroadcastNamespace, Protocol):
    """What a socket needs from its namespace: an operator's needs, its server, and forgetting closed sockets."""

    outgoing_listeners: bool
    """Set once a socket of the namespace has an ``on_any_outgoing`` listener (broadcasts then look for them)."""

    @property
    def server(self) -> AdapterServer:
        """The server (its packet writer and settings)."""
        ...

    def remove(self, socket: ClientSocket) -> None:
        """The socket disconnected: drop it from the namespace."""
        ...


class SocketClient(Protocol):
    """What a socket needs from its client: the Engine.IO session and writing to it."""

    @property
    def conn(self) -> EngineSocket:
        """The Engine.IO session."""
        ...

    @property
    def closed(self) -> bool:
        """True once the connection is closed."""
        ...

    @property
    def id(self) -> str:
        """The Engine.IO session id."""
        ...

    @property
    def trace(self) -> bool:
        """Whether packets of this session are traced (``aiosocketio.socket`` at DEBUG when it began)."""
        ...

    def trace_out(self, kind: str, nsp: str, data: Any = None, ack_id: int | None = None) -> None:
        """Log the trace line of a packet sent (call only when :attr:`trace` is on)."""
        ...

    def write(self, items: Items, volatile: bool) -> None:
        """Hand encoded items to the session; a volatile packet is dropped unless it can leave now."""
        ...

    def disconnect_all_and_close(self) -> None:
        """DISCONNECT every namespace, then close the connection."""
        ...

    def remove(self, socket: ClientSocket) -> None:
        """The socket disconnected: forget it."""
        ...


class ClientSocket(Protocol):
    """What a client needs from its sockets: incoming packets, and closing them."""

    @property
    def nsp(self) -> SocketNamespace:
        """The socket's namespace."""
        ...

    @property
    def id(self) -> str:
        """The socket's public id."""
        ...

    @property
    def pid(self) -> str | None:
        """The private session id (connection state recovery only)."""
        ...

    @property
    def recovered(self) -> bool:
        """Whether the connection state was recovered."""
        ...

    def on_event(self, data: list[Any], ack_id: int | None) -> None:
        """An incoming EVENT: ``data`` is ``[name, *args]`` (never empty), ``ack_id`` the id to answer."""
        ...

    def on_packet(self, packet: Packet) -> None:
        """Any other packet for this socket's namespace (EVENT, ACK, DISCONNECT)."""
        ...

    def disconnect_now(self, close: bool) -> None:
        """Send DISCONNECT and close the socket (with ``close``: the whole connection)."""
        ...

    def on_close(self, reason: str, description: Any = None) -> None:
        """The connection closed with ``reason``: fire ``disconnecting`` then ``disconnect``."""
        ...

    def emit_reserved(self, event: str, *args: Any) -> None:
        """Fire a local event (``error``...) on the socket's listeners."""
        ...

    def has_listeners(self, event: str) -> bool:
        """Whether anything listens to ``event``."""
        ...


class NamespaceClient(SocketClient, Protocol):
    """What a namespace needs from a client that asks to connect: a socket's needs, and the CONNECT answers."""

    def connect_succeeded(self, socket: ClientSocket) -> None:
        """The namespace accepted ``socket``: send the CONNECT reply."""
        ...

    def connect_failed(self, name: str, message: str, data: Any) -> None:
        """The namespace refused: send CONNECT_ERROR."""
        ...


class ClientNamespace(Protocol):
    """What a client needs from a namespace: to run a connection attempt."""

    async def attempt(self, client: NamespaceClient, auth: dict[str, Any]) -> None:
        """Recovery, middlewares, then connect (or refuse) ``client``."""
        ...


class ClientServer(Protocol):
    """What a client needs from its server: decoders, the writer, the connect timeout and the namespaces."""

    @property
    def writer(self) -> PacketWriter:
        """Encodes what the client sends."""
        ...

    @property
    def connect_timeout(self) -> float:
        """Seconds a connection may stay without any namespace."""
        ...

    @property
    def clock(self) -> Clock | None:
        """Where the connect timeout is timed; None: the running loop."""
        ...

    def new_decoder(self) -> Any:
        """A fresh packet decoder of the server's parser, for one connection."""
        ...

    def connects_at_once(self, name: str) -> bool:
        """Whether joining namespace ``name`` waits for nothing before the ``connection`` handlers: it exists,
        has no middleware, and no connection state recovery may look a session up. The attempt may then run
        outside a task."""
        ...

    async def find_namespace(self, name: str, auth: dict[str, Any]) -> ClientNamespace | None:
        """The namespace ``name``, created by a dynamic matcher if one accepts; None when there is none."""
        ...

    def remove_client(self, client_id: str) -> None:
        """The client's connection closed: forget it."""
        ...


class NamespaceServer(AdapterServer, Protocol):
    """What a namespace needs from its server: writer and recovery settings, its adapter, ids, its removal."""

    @property
    def cleanup_empty_child_namespaces(self) -> bool:
        """Whether a child of a parent namespace goes away with its last socket."""
        ...

    def create_adapter(self, nsp: AdapterNamespace) -> Adapter:
        """The adapter of namespace ``nsp`` (from the ``adapter`` option)."""
        ...

    def new_socket_id(self) -> str:
        """A fresh random id for a socket or a private session."""
        ...

    def remove_namespace(self, nsp: BroadcastNamespace) -> None:
        """Forget ``nsp`` (an empty child namespace being cleaned up)."""
        ...
