"""One member of the cluster: its endpoint, routing id, pool and last reported health."""

from __future__ import annotations

import attrs

from emcache_hashing import Server
from emcache_pool import ConnectionPool, Endpoint

__all__ = ["Node"]


@attrs.define(eq=False)
class Node:
    """A node as the cluster tracks it.

    ``server`` is the node as a hasher is given it (host, port, weight 1), and
    ``node_id`` the name the hasher knows the node by: the id of emcache 1.x
    (``f"{address}{port}"``, or the socket path), as
    :attr:`emcache_hashing.Server.node_id` spells it, so that keys route as
    that client routes them.
    ``healthy`` is the last value the pool reported through its callback.
    ``removed`` turns true when autodiscovery drops the node: its pool may
    still report while it drains, and those reports are then ignored.
    """

    endpoint: Endpoint
    server: Server = attrs.field(init=False)
    node_id: str = attrs.field(init=False)
    pool: ConnectionPool = attrs.field(init=False)
    healthy: bool = True
    removed: bool = False

    @server.default
    def _server(self) -> Server:
        return Server.from_endpoint(self.endpoint)

    @node_id.default
    def _node_id(self) -> str:
        return self.server.node_id
