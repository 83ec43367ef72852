"""The part of the demo that talks to the nodes through the emcache facade.

It runs the client-creation examples of the documentation against the local
nodes (their real ports stand in for 11211, 11212, ...), then a few commands,
and prints what happened and the pool metrics of every node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from emcache_testing import MemcachedNode


def run_examples(nodes: Sequence[MemcachedNode]) -> None:
    """Run the client-creation examples against ``nodes`` and print the outcome."""
    asyncio.run(_examples(nodes))


async def _examples(nodes: Sequence[MemcachedNode]) -> None:
    import emcache

    addresses = [emcache.MemcachedHostAddress(*node.address) for node in nodes]

    print("\n1. create_client with the default options")
    client = await emcache.create_client(addresses)
    await client.set(b"greeting", b"hello from emcache")
    item = await client.get(b"greeting")
    print(f"   set/get greeting -> {item}")
    keys = [b"key-%d" % i for i in range(30)]
    for key in keys:
        await client.set(key, key.upper(), flags=1)
    found = await client.get_many(keys, return_flags=True)
    print(f"   get_many of {len(keys)} keys -> {len(found)} items")
    per_node = {}
    for node in addresses:
        stats = await client.stats(node)
        per_node[f"{node.address}:{node.port}"] = int(stats["curr_items"])
    print(f"   items per node (spread by rendezvous hashing): {per_node}")
    await client.close()
    print(f"   closed: {client.closed}")

    print("\n2. create_client with purge_unused_connections_after=None")
    client = await emcache.create_client(addresses, purge_unused_connections_after=None)
    print(f"   increment counter -> {await _counter(client)}")
    for endpoint, metrics in client.cluster_managment().connection_pool_metrics().items():
        print(
            f"   {endpoint} connections={metrics.cur_connections} "
            f"created={metrics.connections_created} ops={metrics.operations_executed}"
        )
    print(f"   healthy nodes: {len(client.cluster_managment().healthy_nodes())}/{len(addresses)}")
    await client.close()
    print("\n3. create_client then close right away")
    client = await emcache.create_client(addresses)
    await client.close()
    print(f"   closed: {client.closed}")


async def _counter(client: object) -> int | None:
    import emcache

    assert isinstance(client, emcache.Client)
    await client.set(b"counter", b"41")
    return await client.increment(b"counter", 1)
