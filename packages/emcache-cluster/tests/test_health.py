"""Health tracking with real nodes: events, purging unhealthy nodes, no available node."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from cluster_support import RecordingEvents, address, config, set_key, wait_until

from emcache_cluster import Cluster, ClusterNoAvailableNodes
from emcache_protocol import storage_command

KEYS = [b"key-%d" % i for i in range(200)]


async def poke_until_unhealthy(cluster, endpoint):
    """Send requests to a dead node's pool until the cluster sees it unhealthy."""
    pool = cluster.pool_for(endpoint)
    view = cluster.management

    async def poke():
        while endpoint not in view.unhealthy_nodes():
            with contextlib.suppress(Exception):
                await pool.execute(storage_command(b"set", b"k", b"v"), timeout=0.5)
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poke(), 10)


@pytest.mark.asyncio
async def test_killed_node_fires_unhealthy_then_healthy_when_back(memcached_cluster):
    """A killed node is reported unhealthy, and healthy again once restarted."""
    events = RecordingEvents()
    endpoints = [address(node) for node in memcached_cluster]
    cluster = await Cluster.create(endpoints, config(cluster_events=events))
    try:
        victim = memcached_cluster[1]
        victim.kill()
        await poke_until_unhealthy(cluster, endpoints[1])
        await wait_until(lambda: ("unhealthy", endpoints[1]) in events.events)
        view = cluster.management
        assert view.unhealthy_nodes() == [endpoints[1]]
        assert view.healthy_nodes() == [endpoints[0], endpoints[2]]
        assert view.nodes() == endpoints
        assert events.views[0] is view
        await asyncio.to_thread(victim.restart)
        await wait_until(lambda: ("healthy", endpoints[1]) in events.events, limit=15)
        assert view.unhealthy_nodes() == []
        assert events.events == [("unhealthy", endpoints[1]), ("healthy", endpoints[1])]
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_purge_routes_around_an_unhealthy_node(memcached_cluster):
    """With purge_unhealthy_nodes the keys of a dead node go to the others until it recovers."""
    endpoints = [address(node) for node in memcached_cluster]
    cluster = await Cluster.create(endpoints, config(purge_unhealthy_nodes=True))
    try:
        dead = cluster.pool_for(endpoints[0])
        owned = [key for key in KEYS if cluster.pick_pool(key) is dead]
        others = {key: cluster.pick_pool(key) for key in KEYS if key not in owned}
        assert owned
        memcached_cluster[0].kill()
        await poke_until_unhealthy(cluster, endpoints[0])
        assert all(cluster.pick_pool(key) is not dead for key in KEYS)
        assert all(cluster.pick_pool(key) is pool for key, pool in others.items())
        assert dead not in cluster.pick_pools(KEYS)
        for key in owned:
            await set_key(cluster, key)
        await asyncio.to_thread(memcached_cluster[0].restart)
        await wait_until(lambda: not cluster.management.unhealthy_nodes(), limit=15)
        assert all(cluster.pick_pool(key) is dead for key in owned)
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_without_purge_an_unhealthy_node_keeps_its_keys(memcached_cluster):
    """Without purge_unhealthy_nodes routing does not change when a node is unhealthy."""
    endpoints = [address(node) for node in memcached_cluster]
    cluster = await Cluster.create(endpoints, config())
    try:
        before = {key: cluster.pick_pool(key) for key in KEYS}
        memcached_cluster[2].kill()
        await poke_until_unhealthy(cluster, endpoints[2])
        assert {key: cluster.pick_pool(key) for key in KEYS} == before
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_no_available_nodes_when_every_node_is_purged(launcher):
    """With every node purged, routing raises ClusterNoAvailableNodes, and recovers after."""
    nodes = launcher.start(2)
    endpoints = [address(node) for node in nodes]
    cluster = await Cluster.create(endpoints, config(purge_unhealthy_nodes=True))
    try:
        for node, endpoint in zip(nodes, endpoints, strict=True):
            node.kill()
            await poke_until_unhealthy(cluster, endpoint)
        with pytest.raises(ClusterNoAvailableNodes, match="all 2 nodes are unhealthy"):
            cluster.pick_pool(b"key")
        with pytest.raises(ClusterNoAvailableNodes):
            cluster.pick_pools([b"key"])
        await asyncio.to_thread(nodes[1].restart)
        await wait_until(lambda: endpoints[1] in cluster.management.healthy_nodes(), 15)
        assert cluster.pick_pool(b"key") is cluster.pool_for(endpoints[1])
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_connection_pool_metrics_cover_every_node(memcached_cluster):
    """connection_pool_metrics has one entry per node, from that node's pool."""
    endpoints = [address(node) for node in memcached_cluster]
    cluster = await Cluster.create(endpoints, config())
    try:
        for key in KEYS[:20]:
            await set_key(cluster, key)
        metrics = cluster.management.connection_pool_metrics()
        assert list(metrics) == endpoints
        for endpoint, value in metrics.items():
            assert type(value) is type(cluster.pool_for(endpoint).metrics())
    finally:
        await cluster.close()
