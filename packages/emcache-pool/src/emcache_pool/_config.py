"""The settings of a connection pool: its defaults and their validation, in one place.

Every layer above builds a :class:`PoolConfig` rather than checking these
settings itself, so the defaults below are the client's defaults and an
invalid setting fails here, when the configuration is built, with a
:class:`TypeError` or :class:`ValueError` naming the setting.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import attrs

from emcache_pool._connection import Connection

__all__ = ["OnConnect", "PoolConfig", "positive_seconds"]

OnConnect: TypeAlias = Callable[[Connection], Awaitable[None]]
"""A step run on each new connection before it serves requests (for example a handshake).

It may send requests with :meth:`Connection.execute`. Raising fails that connection attempt;
the error reaches the requests waiting for a connection unchanged.
"""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_max_connections(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not _is_int(value):
        msg = f"max_connections must be an int, got {type(value).__name__}"
        raise TypeError(msg)
    if value < 1:
        msg = f"max_connections must be at least 1, not {value!r}"
        raise ValueError(msg)


def _check_min_connections(
    instance: PoolConfig, attribute: attrs.Attribute[int], value: int
) -> None:
    if not _is_int(value):
        msg = f"min_connections must be an int, got {type(value).__name__}"
        raise TypeError(msg)
    if not 0 <= value <= instance.max_connections:
        msg = (
            f"min_connections must be between 0 and max_connections "
            f"({instance.max_connections}), not {value!r}"
        )
        raise ValueError(msg)


def positive_seconds(
    *, optional: bool = False
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """An attrs validator of a duration: a positive int or float (not a bool) of seconds.

    The layers above validate their own durations with it, so that every duration
    option is checked, and reported, the same way.

    Args:
        optional: Accept ``None`` too (the option then means "no limit").

    Returns:
        The validator; its ``TypeError`` or ``ValueError`` names the option.
    """
    expected = (
        "a positive number of seconds or None" if optional else "a positive number of seconds"
    )

    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if not isinstance(value, int | float) or isinstance(value, bool):
            msg = f"{attribute.name} must be {expected}, got {type(value).__name__}"
            raise TypeError(msg)
        if not value > 0:
            msg = f"{attribute.name} must be {expected}, not {value!r}"
            raise ValueError(msg)

    return check


_check_seconds_or_none = positive_seconds(optional=True)


@attrs.frozen(kw_only=True)
class PoolConfig:
    """How a :class:`~emcache_pool.ConnectionPool` opens, grows and trims its connections.

    Attributes:
        max_connections: At most this many connections to the node (an int, at least 1).
        min_connections: Keep at least this many open, even when idle (0..max_connections).
        purge_unused_connections_after: Close a connection unused for this many seconds,
            never going below ``min_connections``; ``None`` keeps connections forever.
        connection_timeout: Seconds allowed to open a connection, on-connect step included;
            ``None`` waits as long as the system does.
        ssl_context: Speak TLS with this context; ``None`` for plain TCP or unix sockets.
        server_hostname: The name the server certificate must match; defaults to the TCP
            address, or ``"localhost"`` for TLS over a unix socket.
        on_connect: Run on each new connection before it serves requests.

    Raises:
        TypeError: A count is not an int, or a duration is neither a number nor ``None``.
        ValueError: A count or duration is out of range; the message names the setting.
    """

    max_connections: int = attrs.field(default=2, validator=_check_max_connections)
    min_connections: int = attrs.field(default=1, validator=_check_min_connections)
    purge_unused_connections_after: float | None = attrs.field(
        default=60.0, validator=_check_seconds_or_none
    )
    connection_timeout: float | None = attrs.field(default=5.0, validator=_check_seconds_or_none)
    ssl_context: ssl.SSLContext | None = None
    server_hostname: str | None = None
    on_connect: OnConnect | None = None
