"""Every command of the facade against a real memcached, with its errors."""

from __future__ import annotations

import asyncio

import pytest

import emcache
from emcache_testing import MemcachedNode
from tests_integration.helpers import ClientFactory, address

pytestmark = pytest.mark.asyncio


class TestStorage:
    async def test_set_then_get_returns_the_value(self, client: emcache.Client) -> None:
        """A stored value reads back with no flags or cas unless asked."""
        await client.set(b"k", b"v")
        item = await client.get(b"k")
        assert item == emcache.Item(b"v", None, None)

    async def test_get_missing_key_returns_none(self, client: emcache.Client) -> None:
        """A key that was never stored reads as None."""
        assert await client.get(b"missing") is None

    async def test_flags_are_stored_and_returned_on_request(self, client: emcache.Client) -> None:
        """return_flags=True fills Item.flags, including the largest 32-bit flags."""
        await client.set(b"k", b"v", flags=2**32 - 1)
        item = await client.get(b"k", return_flags=True)
        assert item is not None
        assert item.flags == 2**32 - 1

    async def test_binary_values_with_crlf_round_trip(self, client: emcache.Client) -> None:
        """Values may hold CRLF, END lines and every byte value."""
        value = b"\r\nEND\r\nVALUE x 0 1\r\n" + bytes(range(256))
        await client.set(b"bin", value)
        item = await client.get(b"bin")
        assert item is not None
        assert item.value == value

    async def test_empty_value_round_trips(self, client: emcache.Client) -> None:
        """An empty value is stored and read back as b''."""
        await client.set(b"empty", b"")
        item = await client.get(b"empty")
        assert item is not None
        assert item.value == b""

    async def test_exptime_expires_the_item(self, client: emcache.Client) -> None:
        """A negative exptime stores an already expired item."""
        await client.set(b"k", b"v", exptime=-1)
        assert await client.get(b"k") is None

    async def test_add_on_existing_key_raises_not_stored(self, client: emcache.Client) -> None:
        """add refuses an existing key and keeps the old value."""
        await client.add(b"k", b"first")
        with pytest.raises(emcache.NotStoredStorageCommandError):
            await client.add(b"k", b"second")
        item = await client.get(b"k")
        assert item is not None
        assert item.value == b"first"

    async def test_replace_needs_an_existing_key(self, client: emcache.Client) -> None:
        """replace raises on a missing key and replaces an existing one."""
        with pytest.raises(emcache.NotStoredStorageCommandError):
            await client.replace(b"k", b"v")
        await client.set(b"k", b"old")
        await client.replace(b"k", b"new")
        item = await client.get(b"k")
        assert item is not None
        assert item.value == b"new"

    async def test_append_and_prepend(self, client: emcache.Client) -> None:
        """append and prepend extend an existing value and refuse a missing one."""
        with pytest.raises(emcache.NotStoredStorageCommandError):
            await client.append(b"k", b"x")
        with pytest.raises(emcache.NotStoredStorageCommandError):
            await client.prepend(b"k", b"x")
        await client.set(b"k", b"mid")
        await client.append(b"k", b">")
        await client.prepend(b"k", b"<")
        item = await client.get(b"k")
        assert item is not None
        assert item.value == b"<mid>"

    async def test_cas_stores_only_with_the_current_token(self, client: emcache.Client) -> None:
        """cas succeeds with the token from gets and fails once the item changed."""
        await client.set(b"k", b"v1")
        item = await client.gets(b"k")
        assert item is not None
        assert item.cas is not None
        await client.cas(b"k", b"v2", item.cas)
        with pytest.raises(emcache.NotStoredStorageCommandError):
            await client.cas(b"k", b"v3", item.cas)
        current = await client.get(b"k")
        assert current is not None
        assert current.value == b"v2"

    async def test_cas_on_missing_key_raises_storage_error(self, client: emcache.Client) -> None:
        """cas of a key that does not exist raises StorageCommandError."""
        with pytest.raises(emcache.StorageCommandError):
            await client.cas(b"nope", b"v", 1)

    async def test_noreply_set_is_applied(self, client: emcache.Client) -> None:
        """A noreply set returns at once and the value is there for the next get."""
        assert await client.set(b"k", b"v", noreply=True) is None
        item = await client.get(b"k")
        assert item is not None
        assert item.value == b"v"

    async def test_noreply_error_does_not_shift_replies(self, client: emcache.Client) -> None:
        """A noreply add that fails on the server does not give its reply to the next caller."""
        await client.set(b"k", b"v")
        await client.add(b"k", b"other", noreply=True)
        await client.set(b"k2", b"v2")
        item = await client.get(b"k2")
        assert item is not None
        assert item.value == b"v2"


