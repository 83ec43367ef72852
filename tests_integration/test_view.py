"""The typed view against real memcached: keys, codecs, flags, compression, typed results."""

from __future__ import annotations

import asyncio
import dataclasses
import zlib
from typing import Any

import pytest

import emcache
from emcache_testing import MemcachedNode
from tests_integration.helpers import ClientFactory

pytestmark = pytest.mark.asyncio

DOCUMENT = {"title": "caf\u00e9", "tags": [f"tag-{n}" for n in range(400)]}


@dataclasses.dataclass
class Session:
    user: str
    visits: int

    @classmethod
    def from_json(cls, data: Any) -> Session:
        return cls(str(data["user"]), int(data["visits"]))


class TestKeysAndValues:
    async def test_json_values_round_trip_under_the_prefix(self, client: emcache.Client) -> None:
        """A JSON view stores compact UTF-8 under prefix + key, flags = codec id 2."""
        view = client.view(prefix="svc:", codec=emcache.JsonCodec())
        await view.set("doc", {"a": [1, None, "\u00e9"]})
        assert await view.get("doc") == {"a": [1, None, "\u00e9"]}
        raw = await client.get(b"svc:doc", return_flags=True)
        assert raw == emcache.Item(b'{"a":[1,null,"\xc3\xa9"]}', 2, None)

    async def test_keys_memcached_refuses_are_stored_under_their_mapped_key(
        self, client: emcache.Client
    ) -> None:
        """Long keys, spaces and non-ASCII keys work; the item is under memcached_key()."""
        view = client.view(prefix="svc:", codec=emcache.StrCodec())
        keys = ["with space", "new\nline", "\u00e9t\u00e9", "x" * 1000, "tilde~key"]
        for n, key in enumerate(keys):
            await view.set(key, f"value {n}")
        for n, key in enumerate(keys):
            assert await view.get(key) == f"value {n}"
            raw = await client.get(view.memcached_key(key))
            assert raw is not None
            assert raw.value == f"value {n}".encode()
        assert view.memcached_key("\u00e9t\u00e9") == "svc:\u00e9t\u00e9".encode()

    async def test_typed_json_values_come_back_as_their_class(self, client: emcache.Client) -> None:
        """to_json/from_json store a dataclass and give it back."""
        view = client.view(
            prefix="sessions:",
            codec=emcache.JsonCodec(to_json=dataclasses.asdict, from_json=Session.from_json),
            default_exptime=60,
        )
        await view.set("s1", Session("ada", 3))
        assert await view.get("s1") == Session("ada", 3)

    async def test_many_keys_over_a_cluster(
        self, memcached_cluster: list[MemcachedNode], make_client: ClientFactory
    ) -> None:
        """set_many and get_many spread keys over three nodes and read them back by key."""
        client = await make_client(memcached_cluster)
        view = client.view(prefix="m:", codec=emcache.PickleCodec())
        values = {f"key {n}": {"n": n} for n in range(60)}
        await view.set_many(values, exptime=60)
        found = await view.get_many([*values, "missing"])
        assert found == values

    async def test_views_work_with_autobatching(
        self, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """Concurrent gets of a view are batched by the client like any get."""
        client = await make_client([memcached], autobatching=True)
        view = client.view(prefix="b:", codec=emcache.JsonCodec())
        await view.set_many({f"k{n}": n for n in range(20)})
        results = await asyncio.gather(*(view.get(f"k{n}") for n in range(20)))
        assert results == list(range(20))


class TestFormats:
    async def test_a_reader_with_another_codec_gets_codec_mismatch(
        self, client: emcache.Client
    ) -> None:
        """A pickle view reading a JSON item raises CodecMismatchError; nothing is unpickled."""
        await client.view(prefix="svc:", codec=emcache.JsonCodec()).set("k", [1])
        reader = client.view(prefix="svc:", codec=emcache.PickleCodec())
        with pytest.raises(emcache.CodecMismatchError) as caught:
            await reader.get("k")
        assert (caught.value.key, caught.value.flags) == (b"svc:k", 2)

    async def test_the_bytes_view_and_the_1x_api_share_items(self, client: emcache.Client) -> None:
        """Items stored with the 1.x API (flags 0) are what a BytesCodec view reads and writes."""
        view = client.view(prefix="legacy:", codec=emcache.BytesCodec())
        await client.set(b"legacy:k", b"from 1.x")
        assert await view.get("k") == b"from 1.x"
        await client.set(b"legacy:flagged", b"x", flags=7)
        with pytest.raises(emcache.CodecMismatchError):
            await view.get("flagged")

    async def test_zlib_compression_over_the_threshold(self, client: emcache.Client) -> None:
        """A value over compress_over is stored zlib-compressed (flags 0x102) and read back."""
        view = client.view(prefix="z:", codec=emcache.JsonCodec(), compress_over=1024)
        await view.set("doc", DOCUMENT)
        await view.set("small", {"a": 1})
        raw = await client.get(b"z:doc", return_flags=True)
        assert raw is not None
        assert raw.flags == 0x102
        assert len(raw.value) < len(zlib.decompress(raw.value))
        small = await client.get(b"z:small", return_flags=True)
        assert small == emcache.Item(b'{"a":1}', 2, None)
        assert await view.get_many(["doc", "small"]) == {"doc": DOCUMENT, "small": {"a": 1}}

    async def test_zstd_compression_over_the_threshold(self, client: emcache.Client) -> None:
        """With emcache[zstd], values are stored zstd-compressed (flags 0x202) and read back."""
        pytest.importorskip("zstandard")
        view = client.view(
            prefix="z:", codec=emcache.JsonCodec(), compress_over=1024, compression="zstd"
        )
        await view.set("doc", DOCUMENT)
        raw = await client.get(b"z:doc", return_flags=True)
        assert raw is not None
        assert raw.flags == 0x202
        # A reader that compresses with zlib still reads zstd items of its codec.
        reader = client.view(prefix="z:", codec=emcache.JsonCodec(), compress_over=1024)
        assert await reader.get("doc") == DOCUMENT


class TestTypedResults:
    async def test_add_delete_touch_return_booleans(self, client: emcache.Client) -> None:
        """add, delete and touch answer whether they did it, without raising."""
        view = client.view(prefix="r:", codec=emcache.JsonCodec())
        assert await view.add("k", 1) is True
        assert await view.add("k", 2) is False
        assert await view.touch("k", 60) is True
        assert await view.touch("missing", 60) is False
        assert await view.delete("k") is True
        assert await view.delete("k") is False
        assert await view.touch("k") is False

    async def test_touch_sets_the_expiration(self, client: emcache.Client) -> None:
        """A touch with a past expiration time makes the item expire at once."""
        view = client.view(prefix="r:", codec=emcache.JsonCodec())
        await view.set("k", 1)
        assert await view.touch("k", -1) is True
        assert await view.get("k") is None

    async def test_increment_creates_and_counts(self, client: emcache.Client) -> None:
        """increment starts a missing counter at initial and counts; the JSON view reads it."""
        view = client.view(prefix="c:", codec=emcache.JsonCodec())
        assert await view.increment("hits") == 1
        assert await view.increment("hits", 10) == 11
        assert await view.get("hits") == 11
        assert await view.increment("from-100", initial=100) == 101

    async def test_concurrent_first_increments_all_count(self, client: emcache.Client) -> None:
        """Many tasks incrementing a missing counter at once lose no increment."""
        view = client.view(prefix="c:", codec=emcache.JsonCodec())
        results = await asyncio.gather(*(view.increment("race") for _ in range(50)))
        assert sorted(results) == list(range(1, 51))
        assert await view.get("race") == 50

    async def test_increment_of_a_non_number_is_a_command_error(
        self, client: emcache.Client
    ) -> None:
        """A value that is not a decimal number cannot be incremented: CommandError."""
        view = client.view(prefix="c:", codec=emcache.JsonCodec())
        await view.set("text", "not a number")
        with pytest.raises(emcache.CommandError):
            await view.increment("text")
