"""Where the Admin UI's session ids are kept: a browser that logged in once reconnects with its session id
instead of the credentials (the ``sessionId`` of its handshake ``auth``).

:class:`InMemoryStore` is the default and is enough for one server. Behind a load balancer, the UI may reconnect
to another server of the cluster: :class:`RedisStore` shares the sessions, with the keys and values the npm
package's ``RedisStore`` uses (``socket.io-admin#<id>`` set to ``true`` for a day), so that servers in Python and
in Node.js accept each other's sessions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["InMemoryStore", "RedisStore", "Store"]


class Store(Protocol):
    """What ``instrument(store=...)`` needs: look up and save a session id."""

    async def does_session_exist(self, session_id: str) -> bool:
        """Whether ``session_id`` was saved (and has not expired)."""
        ...

    async def save_session(self, session_id: str) -> None:
        """Remember ``session_id`` (a random id given to a client that sent the right credentials)."""
        ...


class InMemoryStore:
    """The session ids of this process (the default). They last as long as the process."""

    __slots__ = ("_sessions",)

    def __init__(self) -> None:
        self._sessions: set[str] = set()

    async def does_session_exist(self, session_id: str) -> bool:
        """Whether this process saved ``session_id`` (Node.js: ``doesSessionExist``).

        Args:
            session_id: The ``sessionId`` a reconnecting Admin UI sends.
        """
        return session_id in self._sessions

    async def save_session(self, session_id: str) -> None:
        """Remember ``session_id`` until the process ends (Node.js: ``saveSession``).

        Args:
            session_id: The id given to a client that sent the right credentials.
        """
        self._sessions.add(session_id)


class RedisStore:
    """Session ids in Redis, shared by every server of a cluster; ``redis`` is a ``redis.asyncio.Redis`` client.

    ``session_duration``: seconds a session id stays valid (a day by default, as with the npm package).

    Args:
        redis: The client the sessions are kept with.
        prefix: The start of each key: ``<prefix>#<session id>``.
        session_duration: Seconds a session id stays valid after it was saved.

    Raises:
        ValueError: ``session_duration`` is not a positive int.
    """

    __slots__ = ("_prefix", "_redis", "_session_duration")

    def __init__(
        self, redis: Redis, *, prefix: str = "socket.io-admin", session_duration: int = 86400
    ) -> None:
        if type(session_duration) is not int or session_duration <= 0:
            raise ValueError(f"session_duration is a positive number of seconds, got {session_duration!r}")
        self._redis = redis
        self._prefix = prefix
        self._session_duration = session_duration

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}#{session_id}"

    async def does_session_exist(self, session_id: str) -> bool:
        """Whether ``session_id`` is in Redis and has not expired (Node.js: ``doesSessionExist``).

        Args:
            session_id: The ``sessionId`` a reconnecting Admin UI sends.

        Raises:
            redis.exceptions.RedisError: Redis cannot be reached.
        """
        return int(await self._redis.exists(self._key(session_id))) == 1

    async def save_session(self, session_id: str) -> None:
        """Save ``session_id`` in Redis for ``session_duration`` seconds (Node.js: ``saveSession``).

        Args:
            session_id: The id given to a client that sent the right credentials.

        Raises:
            redis.exceptions.RedisError: Redis cannot be reached.
        """
        await self._redis.set(self._key(session_id), "true", ex=self._session_duration)