class TestItemSize:
    async def test_value_at_the_item_size_limit_is_stored(self, client: emcache.Client) -> None:
        """A value just under memcached's 1 MB item limit is stored and read back."""
        value = b"x" * (1024 * 1024 - 512)
        await client.set(b"big", value)
        item = await client.get(b"big")
        assert item is not None
        assert item.value == value

    async def test_value_over_the_limit_fails_clearly_and_connection_survives(
        self, client: emcache.Client
    ) -> None:
        """A 2 MB value raises StorageCommandError; the next commands still work."""
        await client.set(b"small", b"s")
        with pytest.raises(emcache.StorageCommandError, match="too large"):
            await client.set(b"big", b"x" * (2 * 1024 * 1024))
        item = await client.get(b"small")
        assert item is not None
        assert item.value == b"s"


class TestRetrieval:
    async def test_gets_returns_cas_and_get_does_not(self, client: emcache.Client) -> None:
        """gets fills Item.cas; get leaves it None."""
        await client.set(b"k", b"v", flags=7)
        plain = await client.get(b"k")
        with_cas = await client.gets(b"k", return_flags=True)
        assert plain is not None
        assert with_cas is not None
        assert plain.cas is None
        assert isinstance(with_cas.cas, int)
        assert with_cas.flags == 7

    async def test_get_many_over_three_nodes(self, cluster_client: emcache.Client) -> None:
        """get_many returns the existing keys of every node and skips missing ones."""
        keys = [b"key-%d" % i for i in range(60)]
        for key in keys:
            await cluster_client.set(key, key + b"-value", flags=3)
        result = await cluster_client.get_many([*keys, b"absent"], return_flags=True)
        assert set(result) == set(keys)
        for key in keys:
            assert result[key] == emcache.Item(key + b"-value", 3, None)

    async def test_gets_many_returns_cas(self, cluster_client: emcache.Client) -> None:
        """gets_many fills cas tokens; duplicate keys are asked once."""
        await cluster_client.set(b"a", b"1")
        await cluster_client.set(b"b", b"2")
        result = await cluster_client.gets_many([b"a", b"b", b"a"])
        assert set(result) == {b"a", b"b"}
        assert all(item.cas is not None for item in result.values())

    async def test_get_many_of_no_keys_is_empty(self, client: emcache.Client) -> None:
        """An empty key list gives an empty dict without a request."""
        assert await client.get_many([]) == {}

    async def test_gat_and_gats_touch_the_item(self, client: emcache.Client) -> None:
        """gat returns the item and changes its expiration; gats adds the cas token."""
        await client.set(b"k", b"v")
        item = await client.gat(-1, b"k")
        assert item == emcache.Item(b"v", None, None)
        assert await client.get(b"k") is None
        await client.set(b"k", b"v")
        item = await client.gats(100, b"k", return_flags=True)
        assert item is not None
        assert item.cas is not None
        assert item.flags == 0
        assert await client.gat(100, b"missing") is None

    async def test_gat_many_and_gats_many(self, cluster_client: emcache.Client) -> None:
        """The many-key variants of gat and gats return every existing key."""
        for key in (b"x", b"y", b"z"):
            await cluster_client.set(key, key)
        items = await cluster_client.gat_many(100, [b"x", b"y", b"z", b"w"])
        assert {k: i.value for k, i in items.items()} == {b"x": b"x", b"y": b"y", b"z": b"z"}
        items = await cluster_client.gats_many(100, [b"x", b"y"])
        assert all(i.cas is not None for i in items.values())


class TestCounters:
    async def test_increment_and_decrement(self, client: emcache.Client) -> None:
        """incr/decr return the new number; decr stops at zero; 64-bit wraps are allowed."""
        await client.set(b"n", b"10")
        assert await client.increment(b"n", 5) == 15
        assert await client.decrement(b"n", 20) == 0
        assert await client.increment(b"n", 2**64 - 1) == 2**64 - 1
        assert await client.increment(b"n", 1, noreply=True) is None

    async def test_counters_on_missing_key_raise_not_found(self, client: emcache.Client) -> None:
        """incr and decr of a missing key raise NotFoundCommandError."""
        with pytest.raises(emcache.NotFoundCommandError):
            await client.increment(b"nope", 1)
        with pytest.raises(emcache.NotFoundCommandError):
            await client.decrement(b"nope", 1)

    async def test_increment_of_a_non_number_raises_command_error(
        self, client: emcache.Client
    ) -> None:
        """incr of a non-numeric value is a CommandError from the server."""
        await client.set(b"s", b"abc")
        with pytest.raises(emcache.CommandError, match="CLIENT_ERROR"):
            await client.increment(b"s", 1)


