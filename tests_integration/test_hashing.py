"""``create_client(..., hashing=...)``: each key lands on the node the peer's algorithm picks.

Each test sets keys through emcache, then asks every node directly, on a plain
socket, which of the keys it holds, and compares with the hasher of
``emcache_hashing`` that matches the peer (libmemcached's ketama, pymemcache's
``HashClient``, gomemcache's ``ServerList``), built over the same servers in
the same order. The checks against the peers themselves are in ``tools/compat``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence

import pytest

import emcache
from emcache_cluster import HasherFactory, HasherTemplate
from emcache_hashing import Crc32Modulo, Hasher, Ketama, PymemcacheRendezvous, Rendezvous, Server
from emcache_testing import FakeConfigEndpoint, MemcachedLauncher, MemcachedNode
from tests_integration.helpers import ClientFactory, address

pytestmark = pytest.mark.asyncio

KEYS = [b"user:%d:profile" % i for i in range(120)]
Reference = Callable[[list[Server]], Hasher]

# id: (the hashing option, the hasher routing as the peer over the same servers)
CASES: dict[str, tuple[HasherTemplate | HasherFactory | None, Reference]] = {
    "default-rendezvous": (None, Rendezvous),
    "ketama": (Ketama([]), Ketama),
    "ketama-md5": (Ketama([], key_hash="md5"), functools.partial(Ketama, key_hash="md5")),
    "ketama-factory": (
        functools.partial(Ketama, key_hash="md5"),
        lambda s: Ketama(s, key_hash="md5"),
    ),
    "pymemcache-str": (PymemcacheRendezvous([]), PymemcacheRendezvous),
    "pymemcache-bytes": (
        PymemcacheRendezvous([], key_type="bytes"),
        functools.partial(PymemcacheRendezvous, key_type="bytes"),
    ),
    "crc32-modulo": (Crc32Modulo, Crc32Modulo),
}


def servers_of(nodes: Sequence[MemcachedNode]) -> list[Server]:
    """The nodes as the peer client is given them: host, port, in this order."""
    return [Server.from_endpoint(address(node)) for node in nodes]


def held_keys(node: MemcachedNode, keys: Sequence[bytes]) -> set[bytes]:
    """The keys the node itself holds, read with one plain ``get`` on its own socket."""
    reply = node.command_reply(b"get " + b" ".join(keys) + b"\r\n", until=b"END\r\n")
    return {line.split()[1] for line in reply.split(b"\r\n") if line.startswith(b"VALUE ")}


def placement(nodes: Sequence[MemcachedNode], keys: Sequence[bytes]) -> dict[bytes, str]:
    """Key -> node id of the node holding it; a key held twice or nowhere fails."""
    found: dict[bytes, str] = {}
    for server, node in zip(servers_of(nodes), nodes, strict=True):
        for key in held_keys(node, keys):
            assert key not in found, f"{key!r} is on two nodes"
            found[key] = server.node_id
    assert set(found) == set(keys)
    return found


@pytest.mark.parametrize("case", list(CASES))
async def test_keys_land_where_the_peer_algorithm_puts_them(
    memcached_cluster: list[MemcachedNode], make_client: ClientFactory, case: str
) -> None:
    """set puts each key on the node the matching hasher picks; get_many finds them all."""
    hashing, reference = CASES[case]
    client = await make_client(memcached_cluster, hashing=hashing)
    for key in KEYS:
        await client.set(key, key)
    expected = reference(servers_of(memcached_cluster))
    assert placement(memcached_cluster, KEYS) == {key: expected.pick(key) for key in KEYS}
    items = await client.get_many(KEYS)  # grouped per node by the hasher's pick_many
    assert {key: item.value for key, item in items.items()} == {key: key for key in KEYS}


async def test_weighted_ketama_keeps_the_template_weights(
    memcached_cluster: list[MemcachedNode], make_client: ClientFactory
) -> None:
    """Servers given to the Ketama template with weights keep them when the cluster rebuilds it."""
    servers = servers_of(memcached_cluster)
    weighted = [server._replace(weight=w) for server, w in zip(servers, (1, 2, 5), strict=True)]
    client = await make_client(memcached_cluster, hashing=Ketama(weighted))
    for key in KEYS:
        await client.set(key, b"v")
    expected = Ketama(weighted)
    assert expected.is_weighted
    assert placement(memcached_cluster, KEYS) == {key: expected.pick(key) for key in KEYS}
    assert placement(memcached_cluster, KEYS) != {
        key: Ketama(servers_of(memcached_cluster)).pick(key) for key in KEYS
    }


async def wait_for_nodes(client: emcache.Client, count: int) -> None:
    for _ in range(500):
        if len(client.cluster_managment().nodes()) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the client never listed {count} nodes")


async def test_autodiscovery_follows_the_rebuilt_ketama_continuum(
    launcher: MemcachedLauncher, config_endpoint: FakeConfigEndpoint
) -> None:
    """A node added through the config endpoint: new writes land by the continuum over 4 servers."""
    nodes = launcher.start(4)
    config_endpoint.set_nodes([node.address for node in nodes[:3]])
    client = await emcache.create_client(
        [address(config_endpoint)],
        autodiscovery=True,
        autodiscovery_poll_interval=0.05,
        hashing=Ketama([]),
    )
    try:
        for key in KEYS[:60]:
            await client.set(key, b"before")
        three = Ketama(servers_of(nodes[:3]))
        assert placement(nodes[:3], KEYS[:60]) == {key: three.pick(key) for key in KEYS[:60]}
        config_endpoint.set_nodes([node.address for node in nodes])
        await wait_for_nodes(client, 4)
        for key in KEYS:
            await client.set(key, b"after")
        four = Ketama(servers_of(nodes))
        moved = [key for key in KEYS[:60] if four.pick(key) != three.pick(key)]
        assert moved
        assert {four.pick(key) for key in moved} == {servers_of(nodes)[3].node_id}
        for server, node in zip(servers_of(nodes), nodes, strict=True):
            owned = [key for key in KEYS if four.pick(key) == server.node_id]
            reply = node.command_reply(b"get " + b" ".join(owned) + b"\r\n", until=b"END\r\n")
            assert reply.count(b"\r\nafter\r\n") == len(owned), server
    finally:
        await client.close()
