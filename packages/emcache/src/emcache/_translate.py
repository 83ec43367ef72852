"""The one place where failures of the lower layers become the facade's errors.

The packages below the facade raise their own errors (``emcache_pool.errors``,
``emcache_auth.errors``, the builtin :class:`TimeoutError`) and hand back
:class:`~emcache_protocol.ErrorReply` values for server error lines. Users of
the facade catch the emcache 1.x classes of :mod:`emcache.errors` only, so
every path that can fail goes through these functions: the client's commands,
autobatching and client creation.

* A timeout is an :class:`~emcache.errors.OperationTimeoutError` (a
  ``TimeoutError``, as in 1.x).
* An authentication failure of any kind, including a server that answers an
  unauthenticated client (even a whole burst of requests at once), is an
  :class:`~emcache.errors.AuthenticationError`.
* Anything else that kept the request from its reply (no connection, a lost
  or untrustworthy stream, a closed pool) is a
  :class:`~emcache.errors.ConnectionFailedError`, which is also a
  ``TimeoutError`` so that 1.x code treating timeouts as "cache unavailable"
  keeps working.
"""

from __future__ import annotations

from emcache.errors import (
    AuthenticationError,
    CommandError,
    ConnectionFailedError,
    OperationTimeoutError,
)
from emcache_auth import AuthError, auth_required_error
from emcache_pool.errors import PairingLostError, PoolError
from emcache_protocol import ErrorReply

__all__ = ["LOWER_ERRORS", "batch_error", "reply_error", "translate"]

LOWER_ERRORS = (PoolError, AuthError, TimeoutError)
"""The exceptions of the lower layers that :func:`translate` knows."""


def translate(exc: BaseException) -> Exception:
    """The facade error for ``exc``, one of :data:`LOWER_ERRORS`."""
    if isinstance(exc, TimeoutError):
        return OperationTimeoutError(str(exc))
    cause = exc.__cause__
    if isinstance(exc, AuthError) or isinstance(cause, AuthError):
        return AuthenticationError(str(cause if isinstance(cause, AuthError) else exc))
    if isinstance(exc, PairingLostError):
        auth_error = auth_required_error(exc.reply)
        if auth_error is not None:
            return AuthenticationError(str(auth_error))
    return ConnectionFailedError(str(exc))


def reply_error(reply: object, error: type[CommandError] = CommandError) -> CommandError:
    """The error for a reply that is not the one the command hoped for.

    Args:
        reply: The server's :class:`~emcache_protocol.ErrorReply`, or an unexpected
            reply (a status, say).
        error: The class to use unless the reply means authentication is missing.
    """
    if isinstance(reply, ErrorReply):
        auth_error = auth_required_error(reply)
        if auth_error is not None:
            return AuthenticationError(str(auth_error))
        return error(f"command failed, the server replied {reply.kind} {reply.message}".rstrip())
    return error(f"command failed, the server replied {reply}")


def batch_error(outcome: BaseException | ErrorReply) -> BaseException:
    """The error the callers of a failed autobatching request get."""
    if isinstance(outcome, LOWER_ERRORS):
        return translate(outcome)
    if isinstance(outcome, BaseException):
        return outcome
    return reply_error(outcome)
