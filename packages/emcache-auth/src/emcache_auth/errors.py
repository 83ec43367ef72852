"""Errors raised by emcache_auth.

Every error derives from :class:`AuthError`. The messages name the user and the
server's reply, never a password: they end up in logs and tracebacks.

The hierarchy::

    AuthError
    ├── TLSConfigError (also a ValueError)   the TLS settings cannot be turned into a context
    └── AuthFailedError                      the connection could not be authenticated
        ├── AuthNotEnabledError              credentials were given, the server has no auth
        └── AuthRequiredError                the server requires auth, no credentials were given

The client reports the last three as ``emcache.AuthenticationError``, an unrelated
class of the facade (a ``CommandError``, as in emcache 1.x); the names differ so
that neither is taken for the other.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "AuthFailedError",
    "AuthNotEnabledError",
    "AuthRequiredError",
    "TLSConfigError",
]


class AuthError(Exception):
    """Base class of every error raised by emcache_auth."""


class TLSConfigError(AuthError, ValueError):
    """The TLS settings are invalid, e.g. the extra CA file is missing or unreadable."""


class AuthFailedError(AuthError):
    """memcached did not authenticate the connection.

    Raised when the server refuses the credentials, or closes the connection
    during the handshake.
    """


class AuthNotEnabledError(AuthFailedError):
    """Credentials were given but the server does not have authentication enabled."""


class AuthRequiredError(AuthFailedError):
    """The server requires authentication but the client has no credentials."""
