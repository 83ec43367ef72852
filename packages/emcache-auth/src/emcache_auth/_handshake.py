"""The ascii authentication handshake, run on each new connection.

memcached started with ``-Y <authfile>`` accepts nothing on a connection but
``set <key> <flags> <exptime> <bytes>\\r\\n<username> <password>\\r\\n`` until it
answers ``STORED``. The request is encoded by emcache_protocol with ``_`` as
flags and exptime, which a server without authentication rejects as
``CLIENT_ERROR bad command line format`` instead of storing a key: that reply
is how a server without authentication is told apart from one refusing the
credentials (``CLIENT_ERROR authentication failure`` or ``bad authentication
token format``).

The handshake does no I/O of its own: it goes through a :class:`CommandChannel`,
which a pool connection satisfies structurally, so the pool never imports this
package. Nothing here formats the password: messages and log records name the
user only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from emcache_auth._credentials import Credentials
from emcache_auth.errors import (
    AuthError,
    AuthFailedError,
    AuthNotEnabledError,
    AuthRequiredError,
)
from emcache_protocol import ErrorReply, Request, Status, StatusRequest, auth_command

__all__ = [
    "CommandChannel",
    "auth_required_error",
    "authenticate",
    "on_connect_step",
]

_log = logging.getLogger("emcache.auth")

T = TypeVar("T")

# What a server without authentication answers to `set _ _ _ <bytes>`.
_NOT_ENABLED = "bad command line format"
# What a server requiring authentication answers on a connection that has not
# authenticated: `unauthenticated` to anything but a set, and to a set the
# verdict on its data block read as credentials.
_AUTH_REQUIRED = frozenset(
    {"unauthenticated", "authentication failure", "bad authentication token format"}
)


class CommandChannel(Protocol):
    """Something that sends one request and returns its parsed reply (a pool connection)."""

    async def execute(self, request: Request[T]) -> T | ErrorReply:
        """Send ``request`` and return its reply."""
        ...


async def authenticate(channel: CommandChannel, credentials: Credentials) -> None:
    """Authenticate the connection behind ``channel`` with ``credentials``.

    Args:
        channel: The new connection, before it serves any other request.
        credentials: The username and password.

    Raises:
        AuthNotEnabledError: The server does not have authentication enabled.
        AuthFailedError: The server refused the credentials, answered
            something unexpected, or closed the connection.
        AuthError: The credentials cannot be encoded as an auth request.
    """
    request = _encode(credentials)
    _log.debug("authenticating as user %r", credentials.username)
    try:
        reply = await channel.execute(request)
    except (ConnectionError, EOFError) as exc:
        msg = (
            f"memcached closed the connection while authenticating user "
            f"{credentials.username!r}; it may have refused the credentials"
        )
        raise AuthFailedError(msg) from exc
    _check_reply(reply, credentials.username)
    _log.debug("authenticated as user %r", credentials.username)


def on_connect_step(credentials: Credentials) -> Callable[[CommandChannel], Awaitable[None]]:
    """Return the step a connection pool runs on each new connection to authenticate it.

    Args:
        credentials: The username and password every connection authenticates with.

    Returns:
        An async callable taking the new connection; it raises as
        :func:`authenticate` does.
    """

    async def authenticate_connection(channel: CommandChannel) -> None:
        await authenticate(channel, credentials)

    return authenticate_connection


def auth_required_error(reply: object) -> AuthRequiredError | None:
    """Explain a reply that a server requiring authentication gives an unauthenticated client.

    For a client created without credentials: an operation answered this way
    means the server was started with authentication.

    Args:
        reply: A reply returned by the connection.

    Returns:
        The error to raise, or ``None`` if ``reply`` is not such a refusal.
    """
    if not (
        isinstance(reply, ErrorReply)
        and reply.kind == "CLIENT_ERROR"
        and reply.message in _AUTH_REQUIRED
    ):
        return None
    msg = (
        f"the memcached server requires authentication (it answered 'CLIENT_ERROR "
        f"{reply.message}') but the client was created without username and password"
    )
    return AuthRequiredError(msg)


def _encode(credentials: Credentials) -> StatusRequest:
    # The encoder's own error message might quote the password, so it is not
    # chained: the error is raised outside the except block.
    try:
        request: StatusRequest | None = auth_command(credentials.username, credentials.password)
    except (TypeError, ValueError):
        request = None
    if request is None:
        msg = f"the credentials of user {credentials.username!r} cannot be sent to memcached"
        raise AuthError(msg)
    return request


def _check_reply(reply: Status | ErrorReply, username: str) -> None:
    if reply is Status.STORED:
        return
    if isinstance(reply, ErrorReply) and reply.kind == "CLIENT_ERROR":
        if reply.message == _NOT_ENABLED:
            msg = (
                f"credentials were given for user {username!r} but the memcached server does "
                f"not have authentication enabled (it answered the authentication request with "
                f"'CLIENT_ERROR {_NOT_ENABLED}'); start memcached with -Y <authfile> or create "
                f"the client without username and password"
            )
            _log.debug("authentication not enabled on the server")
            raise AuthNotEnabledError(msg)
        msg = (
            f"memcached refused the credentials for user {username!r} "
            f"(CLIENT_ERROR {reply.message})"
        )
        _log.debug("credentials refused for user %r", username)
        raise AuthFailedError(msg)
    msg = (
        f"memcached answered the authentication of user {username!r} with an unexpected "
        f"reply: {_describe(reply)}"
    )
    raise AuthFailedError(msg)


def _describe(reply: object) -> str:
    if isinstance(reply, ErrorReply):
        return f"{reply.kind} {reply.message}".rstrip()
    if isinstance(reply, Status):
        return reply.name
    return type(reply).__name__
