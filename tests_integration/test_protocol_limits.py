"""Requests a server refuses and replies a client must not trust, end to end.

memcached closes a connection that holds more than 2048 bytes of a command line
without its newline, unless the line starts with ``get `` or ``gets ``; stats
replies come in more forms than ``STAT`` lines and may be large. The scripted
fake server (emcache-testing's ``HostileServer``) sends the malformed replies a
real memcached never writes.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

import emcache
from emcache_testing import Act, HostileServer, MemcachedLauncher, MemcachedNode
from tests_integration.helpers import ClientFactory, address

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(name="hostile")
async def _hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server


@pytest.fixture(name="flat_lru_node")
def _flat_lru_node(launcher: MemcachedLauncher) -> MemcachedNode:
    """A node without the LRU maintainer: every item stays in the one LRU cachedump reads."""
    return launcher.start(extra_args=["-o", "no_lru_maintainer"])[0]


def connections_closed(client: emcache.Client) -> int:
    metrics = client.cluster_managment().connection_pool_metrics()
    return sum(m.connections_closed for m in metrics.values())


async def store_raw(node: MemcachedNode, keys: list[bytes], value: bytes) -> None:
    """Store every key with one write of noreply sets, then wait for the server to catch up."""
    assert node.port is not None
    reader, writer = await asyncio.open_connection(node.host, node.port)
    request = b"".join(b"set %s 0 0 %d noreply\r\n%s\r\n" % (k, len(value), value) for k in keys)
    writer.write(request + b"version\r\n")
    line = await reader.readline()
    assert line.startswith(b"VERSION "), line
    writer.close()
    await writer.wait_closed()


class TestLongGatLines:
    @pytest.mark.parametrize("method", ["gat_many", "gats_many"])
    async def test_5000_keys_are_split_and_a_bystander_survives(
        self, memcached: MemcachedNode, make_client: ClientFactory, method: str
    ) -> None:
        """gat_many of 5,000 keys reads them all, touches them all, and breaks nothing.

        One connection carries the request and a concurrent get: a line memcached
        refuses would close it under both.
        """
        client = await make_client([memcached], max_connections=1, timeout=5.0)
        keys = [b"user:session:%012d" % i for i in range(5000)]  # about 30 bytes each
        await store_raw(memcached, keys, b"v")
        await client.set(b"bystander", b"still here")

        items, bystander = await asyncio.gather(
            getattr(client, method)(-1, keys), client.get(b"bystander")
        )

        assert bystander == emcache.Item(b"still here", None, None)
        assert sorted(items) == sorted(keys)
        assert all(item.value == b"v" for item in items.values())
        if method == "gats_many":
            assert all(isinstance(item.cas, int) for item in items.values())
        # exptime -1 expired every item: each request of the split reached the server.
        assert await client.get_many(keys) == {}
        assert connections_closed(client) == 0

    async def test_3000_keys_over_three_nodes(self, cluster_client: emcache.Client) -> None:
        """A long gat_many over a cluster (about 26 KB of keys per node) returns the same
        dict a short one would: found keys only, duplicates asked once."""
        keys = [b"cart:%020d" % i for i in range(3000)]
        for key in keys[::7]:
            await cluster_client.set(key, key)
        items = await cluster_client.gat_many(100, [*keys, *keys[:50]])
        assert {key: item.value for key, item in items.items()} == {k: k for k in keys[::7]}


class TestStatsReplies:
    async def test_cachedump_gives_item_lines(
        self, flat_lru_node: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """stats cachedump answers ITEM lines: key -> "[<size> b; <exptime> s]"."""
        client = await make_client([flat_lru_node])
        node = address(flat_lru_node)
        for index in range(5):
            await client.set(b"dump:%d" % index, b"x" * (index + 1))
        items = await client.stats(node, "items")
        classes = {name.split(":")[1] for name in items if name.endswith(":number")}
        dumped: dict[str, str] = {}
        for slab_class in classes:
            dumped.update(await client.stats(node, "cachedump", slab_class, "0"))
        assert {f"dump:{i}" for i in range(5)} <= set(dumped)
        for index in range(5):
            assert re.fullmatch(rf"\[{index + 1} b; \d+ s\]", dumped[f"dump:{index}"])
        assert await client.get(b"dump:0") is not None

    async def test_detail_dump_gives_prefix_lines(
        self, memcached: MemcachedNode, client: emcache.Client
    ) -> None:
        """stats detail dump answers PREFIX lines: prefix -> "get <n> hit <n> set <n> del <n>"."""
        node = address(memcached)
        assert await client.stats(node, "detail", "on") == {}
        await client.set(b"user:1", b"a")
        await client.get(b"user:1")
        await client.get(b"user:2")
        await client.delete(b"user:1")
        dump = await client.stats(node, "detail", "dump")
        assert dump == {"user": "get 2 hit 1 set 1 del 1"}
        assert await client.stats(node, "detail", "off") == {}

    async def test_oversized_reply_fails_only_its_caller(
        self, flat_lru_node: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """A stats reply of 80,000 ITEM lines fails its caller; the connection and a
        concurrent get on it are unaffected."""
        node = flat_lru_node
        keys = [b"c%05d" % i for i in range(80_000)]  # 24-byte ITEM lines: 1.9 MB in all
        await store_raw(node, keys, b"v")
        client = await make_client([node], max_connections=1, timeout=5.0)
        await client.set(b"bystander", b"still here")
        items = await client.stats(address(node), "items")
        [slab_class] = [n.split(":")[1] for n in items if n.endswith(":number")]

        dump = client.stats(address(node), "cachedump", slab_class, "0")
        outcome, bystander = await asyncio.gather(
            dump, client.get(b"bystander"), return_exceptions=True
        )

        assert isinstance(outcome, emcache.CommandError), repr(outcome)
        assert "dropped" in str(outcome)
        assert bystander == emcache.Item(b"still here", None, None)
        assert connections_closed(client) == 0
        assert (await client.get(b"c00001")) == emcache.Item(b"v", None, None)


BAD_KEYS = [b"k", b"", "", "key", bytearray(b"k"), memoryview(b"k"), None, 7, [[b"k"]]]


class TestBadKeyArguments:
    @pytest.mark.parametrize("keys", BAD_KEYS, ids=repr)
    @pytest.mark.parametrize("method", ["get_many", "gets_many", "gat_many", "gats_many"])
    async def test_a_single_key_or_text_raises_type_error_before_sending(
        self, memcached: MemcachedNode, client: emcache.Client, method: str, keys: Any
    ) -> None:
        """get_many(b"k"), get_many(b"") or get_many("") raise TypeError; nothing is sent."""
        node = address(memcached)
        before = await client.stats(node)
        args = (keys,) if method in ("get_many", "gets_many") else (100, keys)
        with pytest.raises(TypeError, match="keys must be a sequence of bytes"):
            await getattr(client, method)(*args)
        after = await client.stats(node)
        for counter in ("cmd_get", "cmd_touch", "get_misses", "touch_misses"):
            assert after[counter] == before[counter], counter

    @pytest.mark.parametrize("keys", [[], ()])
    async def test_an_empty_sequence_is_still_an_empty_result(
        self, client: emcache.Client, keys: Any
    ) -> None:
        """An empty list or tuple of keys returns {} as before."""
        assert await client.get_many(keys) == {}
        assert await client.gats_many(10, keys) == {}


class TestUntrustedReplies:
    @pytest.mark.parametrize("call", ["gets", "gats", "gets_many", "gats_many", "batched gets"])
    async def test_cas_retrieval_without_cas_drops_the_connection(
        self, hostile: HostileServer, call: str
    ) -> None:
        """A gets/gats reply without a cas token fails its caller and the connection."""
        client = await emcache.create_client(
            [address(hostile)], timeout=2.0, autobatching=call == "batched gets"
        )
        try:
            await client.set(b"k", b"v")
            await client.set(b"good", b"fine")
            hostile.attack(b"k", [Act(b"VALUE k 0 1\r\nv\r\nEND\r\n")])
            calls = {
                "gets": lambda: client.gets(b"k"),
                "gats": lambda: client.gats(10, b"k"),
                "gets_many": lambda: client.gets_many([b"k"]),
                "gats_many": lambda: client.gats_many(10, [b"k"]),
                "batched gets": lambda: client.gets(b"k"),
            }
            with pytest.raises(emcache.ConnectionFailedError, match="cas"):
                await calls[call]()
            attacked = [c for c in hostile.connections if any(b"k" in r.keys for r in c.requests)]
            await asyncio.wait_for(attacked[-1].closed.wait(), 1.0)
            item = await client.gets(b"good")
            assert item is not None
            assert item.value == b"fine"
            assert isinstance(item.cas, int)
        finally:
            await client.close()

    @pytest.mark.parametrize(
        ("call", "reply"),
        [("set", b"STORED\n"), ("get", b"END\n"), ("delete", b"DELETED\n")],
    )
    async def test_bare_newline_reply_line_is_refused_at_once(
        self, hostile: HostileServer, call: str, reply: bytes
    ) -> None:
        """A reply line ending in \\n without \\r fails at once, not at the timeout."""
        client = await emcache.create_client([address(hostile)], timeout=2.0)
        try:
            await client.set(b"k", b"v")
            await client.set(b"good", b"fine")
            hostile.attack(b"k", [Act(reply)])
            calls = {
                "set": lambda: client.set(b"k", b"w"),
                "get": lambda: client.get(b"k"),
                "delete": lambda: client.delete(b"k"),
            }
            started = time.monotonic()
            with pytest.raises(emcache.ConnectionFailedError, match="bare"):
                await calls[call]()
            assert time.monotonic() - started < 0.5
            assert await client.get(b"good") == emcache.Item(b"fine", None, None)
        finally:
            await client.close()
