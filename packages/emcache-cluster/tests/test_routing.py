"""Key routing over real memcached nodes, checked on the servers themselves."""

from __future__ import annotations

import pytest
from cluster_support import address, config, curr_items, has_key, set_key

from emcache_cluster import Cluster
from emcache_hashing import Rendezvous, Server
from emcache_pool import Endpoint, MemcachedHostAddress, MemcachedUnixSocketPath

KEYS = [b"key-%d" % i for i in range(300)]


def node_id(endpoint: Endpoint) -> str:
    """The id the cluster names a node by in its hasher."""
    return Server.from_endpoint(endpoint).node_id


def test_node_ids_are_those_of_emcache_1x():
    """A node's id is host and port without separator, or the socket path, as in emcache 1.x."""
    assert node_id(MemcachedHostAddress("localhost", 11211)) == "localhost11211"
    assert node_id(MemcachedHostAddress("::1", 11211)) == "::111211"
    assert node_id(MemcachedUnixSocketPath("/run/mc.sock")) == "/run/mc.sock"


@pytest.mark.asyncio
async def test_cluster_spreads_keys_over_three_nodes(memcached_cluster):
    """300 keys set through the cluster land on all three nodes, each on its rendezvous owner."""
    endpoints = [address(node) for node in memcached_cluster]
    cluster = await Cluster.create(endpoints, config())
    try:
        for key in KEYS:
            await set_key(cluster, key)
    finally:
        await cluster.close()
    counts = [curr_items(node) for node in memcached_cluster]
    assert sum(counts) == len(KEYS)
    assert all(count > 60 for count in counts), counts
    hasher = Rendezvous([node_id(endpoint) for endpoint in endpoints])
    by_id = {node_id(address(node)): node for node in memcached_cluster}
    for key in KEYS[:30]:
        assert has_key(by_id[hasher.pick(key)], key)


@pytest.mark.asyncio
async def test_pick_pools_groups_keys_like_pick_pool(memcached_cluster):
    """pick_pools puts each key under the pool pick_pool gives it, keeping the keys' order."""
    cluster = await Cluster.create([address(node) for node in memcached_cluster], config())
    try:
        groups = cluster.pick_pools(KEYS)
        assert len(groups) == 3
        assert sorted(key for group in groups.values() for key in group) == sorted(KEYS)
        for pool, keys in groups.items():
            assert all(cluster.pick_pool(key) is pool for key in keys)
            assert keys == [key for key in KEYS if key in set(keys)]
        assert cluster.pick_pools([]) == {}
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_pick_pools_hashes_only_uncached_keys_with_pick_many(memcached_cluster):
    """Keys without a cached route go to the hasher's pick_many in one call; cached ones never."""
    calls: list[tuple[str, list[bytes]]] = []

    class Recording:
        def __init__(self, nodes):
            self.hasher = Rendezvous(nodes)

        def pick(self, key):
            calls.append(("pick", [key]))
            return self.hasher.pick(key)

        def pick_many(self, keys):
            calls.append(("pick_many", list(keys)))
            return self.hasher.pick_many(keys)

    endpoints = [address(node) for node in memcached_cluster]
    cluster = await Cluster.create(endpoints, config(hashing=Recording))
    try:
        cluster.pick_pool(KEYS[0])
        groups = cluster.pick_pools(KEYS[:100])
        assert calls == [("pick", KEYS[:1]), ("pick_many", KEYS[1:100])]
        assert cluster.pick_pools(KEYS[:100]) == groups
        assert len(calls) == 2
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_single_node_cluster_does_not_hash(memcached):
    """With one node every key goes to its pool and the hasher is never built."""

    def no_hasher(nodes):
        raise AssertionError("a single node must not be hashed")

    cluster = await Cluster.create([address(memcached)], config(hashing=no_hasher))
    try:
        pool = cluster.pool_for(address(memcached))
        assert cluster.pick_pool(b"a") is pool
        assert cluster.pick_pools([b"a", b"b"]) == {pool: [b"a", b"b"]}
        assert cluster.pick_pools([]) == {}
        await set_key(cluster, b"solo")
    finally:
        await cluster.close()
    assert has_key(memcached, b"solo")


