"""The settings of a connection pool."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import attrs

from emcache_pool._connection import Connection

__all__ = ["OnConnect", "PoolConfig"]

OnConnect: TypeAlias = Callable[[Connection], Awaitable[None]]
"""A step run on each new connection before it serves requests (for example a handshake).

It may send requests with :meth:`Connection.execute`. Raising fails that connection attempt;
the error reaches the requests waiting for a connection unchanged.
"""


@attrs.frozen(kw_only=True)
class PoolConfig:
    """How a :class:`~emcache_pool.ConnectionPool` opens, grows and trims its connections.

    Attributes:
        max_connections: At most this many connections to the node (at least 1).
        min_connections: Keep at least this many open, even when idle (0..max_connections).
        purge_unused_connections_after: Close a connection unused for this many seconds,
            never going below ``min_connections``; ``None`` keeps connections forever.
        connection_timeout: Seconds allowed to open a connection, on-connect step included;
            ``None`` waits as long as the system does.
        ssl_context: Speak TLS with this context; ``None`` for plain TCP or unix sockets.
        server_hostname: The name the server certificate must match; defaults to the TCP
            address, or ``"localhost"`` for TLS over a unix socket.
        on_connect: Run on each new connection before it serves requests.
    """

    max_connections: int = 2
    min_connections: int = 1
    purge_unused_connections_after: float | None = 60.0
    connection_timeout: float | None = 5.0
    ssl_context: ssl.SSLContext | None = None
    server_hostname: str | None = None
    on_connect: OnConnect | None = None

    def __attrs_post_init__(self) -> None:
        if self.max_connections < 1:
            msg = f"max_connections must be at least 1, not {self.max_connections!r}"
            raise ValueError(msg)
        if not 0 <= self.min_connections <= self.max_connections:
            msg = (
                f"min_connections must be between 0 and max_connections "
                f"({self.max_connections}), not {self.min_connections!r}"
            )
            raise ValueError(msg)
        for name in ("purge_unused_connections_after", "connection_timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                msg = f"{name} must be a positive number of seconds or None, not {value!r}"
                raise ValueError(msg)
