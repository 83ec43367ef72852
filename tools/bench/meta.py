"""Benchmark of the meta commands through emcache_pool, side by side with the classic ones.

Starts a throwaway memcached with the launcher and, through one
:class:`~emcache_pool.ConnectionPool`, measures two pairs in alternating rounds (A B, B A,
...), so that drift of the machine hits both sides alike; each figure is the median over
the rounds:

* ``get`` vs ``mg``: ``--callers`` tasks read random keys (100-byte values) for
  ``--seconds``, each request encoded when it is sent, as a client does: classic
  ``get <key>`` against ``mg <key> v f`` (value and client flags, what ``get`` returns);
* 100 sets: one caller stores 100 keys, again and again: 100 classic ``set`` requests
  awaited one by one, against one quiet batch of 100 ``ms`` closed by ``mn``.

Prints ops/s (keys/s for the sets), CPU time of this process per operation, and the
ratio meta / classic.

    hatch run python tools/bench/meta.py [--seconds 2] [--rounds 5] [--callers 32] [--loop asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

from bench import paired
from emcache_pool import ConnectionPool, MemcachedHostAddress, PoolConfig
from emcache_protocol import (
    meta_batch_command,
    meta_get_command,
    meta_set_command,
    retrieval_command,
    storage_command,
)
from emcache_testing import MemcachedLauncher

KEYS = [b"bench-%04d" % i for i in range(1000)]
VALUE = b"v" * 100
BATCH_KEYS = [b"batch-%03d" % i for i in range(100)]
Measure = Callable[[ConnectionPool, argparse.Namespace], Awaitable[tuple[int, float, float]]]


async def _reads(
    pool: ConnectionPool, args: argparse.Namespace, encode: Callable[[bytes], Any]
) -> tuple[int, float, float]:
    stop = time.perf_counter() + args.seconds
    done = 0

    async def caller(seed: int) -> None:
        nonlocal done
        choose = random.Random(seed).choice
        execute = pool.execute
        clock = time.perf_counter
        while clock() < stop:
            await execute(encode(choose(KEYS)), timeout=1.0)
            done += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller(seed) for seed in range(args.callers)))
    return done, time.perf_counter() - started, time.process_time() - cpu


async def classic_get(pool: ConnectionPool, args: argparse.Namespace) -> tuple[int, float, float]:
    return await _reads(pool, args, lambda key: retrieval_command(b"get", [key]))


async def meta_get(pool: ConnectionPool, args: argparse.Namespace) -> tuple[int, float, float]:
    return await _reads(pool, args, lambda key: meta_get_command(key, return_flags=True))


async def _writes(
    pool: ConnectionPool, args: argparse.Namespace, store: Callable[[], Awaitable[None]]
) -> tuple[int, float, float]:
    stop = time.perf_counter() + args.seconds
    done = 0
    started, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() < stop:
        await store()
        done += len(BATCH_KEYS)
    return done, time.perf_counter() - started, time.process_time() - cpu


async def awaited_sets(pool: ConnectionPool, args: argparse.Namespace) -> tuple[int, float, float]:
    async def store() -> None:
        for key in BATCH_KEYS:
            await pool.execute(storage_command(b"set", key, VALUE), timeout=1.0, key=key)

    return await _writes(pool, args, store)


async def batch_sets(pool: ConnectionPool, args: argparse.Namespace) -> tuple[int, float, float]:
    async def store() -> None:
        batch = meta_batch_command([meta_set_command(key, VALUE) for key in BATCH_KEYS])
        replies = await pool.execute(batch, timeout=1.0, key=BATCH_KEYS)
        assert replies == [None] * len(BATCH_KEYS), replies

    return await _writes(pool, args, store)


PAIRS: dict[str, tuple[tuple[str, Measure], tuple[str, Measure]]] = {
    "reads": (("get", classic_get), ("mg", meta_get)),
    "100 sets": (("100 awaited set", awaited_sets), ("batch of 100 ms", batch_sets)),
}


async def _round(endpoint: MemcachedHostAddress, measure: Measure, args: argparse.Namespace) -> Any:
    config = PoolConfig(max_connections=args.connections, min_connections=args.connections)
    pool = ConnectionPool(endpoint, config)
    try:
        await pool.require_meta(timeout=5.0)
        for key in KEYS:
            await pool.execute(storage_command(b"set", key, VALUE))
        return await measure(pool, args)
    finally:
        await pool.close()


def main() -> None:
    parser = paired.parser(__doc__)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    run = {"asyncio": asyncio.run, "uvloop": uvloop.run}[args.loop]
    print(
        f"{args.loop}, {args.connections} connections, {args.callers} callers for reads, "
        f"{args.rounds} rounds of {args.seconds:g} s, 100-byte values, medians"
    )
    print(f"{'workload':16} {'ops/s':>9} {'CPU us/op':>9}")
    with MemcachedLauncher() as launcher:
        node = launcher.start()[0]
        assert node.port is not None
        endpoint = MemcachedHostAddress(node.host, node.port)
        for pair in PAIRS.values():

            def once(measure: Measure) -> tuple[float, float]:
                count, elapsed, cpu = run(_round(endpoint, measure, args))
                return count / elapsed, cpu / count * 1e6

            medians = paired.alternating_medians(pair, once, args.rounds)
            for name, (ops, us) in medians.items():
                print(f"{name:16} {ops:9.0f} {us:9.2f}")
            (classic, _), (meta, _) = pair
            ratio = medians[meta][0] / medians[classic][0]
            print(f"{'':16} {meta} / {classic}: {ratio:.2f}x ops/s")


if __name__ == "__main__":
    main()
