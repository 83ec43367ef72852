"""Errors raised by emcache_cluster.

Every error of this package derives from :class:`ClusterError`, so a caller can
catch the whole layer at once. Errors of the pool below (a node that cannot be
reached, a closed pool) are not translated here: the cluster only routes, and
the facade decides how a failed request is reported.

:class:`CacheUnavailableError` is the one class that is not a cluster error:
it is the common base of every "the cache could not answer" outcome, which the
facade's timeout and connection errors derive from too. It lives here because
the cluster is the lowest layer that raises such an outcome to the facade
(:class:`ClusterNoAvailableNodes`), and an ``except`` clause only matches
through real inheritance.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["AutodiscoveryError", "CacheUnavailableError", "ClusterError", "ClusterNoAvailableNodes"]


class CacheUnavailableError(Exception):
    """The cache could not answer: no node to ask, no connection, or no reply in time.

    Catch it to fall back to the source of truth whatever made the cache unavailable.
    """


class ClusterError(Exception):
    """Base class of the errors of emcache_cluster."""


class ClusterNoAvailableNodes(CacheUnavailableError, ClusterError):
    """No node can take the key.

    Raised when the routing set is empty: every node is unhealthy while
    ``purge_unhealthy_nodes`` is on, the cluster has no node at all, or
    autodiscovery has not found any node yet (the message then gives the
    last reason discovery failed).
    """


class AutodiscoveryError(ClusterError):
    """A ``config get cluster`` discovery did not succeed in time.

    Raised by :meth:`Autodiscovery.first`, which asks for the node list
    explicitly; :meth:`Cluster.create` does not raise it but starts with no
    nodes and keeps polling.

    The message says which configuration endpoints were asked and why each
    answer was refused (timeout, ``ERROR`` reply, unparsable reply, no nodes).

    Attributes:
        reasons: One line per configuration endpoint asked, saying why it gave no node list.
    """

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.reasons = tuple(reasons) or (message,)
