"""Helpers shared by the emcache_cluster tests (the memcached fixtures: emcache-testing)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from emcache_cluster import Cluster, ClusterEvents, ClusterManagement, ClusterSettings
from emcache_pool import PoolConfig
from emcache_protocol import storage_command
from node_endpoints import endpoint_of

FAST_POOL = PoolConfig(connection_timeout=1.0, purge_unused_connections_after=None)

# The workspace's node -> endpoint helper, under the name these tests use.
address = endpoint_of


def config(**kwargs: object) -> ClusterSettings:
    """Cluster settings with quick connection timeouts."""
    kwargs.setdefault("pool", FAST_POOL)
    return ClusterSettings(**kwargs)  # type: ignore[arg-type]


async def set_key(cluster: Cluster, key: bytes, value: bytes = b"v") -> object:
    """Store ``key`` on the node the cluster routes it to."""
    pool = cluster.pick_pool(key)
    return await pool.execute(storage_command(b"set", key, value), timeout=2.0)


async def wait_until(predicate: Callable[[], bool], limit: float = 10.0) -> float:
    """Poll ``predicate`` until it is true; return the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > limit:
            raise AssertionError(f"condition not met within {limit} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def curr_items(node: object) -> int:
    """Read ``curr_items`` from the node's own ``stats``."""
    reply: bytes = node.command_reply(b"stats\r\n", until=b"END\r\n")  # type: ignore[attr-defined]
    for line in reply.split(b"\r\n"):
        if line.startswith(b"STAT curr_items "):
            return int(line.split()[2])
    raise AssertionError("no curr_items in stats")


def has_key(node: object, key: bytes) -> bool:
    """Whether the node itself holds ``key``."""
    reply: bytes = node.command_reply(b"get " + key + b"\r\n", until=b"END\r\n")  # type: ignore[attr-defined]
    return reply.startswith(b"VALUE ")


class RecordingEvents(ClusterEvents):
    """Records every event as (hook name, endpoint)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.views: list[ClusterManagement] = []

    async def on_node_healthy(self, cluster_management: ClusterManagement, host: object) -> None:
        self.views.append(cluster_management)
        self.events.append(("healthy", host))

    async def on_node_unhealthy(self, cluster_management: ClusterManagement, host: object) -> None:
        self.views.append(cluster_management)
        self.events.append(("unhealthy", host))

    async def on_node_added(self, cluster_management: ClusterManagement, host: object) -> None:
        self.views.append(cluster_management)
        self.events.append(("added", host))

    async def on_node_removed(self, cluster_management: ClusterManagement, host: object) -> None:
        self.views.append(cluster_management)
        self.events.append(("removed", host))
