"""The public classes, where emcache 1.x code imports them from.

In emcache 1.x this module held ``Item`` and the abstract ``Client``,
``ClusterEvents`` and ``ClusterManagment``. Here each name is the very class the
top-level package exports; ``Client`` is the concrete client.
"""

from emcache._client import Client
from emcache._item import Item
from emcache.cluster import ClusterManagment
from emcache_cluster import ClusterEvents
from emcache_pool import ConnectionPoolMetrics, MemcachedHostAddress, MemcachedUnixSocketPath

__all__ = [
    "Client",
    "ClusterEvents",
    "ClusterManagment",
    "ConnectionPoolMetrics",
    "Item",
    "MemcachedHostAddress",
    "MemcachedUnixSocketPath",
]
