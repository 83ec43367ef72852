"""emcache_auth: TLS contexts and the memcached ascii authentication handshake.

:func:`build_ssl_context` turns a :class:`TLSConfig` into the ``ssl.SSLContext``
a connection pool connects with, and :func:`on_connect_step` turns
:class:`Credentials` into the step a pool runs on each new connection. The pool
needs neither import: it takes a context and an async callable.
"""

from emcache_auth.__about__ import __version__
from emcache_auth._credentials import Credentials
from emcache_auth._handshake import (
    CommandChannel,
    auth_required_error,
    authenticate,
    on_connect_step,
)
from emcache_auth._tls import TLSConfig, build_ssl_context
from emcache_auth.errors import (
    AuthError,
    AuthFailedError,
    AuthNotEnabledError,
    AuthRequiredError,
    TLSConfigError,
)

__all__ = [
    "AuthError",
    "AuthFailedError",
    "AuthNotEnabledError",
    "AuthRequiredError",
    "CommandChannel",
    "Credentials",
    "TLSConfig",
    "TLSConfigError",
    "__version__",
    "auth_required_error",
    "authenticate",
    "build_ssl_context",
    "on_connect_step",
]