@pytest.mark.asyncio
async def test_cluster_uses_the_given_hasher_factory(memcached_cluster):
    """A custom hasher factory receives the nodes' servers, in order, and decides the routing."""
    endpoints = [address(node) for node in memcached_cluster]
    seen = []

    class First:
        def __init__(self, servers):
            seen.append(list(servers))
            self.node = servers[0].node_id

        def pick(self, key):
            return self.node

        def pick_many(self, keys):
            return {self.node: list(keys)}

    cluster = await Cluster.create(endpoints, config(hashing=First))
    try:
        first = cluster.pool_for(endpoints[0])
        assert seen == [[Server.from_endpoint(endpoint) for endpoint in endpoints]]
        assert all(cluster.pick_pool(key) is first for key in KEYS)
        assert cluster.pick_pools(KEYS) == {first: KEYS}
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_create_deduplicates_endpoints(memcached):
    """An endpoint given twice makes one node."""
    cluster = await Cluster.create([address(memcached), address(memcached)], config())
    try:
        assert cluster.management.nodes() == [address(memcached)]
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_create_rejects_no_endpoints():
    """A cluster needs at least one endpoint."""
    with pytest.raises(ValueError, match="at least one"):
        await Cluster.create([], config())


@pytest.mark.asyncio
async def test_create_rejects_nodes_with_the_same_node_id():
    """Two endpoints whose host and port run together alike are refused, with the reason."""
    colliding = [MemcachedHostAddress("127.0.0.1", 11211), MemcachedHostAddress("127.0.0.11", 1211)]
    with pytest.raises(ValueError) as raised:
        await Cluster.create(colliding, config())
    message = str(raised.value)
    assert "127.0.0.1:11211 and 127.0.0.11:1211" in message
    assert "node id '127.0.0.111211'" in message
    assert "host + port without separator" in message


@pytest.mark.asyncio
async def test_pool_for_unknown_endpoint_raises_key_error(memcached):
    """Asking for the pool of an endpoint that is not a node names it in a KeyError."""
    cluster = await Cluster.create([address(memcached)], config())
    try:
        with pytest.raises(KeyError, match=r"127\.0\.0\.1:1 is not a node"):
            cluster.pool_for(MemcachedHostAddress("127.0.0.1", 1))
        with pytest.raises(KeyError, match=r"\[::1\]:11211 is not a node"):
            cluster.pool_for(MemcachedHostAddress("::1", 11211))
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_close_is_idempotent(memcached_cluster):
    """Closing twice is harmless."""
    cluster = await Cluster.create([address(node) for node in memcached_cluster], config())
    await cluster.close()
    await cluster.close()


@pytest.mark.asyncio
async def test_remembered_routes_stay_exact_and_bounded(memcached_cluster):
    """Cached routes equal the hasher's picks, and the cache never exceeds its bound."""
    from emcache_cluster import _cluster

    endpoints = [address(node) for node in memcached_cluster]
    cluster = await Cluster.create(endpoints, config())
    try:
        hasher = Rendezvous([node_id(endpoint) for endpoint in endpoints])
        by_id = {node_id(endpoint): cluster.pool_for(endpoint) for endpoint in endpoints}
        keys = [b"route-%d" % i for i in range(_cluster._ROUTE_CACHE_SIZE + 5000)]
        for _ in range(2):
            for key in keys:
                assert cluster.pick_pool(key) is by_id[hasher.pick(key)]
                assert len(cluster._routes) <= _cluster._ROUTE_CACHE_SIZE
        groups = cluster.pick_pools(keys[:500])
        for pool, group in groups.items():
            assert all(by_id[hasher.pick(key)] is pool for key in group)
        groups = cluster.pick_pools(keys)
        assert sum(len(group) for group in groups.values()) == len(keys)
        for pool, group in groups.items():
            assert all(by_id[hasher.pick(key)] is pool for key in group)
    finally:
        await cluster.close()


@pytest.mark.asyncio
async def test_cluster_async_with_closes_it(memcached_cluster):
    """``async with`` on a created cluster closes every pool on the way out; repr tells."""
    async with await Cluster.create([address(n) for n in memcached_cluster], config()) as cluster:
        assert repr(cluster).startswith("<Cluster open nodes=3")
        await set_key(cluster, b"k")
    assert repr(cluster).startswith("<Cluster closed")
    metrics = cluster.management.connection_pool_metrics()
    assert all(m.cur_connections == 0 for m in metrics.values())
