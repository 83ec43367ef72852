"""Routing through each hasher of emcache_hashing, and rebuilding it when the nodes change."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from cluster_support import address, config, has_key, set_key, wait_until

from emcache_cluster import Cluster
from emcache_hashing import Crc32Modulo, Ketama, PymemcacheRendezvous, Rendezvous, Server
from emcache_protocol import retrieval_command, storage_command

KEYS = [b"user:%d:profile" % i for i in range(300)]
POLL = 0.05

# (the ``hashing`` setting, the class that routes the same way given the same servers)
HASHINGS = {
    "ketama": (Ketama([]), Ketama),
    "ketama-md5": (Ketama([], key_hash="md5"), lambda servers: Ketama(servers, key_hash="md5")),
    "pymemcache": (PymemcacheRendezvous([]), PymemcacheRendezvous),
    "crc32": (Crc32Modulo, Crc32Modulo),
    "rendezvous": (Rendezvous, Rendezvous),
}


def servers_of(nodes):
    """The servers of test nodes, as the cluster hands them to its hasher."""
    return [Server.from_endpoint(address(node)) for node in nodes]


def discovery(**kwargs):
    """Autodiscovery polling every POLL seconds."""
    return config(autodiscovery=True, autodiscovery_poll_interval=POLL, **kwargs)


def pairs(nodes):
    return [(node.host, node.port) for node in nodes]


def owners(cluster, nodes):
    """The node each of KEYS is routed to, by its index in ``nodes``."""
    listed = set(cluster.management.nodes())
    index = {
        id(cluster.pool_for(address(node))): i
        for i, node in enumerate(nodes)
        if address(node) in listed
    }
    return [index[id(cluster.pick_pool(key))] for key in KEYS]


def expected_owners(hasher, nodes):
    index = {Server.from_endpoint(address(node)).node_id: i for i, node in enumerate(nodes)}
    return [index[hasher.pick(key)] for key in KEYS]


@pytest.mark.asyncio
@pytest.mark.parametrize("name", list(HASHINGS))
async def test_keys_land_on_the_node_the_hasher_picks(memcached_cluster, name):
    """Each key set through the cluster is held by the node the same hasher picks, alone."""
    hashing, same = HASHINGS[name]
    nodes = memcached_cluster
    cluster = await Cluster.create([address(node) for node in nodes], config(hashing=hashing))
    try:
        for key in KEYS[:60]:
            await set_key(cluster, key)
    finally:
        await cluster.close()
    reference = same(servers_of(nodes))
    for key, owner in zip(KEYS[:60], expected_owners(reference, nodes)[:60], strict=True):
        assert [has_key(node, key) for node in nodes] == [i == owner for i in range(3)], key


@pytest.mark.asyncio
async def test_autodiscovery_rebuilds_the_ketama_continuum(launcher, config_endpoint):
    """Added, then removed nodes: keys route by the continuum over the new servers."""
    nodes = launcher.start(4)
    config_endpoint.set_nodes(pairs(nodes[:3]))
    cluster = await Cluster.create([address(config_endpoint)], discovery(hashing=Ketama([])))
    try:
        before = owners(cluster, nodes)  # every route now cached
        assert before == expected_owners(Ketama(servers_of(nodes[:3])), nodes)
        config_endpoint.set_nodes(pairs(nodes))
        await wait_until(lambda: len(cluster.management.nodes()) == 4)
        grown = owners(cluster, nodes)
        assert grown == expected_owners(Ketama(servers_of(nodes)), nodes)
        moved = [new for old, new in zip(before, grown, strict=True) if old != new]
        assert moved
        assert set(moved) == {3}  # consistent: keys only move to the new node
        groups = cluster.pick_pools(KEYS)
        assert {key: pool for pool, keys in groups.items() for key in keys} == {
            key: cluster.pick_pool(key) for key in KEYS
        }
        config_endpoint.set_nodes(pairs([nodes[0], nodes[2], nodes[3]]))
        await wait_until(lambda: len(cluster.management.nodes()) == 3)
        shrunk = owners(cluster, nodes)
        assert shrunk == expected_owners(Ketama(servers_of([nodes[0], nodes[2], nodes[3]])), nodes)
        assert all(old == new for old, new in zip(grown, shrunk, strict=True) if old != 1)
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_routing_follows_the_discovered_order(launcher, config_endpoint):
    """The node table takes the order of each new list, and order-sensitive hashing follows it."""
    nodes = launcher.start(3)
    config_endpoint.set_nodes(pairs(nodes))
    cluster = await Cluster.create([address(config_endpoint)], discovery(hashing=Crc32Modulo))
    try:
        assert owners(cluster, nodes) == expected_owners(Crc32Modulo(servers_of(nodes)), nodes)
        reordered = [nodes[2], nodes[0], nodes[1]]
        config_endpoint.set_nodes(pairs(reordered))
        endpoints = [address(node) for node in reordered]
        await wait_until(lambda: cluster.management.nodes() == endpoints)
        assert owners(cluster, nodes) == expected_owners(Crc32Modulo(servers_of(reordered)), nodes)
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_a_hasher_that_fails_to_build_changes_nothing(launcher, config_endpoint, caplog):
    """A list whose hasher cannot be built leaves nodes and routing; a later poll applies it."""
    nodes = launcher.start(3)
    refuse = [True]

    def fussy(servers):
        if len(servers) == 3 and refuse[0]:
            raise ValueError("no third node today")
        return Ketama(servers)

    config_endpoint.set_nodes(pairs(nodes[:2]))
    cluster = await Cluster.create([address(config_endpoint)], discovery(hashing=fussy))
    try:
        before = owners(cluster, nodes)
        config_endpoint.set_nodes(pairs(nodes))
        await wait_until(lambda: "no third node today" in caplog.text)
        assert cluster.management.nodes() == [address(node) for node in nodes[:2]]
        assert owners(cluster, nodes) == before
        refuse[0] = False  # the same version is applied at the next poll
        await wait_until(lambda: len(cluster.management.nodes()) == 3)
        assert owners(cluster, nodes) == expected_owners(Ketama(servers_of(nodes)), nodes)
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_a_factory_that_builds_no_hasher_is_refused(memcached_cluster):
    """A factory returning something without pick and pick_many fails create with a TypeError."""
    endpoints = [address(node) for node in memcached_cluster]
    with pytest.raises(TypeError, match="not a hasher"):
        await Cluster.create(endpoints, config(hashing=lambda servers: None))


@pytest.mark.asyncio
async def test_ketama_continuum_changes_under_load_fail_no_operation(launcher, config_endpoint):
    """3 -> 4 -> 3 nodes with ketama while tasks set and get: every operation succeeds."""
    nodes = launcher.start(4)
    config_endpoint.set_nodes(pairs(nodes[:3]))
    cluster = await Cluster.create([address(config_endpoint)], discovery(hashing=Ketama([])))
    counter = itertools.count()
    failures: list[str] = []
    served = [0]
    stop = asyncio.Event()

    async def work() -> None:
        while not stop.is_set():
            key = b"load-%d" % next(counter)
            for request in (storage_command(b"set", key, key), retrieval_command(b"get", [key])):
                try:
                    await cluster.pick_pool(key).execute(request, timeout=2.0)
                    served[0] += 1
                except Exception as exc:
                    failures.append(repr(exc))
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(work()) for _ in range(8)]
    try:
        for listed in (nodes, nodes[1:], nodes):
            config_endpoint.set_nodes(pairs(listed))
            await wait_until(
                lambda listed=listed: cluster.management.nodes() == [address(n) for n in listed]
            )
            count = served[0]
            await wait_until(lambda count=count: served[0] > count + 100)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await cluster.close()
    assert failures == []
