"""emcache_cluster: the nodes of a memcached cluster, key routing, health and autodiscovery.

:class:`Cluster` keeps one :class:`emcache_pool.ConnectionPool` per node and
routes each key to one of them through a hasher (by default the rendezvous
hashing of emcache 1.x). It follows each pool's health, can leave unhealthy
nodes out of routing, tells :class:`ClusterEvents` hooks about changes, and
with autodiscovery follows the node list of a ``config get cluster`` endpoint.
:class:`ClusterSettings` holds every setting, with its default and validation.
"""

from emcache_cluster.__about__ import __version__
from emcache_cluster._cluster import Cluster
from emcache_cluster._events import ClusterEvents, ClusterManagement
from emcache_cluster._settings import ClusterSettings, HasherFactory, HasherTemplate
from emcache_cluster.errors import (
    AutodiscoveryError,
    CacheUnavailableError,
    ClusterError,
    ClusterNoAvailableNodes,
)

__all__ = [
    "AutodiscoveryError",
    "CacheUnavailableError",
    "Cluster",
    "ClusterError",
    "ClusterEvents",
    "ClusterManagement",
    "ClusterNoAvailableNodes",
    "ClusterSettings",
    "HasherFactory",
    "HasherTemplate",
    "__version__",
]
