"""The pool metrics, where emcache 1.x code imports them from.

The very classes the top-level package exports. The 1.x pool's internals
(``ConnectionPool``, its contexts and tuning constants) have no counterpart here:
pooling is done by :mod:`emcache_pool`.
"""

from emcache.errors import AuthenticationError
from emcache_pool import ConnectionPoolMetrics, MemcachedHostAddress, MemcachedUnixSocketPath

__all__ = [
    "AuthenticationError",
    "ConnectionPoolMetrics",
    "MemcachedHostAddress",
    "MemcachedUnixSocketPath",
]