class TestKeyCommands:
    async def test_touch_and_delete(self, client: emcache.Client) -> None:
        """touch and delete act on existing keys and raise NotFound on missing ones."""
        with pytest.raises(emcache.NotFoundCommandError):
            await client.touch(b"k", 10)
        with pytest.raises(emcache.NotFoundCommandError):
            await client.delete(b"k")
        await client.set(b"k", b"v")
        await client.touch(b"k", 10)
        await client.delete(b"k")
        assert await client.get(b"k") is None
        await client.delete(b"k", noreply=True)
        await client.touch(b"k", 1, noreply=True)


class TestNodeCommands:
    async def test_version_stats_verbosity_memlimit(
        self, client: emcache.Client, memcached: MemcachedNode
    ) -> None:
        """The node commands reach the given node and parse its answers."""
        node = address(memcached)
        version = await client.version(node)
        assert version.startswith("1.")
        stats = await client.stats(node)
        assert stats["version"] == version
        assert "pid" in stats
        settings = await client.stats(node, "settings")
        assert "maxbytes" in settings
        await client.verbosity(node, 1)
        await client.cache_memlimit(node, 100)
        settings = await client.stats(node, "settings")
        assert settings["maxbytes"] == str(100 * 1024 * 1024)

    async def test_flush_all_empties_one_node(
        self, cluster_client: emcache.Client, memcached_cluster: list[MemcachedNode]
    ) -> None:
        """flush_all invalidates the items of the node it is sent to, and only those."""
        keys = [b"f-%d" % i for i in range(30)]
        for key in keys:
            await cluster_client.set(key, b"v")
        first = address(memcached_cluster[0])
        await cluster_client.flush_all(first)
        await cluster_client.flush_all(first, 0, noreply=True)
        remaining = await cluster_client.get_many(keys)
        assert 0 < len(remaining) < len(keys)

    async def test_unknown_node_is_refused(self, client: emcache.Client) -> None:
        """A node command for a node the client does not know raises a clear error."""
        with pytest.raises((KeyError, ValueError)):
            await client.version(emcache.MemcachedHostAddress("127.0.0.1", 1))


class TestLifeCycle:
    async def test_closed_client_refuses_operations(
        self, make_client: ClientFactory, memcached: MemcachedNode
    ) -> None:
        """After close every operation raises ClientClosedError; close is idempotent."""
        client = await make_client([memcached])
        assert not client.closed
        await client.close()
        await client.close()
        assert client.closed
        with pytest.raises(emcache.ClientClosedError):
            await client.get(b"k")
        with pytest.raises(emcache.ClientClosedError):
            await client.set(b"k", b"v")
        with pytest.raises(emcache.ClientClosedError):
            await client.get_many([b"k"])
        with pytest.raises(emcache.ClientClosedError):
            await client.version(address(memcached))
        assert isinstance(emcache.ClientClosedError("x"), RuntimeError)

    async def test_close_leaves_no_task_behind(
        self, make_client: ClientFactory, memcached: MemcachedNode
    ) -> None:
        """Closing the client ends every background task it started."""
        before = asyncio.all_tasks()
        client = await make_client([memcached], autobatching=True)
        await client.set(b"k", b"v")
        await client.get(b"k")
        await client.close()
        await asyncio.sleep(0)
        assert asyncio.all_tasks() - before == set()

    async def test_timeout_none_disables_timeouts(
        self, make_client: ClientFactory, memcached: MemcachedNode
    ) -> None:
        """A client with timeout=None works normally."""
        client = await make_client([memcached], timeout=None)
        await client.set(b"k", b"v")
        assert await client.get(b"k") is not None

    async def test_paused_node_times_out_within_margin(
        self, make_client: ClientFactory, memcached: MemcachedNode
    ) -> None:
        """A hung node makes get raise asyncio.TimeoutError after about the timeout."""
        client = await make_client([memcached], timeout=0.2)
        await client.set(b"k", b"v")
        memcached.pause()
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await client.get(b"k")
        assert loop.time() - start < 0.6
        memcached.resume()
        item = await client.get(b"k")
        assert item is not None
        assert item.value == b"v"
