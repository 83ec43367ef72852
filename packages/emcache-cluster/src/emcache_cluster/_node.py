"""One member of the cluster: its endpoint, its pool and its last reported health."""

from __future__ import annotations

import attrs

from emcache_pool import ConnectionPool, Endpoint

__all__ = ["Node"]


@attrs.define(eq=False)
class Node:
    """A node as the cluster tracks it.

    ``healthy`` is the last value the pool reported through its callback.
    ``removed`` turns true when autodiscovery drops the node: its pool may
    still report while it drains, and those reports are then ignored.
    """

    endpoint: Endpoint
    node_id: str
    pool: ConnectionPool = attrs.field(init=False)
    healthy: bool = True
    removed: bool = False
