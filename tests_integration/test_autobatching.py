"""Autobatching: concurrent get/gets calls grouped per node, each caller served its own item."""

from __future__ import annotations

import asyncio

import pytest

import emcache
from emcache_testing import MemcachedLauncher, MemcachedNode
from tests_integration.helpers import ClientFactory, address

pytestmark = pytest.mark.asyncio


def _operations(client: emcache.Client) -> int:
    metrics = client.cluster_managment().connection_pool_metrics()
    return sum(m.operations_executed for m in metrics.values())


async def test_concurrent_gets_become_batches_of_max_keys(
    make_client: ClientFactory, memcached: MemcachedNode
) -> None:
    """100 gets in one loop iteration leave as ceil(100/32) requests, each caller with its value."""
    client = await make_client([memcached], autobatching=True)
    keys = [b"ab-%d" % i for i in range(100)]
    for key in keys[:50]:
        await client.set(key, b"v:" + key, flags=5)
    before = _operations(client)
    items = await asyncio.gather(*(client.get(key) for key in keys))
    assert _operations(client) - before == 4
    for key, item in zip(keys, items, strict=True):
        if key in keys[:50]:
            assert item == emcache.Item(b"v:" + key, None, None)
        else:
            assert item is None


async def test_max_keys_is_respected(make_client: ClientFactory, memcached: MemcachedNode) -> None:
    """With autobatching_max_keys=5, 12 concurrent gets take 3 requests."""
    client = await make_client([memcached], autobatching=True, autobatching_max_keys=5)
    before = _operations(client)
    await asyncio.gather(*(client.get(b"m-%d" % i) for i in range(12)))
    assert _operations(client) - before == 3


async def test_flags_and_cas_variants_in_one_iteration(
    make_client: ClientFactory, memcached: MemcachedNode
) -> None:
    """get, get with flags, gets and gets with flags for the same key each get their own shape."""
    client = await make_client([memcached], autobatching=True)
    await client.set(b"k", b"v", flags=9)
    plain, flagged, cas, both = await asyncio.gather(
        client.get(b"k"),
        client.get(b"k", return_flags=True),
        client.gets(b"k"),
        client.gets(b"k", return_flags=True),
    )
    assert plain == emcache.Item(b"v", None, None)
    assert flagged == emcache.Item(b"v", 9, None)
    assert cas is not None
    assert both is not None
    assert cas.flags is None
    assert cas.cas is not None
    assert both.cas == cas.cas
    assert both.flags == 9


async def test_cancelled_caller_does_not_disturb_the_batch(
    make_client: ClientFactory, memcached: MemcachedNode
) -> None:
    """Cancelling one caller leaves the others of its batch with their values."""
    client = await make_client([memcached], autobatching=True)
    for i in range(10):
        await client.set(b"c-%d" % i, b"%d" % i)
    tasks = [asyncio.ensure_future(client.get(b"c-%d" % i)) for i in range(10)]
    await asyncio.sleep(0)
    tasks[3].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[3], asyncio.CancelledError)
    for i, item in enumerate(results):
        if i != 3:
            assert item == emcache.Item(b"%d" % i, None, None)


async def test_batch_failure_fails_exactly_its_callers(
    make_client: ClientFactory, launcher: MemcachedLauncher
) -> None:
    """With one of two nodes dead, only the callers whose keys live there fail."""
    nodes = launcher.start(2)
    client = await make_client(nodes, autobatching=True, timeout=1.0)
    keys = [b"b-%d" % i for i in range(40)]
    for key in keys:
        await client.set(key, b"v:" + key)
    nodes[1].kill()
    results = await asyncio.gather(*(client.get(key) for key in keys), return_exceptions=True)
    succeeded = [r for r in results if isinstance(r, emcache.Item)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert succeeded
    assert failed
    assert len(succeeded) + len(failed) == len(keys)
    for key, result in zip(keys, results, strict=True):
        if isinstance(result, emcache.Item):
            assert result.value == b"v:" + key
        else:
            assert isinstance(result, emcache.ConnectionFailedError | asyncio.TimeoutError)


async def test_invalid_key_fails_only_its_caller(
    make_client: ClientFactory, memcached: MemcachedNode
) -> None:
    """An invalid key raises at the call, before it joins a batch."""
    client = await make_client([memcached], autobatching=True)
    with pytest.raises(ValueError):
        await client.get(b"bad key")
    assert await client.get(b"good") is None
    assert address(memcached) in client.cluster_managment().nodes()
