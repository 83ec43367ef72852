"""The meta methods of the facade on real memcached: typed results, multi-key batches, support."""

from __future__ import annotations

import pytest

import emcache
from emcache_testing import HostileServer, MemcachedLauncher, MemcachedNode
from tests_integration.helpers import ClientFactory

pytestmark = pytest.mark.asyncio


@pytest.fixture(name="four_nodes")
def _four_nodes(memcached_launcher: MemcachedLauncher) -> list[MemcachedNode]:
    return memcached_launcher.start(4)


async def test_meta_get_reads_value_flags_cas_and_ttl(client: emcache.Client) -> None:
    """meta_get returns a typed item with the fields asked for, and None for a miss."""
    await client.set(b"meta:a", b"1", flags=7, exptime=100)
    item = await client.meta_get(b"meta:a", return_flags=True, return_cas=True, return_ttl=True)
    assert item is not None
    assert (item.value, item.flags) == (b"1", 7)
    assert item.cas is not None
    assert item.ttl is not None
    assert 90 <= item.ttl <= 100
    assert not (item.won)
    assert not (item.stale)
    assert not (item.winner_pending)
    assert await client.meta_get(b"meta:missing") is None


async def test_meta_get_vivify_gives_one_winner(client: emcache.Client) -> None:
    """With vivify_ttl the first reader of a miss wins and the next sees a winner pending."""
    first = await client.meta_get(b"meta:v", vivify_ttl=30)
    second = await client.meta_get(b"meta:v", vivify_ttl=30)
    assert first is not None
    assert first.won
    assert first.value == b""
    assert second is not None
    assert second.winner_pending
    assert not second.won


async def test_meta_set_modes_and_cas(client: emcache.Client) -> None:
    """meta_set reports NS and EX as statuses, and returns the cas asked for."""
    stored = await client.meta_set(b"meta:s", b"x", return_cas=True)
    assert stored.ok
    assert stored.cas is not None
    added = await client.meta_set(b"meta:s", b"y", mode=emcache.MetaSetMode.ADD)
    assert added.status is emcache.MetaStatus.NS
    clash = await client.meta_set(b"meta:s", b"z", cas=stored.cas + 1)
    assert clash.status is emcache.MetaStatus.EX
    assert (await client.meta_set(b"meta:s", b"w", cas=stored.cas)).ok
    assert await client.get(b"meta:s") == emcache.Item(b"w", None, None)


async def test_meta_delete_and_invalidate(client: emcache.Client) -> None:
    """meta_delete deletes, or with invalidate keeps the value flagged stale."""
    await client.set(b"meta:d", b"old")
    assert (await client.meta_delete(b"meta:d", invalidate=True, ttl=30)).ok
    item = await client.meta_get(b"meta:d")
    assert item is not None
    assert item.stale
    assert item.value == b"old"
    assert (await client.meta_delete(b"meta:d")).ok
    assert (await client.meta_delete(b"meta:d")).status is emcache.MetaStatus.NF


async def test_meta_arithmetic_creates_and_counts(client: emcache.Client) -> None:
    """meta_arithmetic creates a missing counter at initial and returns the new number."""
    missing = await client.meta_arithmetic(b"meta:n")
    assert missing.status is emcache.MetaStatus.NF
    assert not missing.ok
    created = await client.meta_arithmetic(b"meta:n", initial=10, vivify_ttl=60)
    assert created.ok
    assert created.value == 10
    assert (await client.meta_arithmetic(b"meta:n", delta=5)).value == 15
    assert (await client.meta_arithmetic(b"meta:n", delta=3, decrement=True)).value == 12


async def test_many_commands_over_four_nodes(
    four_nodes: list[MemcachedNode], make_client: ClientFactory
) -> None:
    """set_many, meta_get_many, touch_many and delete_many route per node and report per key."""
    client = await make_client(four_nodes)
    items = {b"many:%d" % i: b"v%d" % i for i in range(200)}
    await client.set_many(items, flags=3, exptime=100)
    for node in four_nodes:  # every node got some of the keys
        per_node = await make_client([node])
        assert await per_node.meta_get_many(list(items))
    missing = [b"many:none:%d" % i for i in range(10)]
    found = await client.meta_get_many([*items, *missing], return_flags=True)
    assert {k: (i.value, i.flags) for k, i in found.items()} == {
        k: (v, 3) for k, v in items.items()
    }
    assert await client.touch_many([*items, *missing], 500) == set(items)
    item = await client.meta_get(b"many:7", return_ttl=True)
    assert item is not None
    assert item.ttl is not None
    assert item.ttl > 400
    half = list(items)[:100]
    assert await client.delete_many([*half, *missing]) == set(half)
    assert set(await client.get_many(list(items))) == set(items) - set(half)


async def test_set_many_names_the_keys_not_stored(
    four_nodes: list[MemcachedNode], make_client: ClientFactory
) -> None:
    """A value too large raises MultiKeyStorageError naming its key; keys not named are stored.

    Error lines carry no opaque token, so the silent requests next to the failed one are
    named too, as "may have failed".
    """
    client = await make_client(four_nodes)
    items = {b"big:%d" % i: b"v" for i in range(20)}
    items[b"big:huge"] = b"x" * (2 * 1024 * 1024)
    with pytest.raises(emcache.MultiKeyStorageError) as caught:
        await client.set_many(items)
    assert isinstance(caught.value, emcache.StorageCommandError)
    failed = caught.value.failed
    assert b"big:huge" in failed
    assert len(failed) < len(items)
    stored = await client.get_many([k for k in items if k not in failed])
    assert len(stored) == len(items) - len(failed)


async def test_many_commands_validate_before_sending(client: emcache.Client) -> None:
    """A bad key or a bytes object as keys raises before anything is sent."""
    with pytest.raises(TypeError):
        await client.delete_many(b"key")
    with pytest.raises(ValueError):
        await client.set_many({b"ok": b"1", b"bad key": b"2"})
    assert await client.get(b"ok") is None
    assert await client.delete_many([]) == set()


async def test_meta_on_a_server_without_meta_raises_a_typed_error(
    memcached_hostile_server: HostileServer,
) -> None:
    """A node answering ERROR to mn gives MetaNotSupportedError; the classic API keeps working."""
    host, port = memcached_hostile_server.address
    client = await emcache.create_client([emcache.MemcachedHostAddress(host, port)])
    try:
        with pytest.raises(emcache.MetaNotSupportedError):
            await client.meta_get(b"k")
        with pytest.raises(emcache.MetaNotSupportedError):
            await client.set_many({b"k": b"v"})
        with pytest.raises(emcache.MetaNotSupportedError):
            await client.fetch(b"k", _never, ttl=10)
        await client.set(b"k", b"v")
        assert await client.get(b"k") == emcache.Item(b"v", None, None)
    finally:
        await client.close()


async def _never() -> bytes:
    raise AssertionError("the loader must not run")
