"""Errors raised by emcache_pool.

Every error of the package derives from :class:`PoolError`. A timed-out request raises the
built-in :class:`TimeoutError` (which is :class:`asyncio.TimeoutError`), not a pool error, so
that callers handle timeouts the same way whichever layer reports them.

Errors raised by the optional on-connect step (for example an authentication failure) are
not wrapped: they reach the requests that were waiting for that connection unchanged.
"""

from __future__ import annotations

from emcache_protocol import ErrorReply

__all__ = [
    "ConnectError",
    "ConnectionLostError",
    "MetaNotSupportedError",
    "PairingLostError",
    "PoolClosedError",
    "PoolError",
    "ServerProtocolError",
]


class PoolError(Exception):
    """Base class of the errors of emcache_pool."""


class ConnectError(PoolError, ConnectionError):
    """A connection to the node could not be opened (refused, unreachable or timed out).

    The underlying error, if any, is the ``__cause__``. It is also a builtin
    :class:`ConnectionError`, so code that knows nothing of this package (an
    on-connect step, for one) can still tell a connection failure apart.
    """


class ConnectionLostError(PoolError, ConnectionError):
    """The connection closed before the reply of the request arrived (also a ConnectionError)."""


class ServerProtocolError(PoolError):
    """The node sent bytes that do not fit the requests in flight.

    The connection is closed and every request waiting on it fails with this error: a stream
    that lost its place can never again be matched to requests safely.
    """


class PoolClosedError(PoolError):
    """The pool is closed (or draining) and takes no request, or closed while one waited."""


class PairingLostError(ServerProtocolError):
    """The node answered a burst of requests with one error line and dropped the others.

    memcached does so on a connection that has not authenticated to a server requiring it
    (``CLIENT_ERROR unauthenticated``). The request at the head of the connection got that
    reply; every other request in flight on it fails with this error, and the connection is
    closed.

    Attributes:
        reply: The error line the node sent.
    """

    def __init__(self, message: str, reply: ErrorReply) -> None:
        super().__init__(message)
        self.reply = reply

    def __reduce__(self) -> tuple[type[PairingLostError], tuple[str, ErrorReply]]:
        return (type(self), (str(self), self.reply))


class MetaNotSupportedError(PoolError):
    """The node does not speak the meta commands (``mg``, ``ms``, ``md``, ``ma``, ``mn``).

    Raised by :meth:`~emcache_pool.ConnectionPool.require_meta` before any meta request is
    sent: memcached older than 1.6 does not know them, and 1.6.0 to 1.6.9 speak an older
    dialect. The classic commands keep working on the node.

    Attributes:
        version: The version the node reported, or ``None`` if it is not known.
    """

    def __init__(self, message: str, version: str | None = None) -> None:
        super().__init__(message)
        self.version = version

    def __reduce__(self) -> tuple[type[MetaNotSupportedError], tuple[str, str | None]]:
        return (type(self), (str(self), self.version))
