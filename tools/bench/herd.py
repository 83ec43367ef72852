"""Benchmark of the facade's meta methods and herd control, side by side with the classic API.

Starts throwaway memcached nodes with the launcher and, through :func:`emcache.create_client`,
measures three pairs, alternating their order round by round (A B, B A, ...) so that drift of
the machine hits both sides alike; each figure is the median over the rounds:

* ``get`` vs ``meta_get``: ``--callers`` tasks read random keys (100-byte values) for
  ``--seconds`` on one node;
* 100 sets over 4 nodes: 100 ``set`` awaited one by one, against one ``set_many`` of 100
  keys (one quiet batch per node);
* a stampede on 3 nodes: ``--herd`` callers read one missing key whose loader takes 100 ms,
  with ``fetch`` against a classic cache-aside (``get``, on a miss run the loader and
  ``set``). Prints the loader calls (the load the database would see) and the wall time.

    hatch run python tools/bench/herd.py [--seconds 2] [--rounds 5] [--callers 32] [--herd 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable

import emcache
from bench import paired
from emcache_testing import MemcachedLauncher, MemcachedNode

KEYS = [b"bench-%04d" % i for i in range(1000)]
VALUE = b"v" * 100
BATCH = {b"batch-%03d" % i: VALUE for i in range(100)}
LOADER_SECONDS = 0.1
Measure = Callable[[emcache.Client, argparse.Namespace], Awaitable[tuple[float, float]]]
_herd_keys = itertools.count()


async def _reads(
    client: emcache.Client, args: argparse.Namespace, read: Callable[[bytes], Awaitable[object]]
) -> tuple[float, float]:
    stop = time.perf_counter() + args.seconds
    done = 0

    async def caller(seed: int) -> None:
        nonlocal done
        choose = random.Random(seed).choice
        while time.perf_counter() < stop:
            await read(choose(KEYS))
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(caller(seed) for seed in range(args.callers)))
    return done / (time.perf_counter() - start), 0.0


async def classic_get(client: emcache.Client, args: argparse.Namespace) -> tuple[float, float]:
    return await _reads(client, args, client.get)


async def meta_get(client: emcache.Client, args: argparse.Namespace) -> tuple[float, float]:
    return await _reads(client, args, client.meta_get)


async def _writes(
    args: argparse.Namespace, store: Callable[[], Awaitable[None]]
) -> tuple[float, float]:
    stop = time.perf_counter() + args.seconds
    done = 0
    start = time.perf_counter()
    while time.perf_counter() < stop:
        await store()
        done += len(BATCH)
    return done / (time.perf_counter() - start), 0.0


async def awaited_sets(client: emcache.Client, args: argparse.Namespace) -> tuple[float, float]:
    async def store() -> None:
        for key, value in BATCH.items():
            await client.set(key, value)

    return await _writes(args, store)


async def set_many(client: emcache.Client, args: argparse.Namespace) -> tuple[float, float]:
    return await _writes(args, lambda: client.set_many(BATCH))


def _loader() -> tuple[list[int], Callable[[], Awaitable[bytes]]]:
    calls = [0]

    async def load() -> bytes:
        calls[0] += 1
        await asyncio.sleep(LOADER_SECONDS)
        return VALUE

    return calls, load


async def cache_aside(client: emcache.Client, args: argparse.Namespace) -> tuple[float, float]:
    key = b"herd-%d" % next(_herd_keys)
    calls, load = _loader()

    async def read() -> bytes:
        item = await client.get(key)
        if item is not None:
            return item.value
        value = await load()
        await client.set(key, value, exptime=60)
        return value

    start = time.perf_counter()
    await asyncio.gather(*(read() for _ in range(args.herd)))
    return calls[0], time.perf_counter() - start


async def fetch(client: emcache.Client, args: argparse.Namespace) -> tuple[float, float]:
    key = b"herd-%d" % next(_herd_keys)
    calls, load = _loader()
    start = time.perf_counter()
    await asyncio.gather(*(client.fetch(key, load, ttl=60) for _ in range(args.herd)))
    return calls[0], time.perf_counter() - start


async def _round(
    nodes: list[MemcachedNode], measure: Measure, args: argparse.Namespace
) -> tuple[float, float]:
    addresses = [emcache.MemcachedHostAddress(n.host, n.port or 0) for n in nodes]
    async with await emcache.create_client(
        addresses, max_connections=args.connections, timeout=5.0
    ) as client:
        await client.set_many(dict.fromkeys(KEYS, VALUE))
        return await measure(client, args)


def _pair(
    nodes: list[MemcachedNode], pair: tuple[tuple[str, Measure], ...], args: argparse.Namespace
) -> dict[str, tuple[float, float]]:
    def run(measure: Measure) -> tuple[float, float]:
        return asyncio.run(_round(nodes, measure, args))

    return paired.alternating_medians(pair, run, args.rounds)


def main() -> None:
    parser = paired.parser(__doc__)
    parser.add_argument("--herd", type=int, default=1000)
    args = parser.parse_args()
    print(f"{args.connections} connections per node, {args.rounds} rounds, medians")
    with MemcachedLauncher() as launcher:
        nodes = launcher.start(4)
        reads = _pair(nodes[:1], (("get", classic_get), ("meta_get", meta_get)), args)
        for name, (ops, _) in reads.items():
            print(f"{name:24} {ops:9.0f} ops/s")
        print(f"{'':24} meta_get / get: {reads['meta_get'][0] / reads['get'][0]:.2f}x")
        sets = _pair(nodes, (("100 awaited set", awaited_sets), ("set_many(100)", set_many)), args)
        for name, (ops, _) in sets.items():
            print(f"{name:24} {ops:9.0f} keys/s")
        ratio = sets["set_many(100)"][0] / sets["100 awaited set"][0]
        print(f"{'':24} set_many / awaited sets: {ratio:.2f}x")
        herd = _pair(nodes[:3], (("cache-aside get/set", cache_aside), ("fetch", fetch)), args)
        print(f"stampede of {args.herd} callers, {LOADER_SECONDS * 1000:.0f} ms loader, 3 nodes")
        for name, (calls, wall) in herd.items():
            print(f"{name:24} {calls:6.0f} loader calls {wall * 1000:8.1f} ms wall")


if __name__ == "__main__":
    main()
