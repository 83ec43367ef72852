"""Herd control on real memcached: fetch's one loader per key, stale serving, and no wedged key."""

from __future__ import annotations

import asyncio
import time

import pytest

import emcache
from emcache_testing import MemcachedNode
from tests_integration.helpers import ClientFactory

pytestmark = pytest.mark.asyncio


class CountingLoader:
    """A loader that sleeps ``delay`` seconds, counts its calls and returns ``value``."""

    def __init__(self, delay: float, value: bytes = b"computed", fail_first: int = 0) -> None:
        self.delay = delay
        self.value = value
        self.calls = 0
        self.fail_first = fail_first

    async def __call__(self) -> bytes:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.calls <= self.fail_first:
            raise RuntimeError("the database is down")
        return self.value


async def test_stampede_on_a_missing_key_runs_the_loader_once(
    memcached_cluster: list[MemcachedNode], make_client: ClientFactory
) -> None:
    """1,000 concurrent fetches of a missing key: one loader call, every caller gets the value."""
    client = await make_client(memcached_cluster)
    loader = CountingLoader(0.1)
    start = time.perf_counter()
    results = await asyncio.gather(
        *(client.fetch(b"herd:stampede", loader, ttl=60) for _ in range(1000))
    )
    elapsed = time.perf_counter() - start
    assert loader.calls == 1
    assert all(result.value == b"computed" for result in results)
    assert sum(result.loaded for result in results) == 1
    # The loader takes 0.1 s; the waiters see its value within a few polls, not after
    # their 3 s wait. The margin is for a loaded 2-core machine.
    assert elapsed < 0.6, elapsed


async def test_invalidate_serves_stale_values_while_one_recomputes(
    cluster_client: emcache.Client,
) -> None:
    """After invalidate, 500 readers: no miss, one loader call, stale values flagged stale."""
    client = cluster_client
    await client.set(b"herd:inv", b"old", exptime=60)
    assert await client.invalidate(b"herd:inv", stale_for=30)
    loader = CountingLoader(0.05, b"new")
    results = await asyncio.gather(*(client.fetch(b"herd:inv", loader, ttl=60) for _ in range(500)))
    assert all(result.value in (b"old", b"new") for result in results)
    assert all(result.stale == (result.value == b"old") for result in results)
    assert sum(result.refreshing for result in results) == 1
    await asyncio.sleep(0.2)
    assert loader.calls == 1
    after = await client.fetch(b"herd:inv", loader, ttl=60)
    assert (after.value, after.stale) == (b"new", False)
    assert loader.calls == 1


async def test_early_recompute_refreshes_once_per_window_in_the_background(
    cluster_client: emcache.Client,
) -> None:
    """Near expiry one caller starts a refresh; nobody waits for it; one refresh per window."""
    client = cluster_client
    loader = CountingLoader(0.3)
    # memcached counts TTLs in whole seconds: after 3.1 s, 1 or 2 of the 5 are left.
    await client.fetch(b"herd:early", loader, ttl=5, recompute_before=3)
    assert loader.calls == 1
    await asyncio.sleep(3.1)
    start = time.perf_counter()
    results = await asyncio.gather(
        *(client.fetch(b"herd:early", loader, ttl=5, recompute_before=3) for _ in range(300))
    )
    assert time.perf_counter() - start < 0.2  # nobody waited for the 0.3 s loader
    assert all(result.value == b"computed" and not result.stale for result in results)
    assert sum(result.refreshing for result in results) == 1
    await asyncio.sleep(0.5)
    assert loader.calls == 2
    item = await client.meta_get(b"herd:early", return_ttl=True)
    assert item is not None
    assert item.ttl is not None
    assert item.ttl >= 4


async def test_stale_for_serves_the_old_value_flagged_stale(client: emcache.Client) -> None:
    """In the last stale_for seconds the value is served flagged stale and refreshed once."""
    loader = CountingLoader(0.05)
    first = await client.fetch(b"herd:swr", loader, ttl=1, stale_for=3)
    assert first.loaded
    await asyncio.sleep(2.1)  # stored for 1 + 3 s: 1 or 2 s left, the stale part
    results = await asyncio.gather(
        *(client.fetch(b"herd:swr", loader, ttl=1, stale_for=3) for _ in range(50))
    )
    assert all(result.stale for result in results)
    assert sum(result.refreshing for result in results) == 1
    await asyncio.sleep(0.2)
    assert loader.calls == 2


