"""The cluster classes, where emcache 1.x code imports them from.

The very classes the top-level package exports: the event hooks a user subclasses,
the management view they receive, and the error raised when no node can take a key.
"""

from emcache.errors import ClusterNoAvailableNodes
from emcache_cluster import ClusterEvents, ClusterManagment
from emcache_pool import ConnectionPoolMetrics, MemcachedHostAddress, MemcachedUnixSocketPath

__all__ = [
    "ClusterEvents",
    "ClusterManagment",
    "ClusterNoAvailableNodes",
    "ConnectionPoolMetrics",
    "MemcachedHostAddress",
    "MemcachedUnixSocketPath",
]
