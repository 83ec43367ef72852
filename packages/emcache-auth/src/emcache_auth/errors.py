"""Errors raised by emcache_auth.

Every error derives from :class:`AuthError`. The messages name the user and the
server's reply, never a password: they end up in logs and tracebacks.

The hierarchy::

    AuthError
    ├── TLSConfigError (also a ValueError)   the TLS settings cannot be turned into a context
    └── AuthenticationError                  the connection could not be authenticated
        ├── AuthNotEnabledError              credentials were given, the server has no auth
        └── AuthRequiredError                the server requires auth, no credentials were given
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "AuthNotEnabledError",
    "AuthRequiredError",
    "AuthenticationError",
    "TLSConfigError",
]


class AuthError(Exception):
    """Base class of every error raised by emcache_auth."""


class TLSConfigError(AuthError, ValueError):
    """The TLS settings are invalid, e.g. the extra CA file is missing or unreadable."""


class AuthenticationError(AuthError):
    """memcached did not authenticate the connection.

    Raised when the server refuses the credentials, or closes the connection
    during the handshake.
    """


class AuthNotEnabledError(AuthenticationError):
    """Credentials were given but the server does not have authentication enabled."""


class AuthRequiredError(AuthenticationError):
    """The server requires authentication but the client has no credentials."""