async def test_a_loader_that_raises_gives_the_lease_to_the_next_caller(
    cluster_client: emcache.Client,
) -> None:
    """The winner's loader raises: it gets the error, a waiter wins at once and loads."""
    loader = CountingLoader(0.05, fail_first=1)
    start = time.perf_counter()
    results = await asyncio.gather(
        *(cluster_client.fetch(b"herd:raise", loader, ttl=60, wait=2) for _ in range(100)),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert all(r.value == b"computed" for r in results if isinstance(r, emcache.FetchResult))
    assert loader.calls == 2
    assert time.perf_counter() - start < 1


async def test_a_cancelled_winner_gives_the_lease_back(cluster_client: emcache.Client) -> None:
    """The winner is cancelled mid-load: the waiters do not hang, one of them loads."""
    slow = CountingLoader(10)
    winner = asyncio.ensure_future(cluster_client.fetch(b"herd:cancel", slow, ttl=60))
    await asyncio.sleep(0.05)
    assert slow.calls == 1
    loader = CountingLoader(0.05)
    waiters = [
        asyncio.ensure_future(cluster_client.fetch(b"herd:cancel", loader, ttl=60, wait=2))
        for _ in range(50)
    ]
    await asyncio.sleep(0.05)
    winner.cancel()
    start = time.perf_counter()
    results = await asyncio.gather(*waiters)
    assert time.perf_counter() - start < 1
    assert all(result.value == b"computed" for result in results)
    assert loader.calls == 1


async def test_a_dead_winner_holds_the_key_for_lease_ttl_at_most(
    memcached_cluster: list[MemcachedNode], make_client: ClientFactory
) -> None:
    """A winner whose client dies: waiters give up after wait; after lease_ttl someone loads."""
    doomed = await make_client(memcached_cluster)
    won = await doomed.meta_get(b"herd:dead", vivify_ttl=2)
    assert won is not None
    assert won.won
    await doomed.close()  # its connections are gone and it never stores

    client = await make_client(memcached_cluster)
    loader = CountingLoader(0.01)
    start = time.perf_counter()
    with pytest.raises(emcache.FetchWaitTimeoutError):
        await client.fetch(b"herd:dead", loader, ttl=60, wait=0.3, lease_ttl=2)
    assert time.perf_counter() - start < 0.5
    results = await asyncio.gather(
        *(client.fetch(b"herd:dead", loader, ttl=60, wait=3, lease_ttl=2) for _ in range(20))
    )
    assert time.perf_counter() - start < 3.2
    assert all(result.value == b"computed" for result in results)
    assert loader.calls == 1


async def test_a_winner_whose_node_dies_does_not_hang_its_waiters(
    memcached: MemcachedNode, make_client: ClientFactory
) -> None:
    """The node is killed while the winner loads: every caller ends within wait."""
    client = await make_client([memcached], timeout=0.5)
    loader = CountingLoader(0.2)
    calls = [
        asyncio.ensure_future(client.fetch(b"herd:kill", loader, ttl=60, wait=1)) for _ in range(20)
    ]
    await asyncio.sleep(0.05)
    memcached.kill()
    start = time.perf_counter()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert time.perf_counter() - start < 1.5
    assert loader.calls == 1
    # The winner keeps its value; the others see the cache unavailable.
    assert sum(isinstance(r, emcache.FetchResult) for r in results) == 1
    assert all(isinstance(r, emcache.FetchResult | emcache.CacheUnavailableError) for r in results)


async def test_close_cancels_background_refreshes(client: emcache.Client) -> None:
    """A refresh still running when the client closes is cancelled, not left behind."""
    await client.set(b"herd:close", b"old", exptime=60)
    await client.invalidate(b"herd:close", stale_for=30)
    started = asyncio.Event()

    async def endless() -> bytes:
        started.set()
        await asyncio.sleep(60)
        return b"never"

    result = await client.fetch(b"herd:close", endless, ttl=60)
    assert result.refreshing
    await started.wait()
    await client.close()
    await asyncio.sleep(0)
    refreshes = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "Herd._refresh"
    ]
    assert refreshes == []


async def test_fetch_validates_its_durations(client: emcache.Client) -> None:
    """Durations out of range raise ValueError before any request."""
    loader = CountingLoader(0)
    with pytest.raises(ValueError):
        await client.fetch(b"k", loader, ttl=-1)
    with pytest.raises(ValueError):
        await client.fetch(b"k", loader, ttl=0, stale_for=10)
    with pytest.raises(ValueError):
        await client.fetch(b"k", loader, ttl=10, wait=0)
    with pytest.raises(ValueError):
        await client.invalidate(b"k", stale_for=0)
