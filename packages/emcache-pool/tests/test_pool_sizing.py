"""ConnectionPool sizing: growth under load, minimum kept, idle connections purged."""

from __future__ import annotations

import asyncio
import time

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


async def _bursts(pool) -> None:
    """Three bursts of 64 concurrent requests: enough to open a third connection."""
    request = retrieval_command(b"get", [b"k"])
    for _ in range(3):
        await asyncio.gather(*(pool.execute(request) for _ in range(64)))
        await asyncio.sleep(0.02)


async def _callers(pool, count: int, seconds: float) -> int:
    """``count`` callers each making requests one after the other; how many were made."""
    request = retrieval_command(b"get", [b"k"])
    stop = time.monotonic() + seconds
    done = 0

    async def caller() -> None:
        nonlocal done
        while time.monotonic() < stop:
            await pool.execute(request, timeout=2.0)
            done += 1

    await asyncio.gather(*(caller() for _ in range(count)))
    return done


@pytest.mark.asyncio
@pytest.mark.parametrize(("callers", "expected"), [(1, 1), (32, 2), (256, 4)])
async def test_pool_grows_only_as_pipelines_deepen(memcached, make_pool, callers, expected):
    """With room for 32 connections, 1 caller uses 1, 32 callers 2 and 256 callers 4.

    Each connection beyond the first opens only once the others pipeline twice as deep as
    the previous step asked (8, 16, 32, ...): few connections with long batches are cheaper
    than many with short ones.
    """
    pool = make_pool(memcached, max_connections=32, min_connections=1)
    assert await _callers(pool, callers, 0.3) > callers
    await asyncio.sleep(0.05)  # an opening asked for at the very end has landed
    metrics = pool.metrics()
    assert metrics.cur_connections == expected
    assert metrics.connections_created == expected
    assert metrics.operations_executed_with_error == 0


@pytest.mark.asyncio
async def test_pool_grows_past_a_hung_connection_without_timeouts(black_hole, make_pool):
    """Requests piling up on a connection that stopped answering make the pool open another.

    The stuck requests have no timeout, so nothing sets the hung connection aside: the depth
    of its pipeline alone asks for the next connection, which then serves later requests.
    """
    pool = make_pool(black_hole, max_connections=2)
    request = retrieval_command(b"get", [b"good"])
    assert await pool.execute(request) is not None
    stuck = [asyncio.ensure_future(pool.execute(retrieval_command(b"get", [b"evil"])))]
    stuck += [asyncio.ensure_future(pool.execute(request)) for _ in range(8)]
    started = time.monotonic()
    while pool.metrics().cur_connections < 2:
        assert time.monotonic() - started < 2.0, "no second connection"
        await asyncio.sleep(0.01)
    replies = [await pool.execute(request, timeout=1.0) for _ in range(50)]
    assert all(reply and reply[0].value == b"ok" for reply in replies)
    assert not any(fut.done() for fut in stuck)
    metrics = pool.metrics()
    assert metrics.cur_connections == 2
    assert metrics.requests_in_flight == len(stuck)
    for fut in stuck:
        fut.cancel()
    await asyncio.gather(*stuck, return_exceptions=True)
    await pool.close()


@pytest.mark.asyncio
async def test_pool_releases_what_a_burst_opened_once_the_load_is_steady(memcached, make_pool):
    """Bursts of 64 open a third connection; a steady load of 32 callers then lets it go."""
    pool = make_pool(memcached, max_connections=32, min_connections=1)
    await _bursts(pool)
    assert pool.metrics().cur_connections == 3
    await _callers(pool, 32, 1.3)
    metrics = pool.metrics()
    assert metrics.cur_connections == 2
    assert metrics.connections_created == 3
    assert metrics.connections_purged == 1
    assert metrics.operations_executed_with_error == 0


@pytest.mark.asyncio
async def test_pool_without_purge_keeps_what_a_burst_opened(memcached, make_pool):
    """With purge_unused_connections_after=None, a connection a burst opened stays open."""
    pool = make_pool(
        memcached, max_connections=32, min_connections=1, purge_unused_connections_after=None
    )
    await _bursts(pool)
    await _callers(pool, 1, 0.7)
    metrics = pool.metrics()
    assert metrics.cur_connections == 3
    assert metrics.connections_purged == 0
