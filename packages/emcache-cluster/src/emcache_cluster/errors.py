"""Errors raised by emcache_cluster.

Every error of this package derives from :class:`ClusterError`, so a caller can
catch the whole layer at once. Errors of the pool below (a node that cannot be
reached, a closed pool) are not translated here: the cluster only routes, and
the facade decides how a failed request is reported.
"""

from __future__ import annotations

__all__ = ["AutodiscoveryError", "ClusterError", "ClusterNoAvailableNodes"]


class ClusterError(Exception):
    """Base class of the errors of emcache_cluster."""


class ClusterNoAvailableNodes(ClusterError):
    """No node can take the key.

    Raised when the routing set is empty: every node is unhealthy while
    ``purge_unhealthy_nodes`` is on, or the cluster has no node at all.
    """


class AutodiscoveryError(ClusterError):
    """The first ``config get cluster`` discovery did not succeed in time.

    The message says which configuration endpoints were asked and why each
    answer was refused (timeout, ``ERROR`` reply, unparsable reply, no nodes).
    """
