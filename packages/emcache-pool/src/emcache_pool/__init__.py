"""emcache_pool: pipelined asyncio connections to one memcached node and a fair, adaptive pool.

The layer between the sans-IO protocol (``emcache_protocol``) and the cluster: it moves
already-encoded requests to a node and hands each caller its own reply.
"""

from emcache_pool.__about__ import __version__
from emcache_pool._config import OnConnect, PoolConfig, positive_seconds
from emcache_pool._connect import connect, open_connection
from emcache_pool._connection import Connection
from emcache_pool._endpoints import (
    Endpoint,
    MemcachedHostAddress,
    MemcachedUnixSocketPath,
    endpoint_text,
)
from emcache_pool._metrics import ConnectionPoolMetrics
from emcache_pool._pool import ConnectionPool

__all__ = [
    "Connection",
    "ConnectionPool",
    "ConnectionPoolMetrics",
    "Endpoint",
    "MemcachedHostAddress",
    "MemcachedUnixSocketPath",
    "OnConnect",
    "PoolConfig",
    "__version__",
    "connect",
    "endpoint_text",
    "open_connection",
    "positive_seconds",
]

# Documented and shown where users import them from.
for _cls in (
    Connection,
    ConnectionPool,
    ConnectionPoolMetrics,
    MemcachedHostAddress,
    MemcachedUnixSocketPath,
    PoolConfig,
):
    _cls.__module__ = __name__
del _cls
