"""Large values (100 KB to 1 MB) through the facade: concurrent, pipelined, given up on.

A large value is read straight into a buffer of its own (emcache_protocol's parser and the
connection's buffered reads): these suites check that every caller still gets exactly its
own key's value, on the stock loop and on uvloop, including when callers give up halfway.
"""

from __future__ import annotations

import asyncio
import random

import pytest
import uvloop

import emcache
from emcache_testing import MemcachedNode
from tests_integration.helpers import address

SIZES = [100_000, 1_000_000, 70_000, 300_000]
KEYS = [b"large:%d" % i for i in range(12)]


def value_of(key: bytes) -> bytes:
    size = SIZES[int(key.rsplit(b":", 1)[1]) % len(SIZES)]
    return (key + b"|") * (size // (len(key) + 1)) + b"!" * (size % (len(key) + 1))


async def _round_trips(node: MemcachedNode) -> None:
    client = await emcache.create_client([address(node)])
    try:
        await asyncio.gather(*(client.set(key, value_of(key)) for key in KEYS))

        async def reader(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(10):
                key = rng.choice(KEYS)
                item = await client.get(key)
                assert item is not None
                assert item.value == value_of(key)
                assert type(item.value) is bytes

        await asyncio.gather(*(reader(seed) for seed in range(8)))
        many = await client.get_many(KEYS)
        assert {key: item.value for key, item in many.items()} == {k: value_of(k) for k in KEYS}
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_large_values_reach_their_own_callers(memcached: MemcachedNode) -> None:
    await _round_trips(memcached)


def test_large_values_reach_their_own_callers_on_uvloop(memcached: MemcachedNode) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_round_trips(memcached))


@pytest.mark.asyncio
async def test_large_values_survive_callers_giving_up_halfway(memcached: MemcachedNode) -> None:
    """Timeouts that fire while a large value is being read leave no reply out of place."""
    client = await emcache.create_client([address(memcached)], timeout=None)
    try:
        await asyncio.gather(*(client.set(key, value_of(key)) for key in KEYS))
        rng = random.Random(7)
        gave_up = 0
        for _ in range(40):
            key = rng.choice(KEYS)
            try:
                async with asyncio.timeout(rng.choice([0.0002, 0.001, 0.003])):
                    item = await client.get(key)
            except TimeoutError:
                gave_up += 1
                continue
            assert item is not None
            assert item.value == value_of(key)
        assert gave_up > 0
        for key in KEYS:
            item = await client.get(key)
            assert item is not None
            assert item.value == value_of(key)
    finally:
        await client.close()
