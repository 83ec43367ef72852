"""Time a routing change through the cluster: autodiscovery adds, removes or replaces nodes.

A cluster of 50 nodes follows a fake ``config get cluster`` endpoint
(emcache-testing's ``FakeConfigEndpoint``); each step serves a new node list
and runs one autodiscovery poll. What is timed is the cluster's node-change
step, the call the poller makes once it has a newer list: build the hasher
over the new routing set, start the new nodes' pools, swap the routing in,
start draining the removed nodes. That step runs on the event loop without an
``await``, so its duration is also how long other tasks wait. The polls' own
network round trip is not part of it.

Steps, for each ``hashing`` setting:

- *add*: a node never seen before joins the 50 (its ketama points are hashed
  then, the others' come from the point cache);
- *remove*: that node leaves again;
- *replace*: all 50 nodes are replaced by 50 new ones, the worst case (the
  point cache knows none of them, as on the first build).

No node is ever connected to (``min_connections=0`` and no request), so the
figures are the routing change alone. Usage::

    hatch run python tools/bench/cluster_rehash.py [--nodes 50] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any

from emcache_cluster import Cluster, ClusterSettings
from emcache_hashing import Crc32Modulo, Ketama, PymemcacheRendezvous
from emcache_pool import MemcachedHostAddress, PoolConfig
from emcache_testing import FakeConfigEndpoint

HASHINGS: dict[str, Any] = {
    "default (Rendezvous, emcache 1.x)": None,
    "Ketama([])": Ketama([]),
    "Ketama([], key_hash='md5')": Ketama([], key_hash="md5"),
    "Ketama([], key_hash='md5', weighted=True)": Ketama([], key_hash="md5", weighted=True),
    "PymemcacheRendezvous([])": PymemcacheRendezvous([]),
    "Crc32Modulo": Crc32Modulo,
}


def fresh_hosts() -> Iterator[tuple[str, int]]:
    """Node addresses never used before in this process (never connected to)."""
    for n in itertools.count():
        yield f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250 + 1}", 11211


class Timed:
    """Wraps the cluster's node-change step and records how long each call takes."""

    def __init__(self, apply: Callable[[list[MemcachedHostAddress]], None]) -> None:
        self.apply = apply
        self.ms: list[float] = []

    def __call__(self, endpoints: list[MemcachedHostAddress]) -> None:
        started = time.perf_counter_ns()
        self.apply(endpoints)
        self.ms.append((time.perf_counter_ns() - started) / 1e6)


async def measure(hashing: Any, nodes: int, rounds: int) -> dict[str, list[float]]:
    hosts = fresh_hosts()
    current = [next(hosts) for _ in range(nodes)]
    settings = ClusterSettings(
        pool=PoolConfig(min_connections=0),
        autodiscovery=True,
        autodiscovery_poll_interval=3600.0,  # every poll below is explicit
        hashing=hashing,
    )
    timings: dict[str, list[float]] = {"add": [], "remove": [], "replace": []}
    async with FakeConfigEndpoint(current) as endpoint:
        config = MemcachedHostAddress(*endpoint.address)
        cluster = await Cluster.create([config], settings)
        discovery = cluster._autodiscovery
        assert discovery is not None
        timed = Timed(discovery._apply)
        discovery._apply = timed
        try:
            for _ in range(rounds):
                for step, listed in (
                    ("add", [*current, next(hosts)]),
                    ("remove", current),
                    ("replace", [next(hosts) for _ in range(nodes)]),
                ):
                    endpoint.set_nodes(listed)
                    assert await discovery.poll()
                    timings[step].append(timed.ms[-1])
                    current = listed
                    assert len(cluster.management.nodes()) == len(listed)
        finally:
            await cluster.close()
    return timings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, mmh3 {version('mmh3')}, {args.nodes} nodes,")
    print(f"{args.rounds} rounds; ms per node change, median (max)\n")
    print("| `hashing` | add a node | remove a node | replace all nodes |")
    print("| --- | ---: | ---: | ---: |")
    for name, hashing in HASHINGS.items():
        timings = await measure(hashing, args.nodes, args.rounds)
        cells = [
            f"{statistics.median(ms):.2f} ({max(ms):.2f})"
            for ms in (timings["add"], timings["remove"], timings["replace"])
        ]
        print(f"| {name} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
