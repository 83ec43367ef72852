"""ConnectionPool sizing: minimum kept, idle connections purged."""

from __future__ import annotations

import asyncio

import pytest

from emcache_protocol import retrieval_command


async def _load(pool) -> None:
    request = retrieval_command(b"get", [b"k"])
    for _ in range(10):
        await asyncio.gather(*(pool.execute(request) for _ in range(64)))


@pytest.mark.asyncio
async def test_pool_purges_idle_connections_down_to_the_minimum(memcached, make_pool):
    """Connections opened under load are closed once idle, leaving min_connections open."""
    pool = make_pool(
        memcached, max_connections=3, min_connections=1, purge_unused_connections_after=0.2
    )
    await _load(pool)
    assert pool.metrics().cur_connections == 3
    await asyncio.sleep(0.5)
    metrics = pool.metrics()
    assert metrics.cur_connections == 1
    assert metrics.connections_purged == 2
    assert metrics.connections_closed == 2


@pytest.mark.asyncio
async def test_pool_purges_everything_when_the_minimum_is_zero(memcached, make_pool):
    """With min_connections=0 an idle pool closes all its connections and reopens on demand."""
    pool = make_pool(memcached, min_connections=0, purge_unused_connections_after=0.1)
    await _load(pool)
    await asyncio.sleep(0.4)
    assert pool.metrics().cur_connections == 0
    await _load(pool)
    assert pool.metrics().cur_connections >= 1


@pytest.mark.asyncio
async def test_pool_keeps_min_connections_when_idle(memcached, make_pool):
    """An idle pool opens min_connections at start and never purges below them."""
    pool = make_pool(
        memcached, max_connections=4, min_connections=2, purge_unused_connections_after=0.1
    )
    await asyncio.sleep(0.5)
    metrics = pool.metrics()
    assert metrics.cur_connections == 2
    assert metrics.connections_purged == 0
    assert metrics.operations_executed == 0


@pytest.mark.asyncio
async def test_pool_never_purges_a_busy_connection(memcached, make_pool):
    """A connection used more often than the purge delay is kept."""
    pool = make_pool(
        memcached, max_connections=1, min_connections=0, purge_unused_connections_after=0.1
    )
    request = retrieval_command(b"get", [b"k"])
    for _ in range(40):
        await pool.execute(request)
        await asyncio.sleep(0.01)
    metrics = pool.metrics()
    assert metrics.connections_purged == 0
    assert metrics.connections_created == 1


@pytest.mark.asyncio
async def test_pool_without_purge_keeps_grown_connections(memcached, make_pool):
    """purge_unused_connections_after=None keeps every opened connection."""
    pool = make_pool(memcached, max_connections=2, purge_unused_connections_after=None)
    await _load(pool)
    await asyncio.sleep(0.2)
    assert pool.metrics().cur_connections == 2
