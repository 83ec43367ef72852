"""The cluster classes, where emcache 1.x code imports them from.

The very classes the top-level package exports: the event hooks a user subclasses,
the management view they receive, and the error raised when no node can take a key.
The view's class is :class:`emcache_cluster.ClusterManagement`; ``ClusterManagment``
is its emcache 1.x spelling, kept here (and exported by :mod:`emcache`) as an alias.
"""

from emcache.errors import ClusterNoAvailableNodes
from emcache_cluster import ClusterEvents, ClusterManagement
from emcache_pool import ConnectionPoolMetrics, MemcachedHostAddress, MemcachedUnixSocketPath

__all__ = [
    "ClusterEvents",
    "ClusterManagment",
    "ClusterNoAvailableNodes",
    "ConnectionPoolMetrics",
    "MemcachedHostAddress",
    "MemcachedUnixSocketPath",
]

ClusterManagment = ClusterManagement
"""The emcache 1.x spelling of :class:`emcache_cluster.ClusterManagement`, the very same class."""
