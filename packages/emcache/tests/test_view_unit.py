"""The typed view over in-memory pools: what it sends, what it returns, what it raises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from facade_fakes import FakeCluster

import emcache
from emcache import CacheView, Client, CodecError, CodecMismatchError, JsonCodec
from emcache_protocol import ErrorReply, Status


@pytest_asyncio.fixture(name="cluster")
async def _cluster() -> FakeCluster:
    return FakeCluster()


@pytest_asyncio.fixture(name="client")
async def _client(cluster: FakeCluster) -> AsyncIterator[Client]:
    client = Client(cluster, timeout=1.0, autobatching_max_keys=None)  # type: ignore[arg-type]
    yield client
    await client.close()


@pytest.fixture(name="view")
def _view(client: Client) -> CacheView[Any]:
    return client.view(prefix="svc:", codec=JsonCodec(), default_exptime=300)


def _last_line(cluster: FakeCluster, key: bytes) -> bytes:
    return cluster.pick_pool(key).sent[-1].data.partition(b"\r\n")[0]


class TestReadWrite:
    """get, set, get_many and set_many."""

    @pytest.mark.asyncio
    async def test_set_stores_the_encoded_value_with_flags_and_default_exptime(
        self, view: CacheView[Any], cluster: FakeCluster
    ) -> None:
        """set writes the codec's bytes under the prefixed key, codec id in the flags."""
        await view.set("user:1", {"name": "Ada"})
        assert _last_line(cluster, b"svc:user:1") == b"set svc:user:1 2 300 14"
        assert cluster.pick_pool(b"svc:user:1").items[b"svc:user:1"][:2] == (
            b'{"name":"Ada"}',
            2,
        )
        await view.set("user:1", [1], exptime=0)
        assert _last_line(cluster, b"svc:user:1") == b"set svc:user:1 2 0 3"

    @pytest.mark.asyncio
    async def test_get_returns_the_value_or_none(self, view: CacheView[Any]) -> None:
        """get decodes the stored value; a missing key is None."""
        await view.set("k", {"a": [1, 2]})
        assert await view.get("k") == {"a": [1, 2]}
        assert await view.get(b"k") == {"a": [1, 2]}
        assert await view.get("missing") is None

    @pytest.mark.asyncio
    async def test_keys_that_memcached_refuses_are_mapped(
        self, view: CacheView[Any], cluster: FakeCluster
    ) -> None:
        """Spaces or length do not fail a call: the key goes by its mapped form."""
        key = "a key with spaces " * 20
        await view.set(key, 1)
        mapped = view.memcached_key(key)
        assert len(mapped) == 250
        assert b"~" in mapped
        assert mapped in cluster.pick_pool(mapped).items
        assert await view.get(key) == 1

    @pytest.mark.asyncio
    async def test_get_many_keys_results_by_the_keys_as_given(self, view: CacheView[Any]) -> None:
        """get_many returns found values under the caller's keys, str and bytes alike, in order."""
        await view.set_many({f"k{n}": n for n in range(10)})
        keys: list[str | bytes] = ["k3", b"k1", "missing", "k3", "k1"]
        found = await view.get_many(keys)
        assert found == {"k3": 3, b"k1": 1, "k1": 1}
        assert list(found) == ["k3", b"k1", "k1"]
        assert await view.get_many([]) == {}

    @pytest.mark.asyncio
    async def test_get_many_refuses_a_single_key(self, view: CacheView[Any]) -> None:
        """A single str is iterable but is not a list of keys: TypeError, nothing sent."""
        with pytest.raises(TypeError, match="single str or bytes"):
            await view.get_many("k1")

    @pytest.mark.asyncio
    async def test_set_many_sends_one_set_per_item_with_its_exptime(
        self, view: CacheView[Any], cluster: FakeCluster
    ) -> None:
        """set_many stores every item, with the given exptime or the default."""
        await view.set_many({"a": 1, "b": 2}, exptime=5)
        await view.set_many({"c": 3})
        lines = [r.data.split(b"\r\n")[0] for p in cluster.pools for r in p.sent]
        assert sorted(lines) == [b"set svc:a 2 5 1", b"set svc:b 2 5 1", b"set svc:c 2 300 1"]

    @pytest.mark.asyncio
    async def test_set_many_encodes_everything_before_sending(
        self, view: CacheView[Any], cluster: FakeCluster
    ) -> None:
        """A value the codec refuses fails set_many before any item is sent."""
        with pytest.raises(TypeError):
            await view.set_many({"a": 1, "b": object()})
        assert not any(pool.sent for pool in cluster.pools)

    @pytest.mark.asyncio
    async def test_set_many_raises_the_first_failure(
        self, view: CacheView[Any], cluster: FakeCluster
    ) -> None:
        """A store the server refuses fails set_many with the 1.x error."""
        cluster.pick_pool(b"svc:big").script(ErrorReply("SERVER_ERROR", "object too large"))
        with pytest.raises(emcache.StorageCommandError):
            await view.set_many({"big": "x", "small": "y"})
        await asyncio.sleep(0)


class TestTypedResults:
    """Normal outcomes are values, not exceptions."""

    @pytest.mark.asyncio
    async def test_add_says_whether_it_stored(self, view: CacheView[Any]) -> None:
        """add is True for a new key and False for an existing one, which keeps its value."""
        assert await view.add("k", 1) is True
        assert await view.add("k", 2) is False
        assert await view.get("k") == 1

    @pytest.mark.asyncio
    async def test_delete_says_whether_there_was_an_item(self, view: CacheView[Any]) -> None:
        """delete is True when it removed the item, False when there was none."""
        await view.set("k", 1)
        assert await view.delete("k") is True
        assert await view.delete("k") is False

    @pytest.mark.asyncio
    async def test_touch_says_whether_the_item_exists(
        self, view: CacheView[Any], cluster: FakeCluster
    ) -> None:
        """touch is True for an existing item (default exptime unless given), else False."""
        await view.set("k", 1)
        assert await view.touch("k") is True
        assert _last_line(cluster, b"svc:k") == b"touch svc:k 300"
        assert await view.touch("k", 10) is True
        assert _last_line(cluster, b"svc:k") == b"touch svc:k 10"
        assert await view.touch("missing") is False

    @pytest.mark.asyncio
    async def test_increment_creates_a_missing_counter(
        self, view: CacheView[Any], cluster: FakeCluster
    ) -> None:
        """A missing counter starts at initial; the counter reads back through the JSON view."""
        assert await view.increment("hits") == 1
        assert await view.increment("hits", 5) == 6
        assert await view.get("hits") == 6
        assert await view.increment("other", 2, initial=10, exptime=60) == 12
        assert _last_line(cluster, b"svc:other") == b"add svc:other 2 60 2"

    @pytest.mark.asyncio
    async def test_increment_of_a_counter_created_meanwhile_increments_it(
        self, view: CacheView[Any], cluster: FakeCluster
    ) -> None:
        """When another client creates the counter first, the increment applies to theirs."""
        cluster.pick_pool(b"svc:n").script(Status.NOT_FOUND, Status.NOT_STORED, 8)
        assert await view.increment("n") == 8
        lines = [r.data.split(b" ")[0] for r in cluster.pick_pool(b"svc:n").sent]
        assert lines == [b"incr", b"add", b"incr"]

    @pytest.mark.asyncio
    async def test_increment_gives_up_on_a_counter_that_keeps_disappearing(
        self, view: CacheView[Any], cluster: FakeCluster
    ) -> None:
        """A counter deleted after every creation ends in NotFoundCommandError, not a loop."""
        cluster.pick_pool(b"svc:n").script(*[Status.NOT_FOUND, Status.NOT_STORED] * 3)
        with pytest.raises(emcache.NotFoundCommandError, match="disappearing"):
            await view.increment("n")

    @pytest.mark.asyncio
    async def test_increment_refuses_counters_outside_64_bits(self, view: CacheView[Any]) -> None:
        """initial, and the counter it creates, must fit memcached's unsigned 64 bits."""
        with pytest.raises(ValueError, match="initial"):
            await view.increment("n", initial=-1)
        with pytest.raises(ValueError, match="initial"):
            await view.increment("n", initial=2**64)
        with pytest.raises(ValueError, match="initial \\+ delta"):
            await view.increment("n", 2, initial=2**64 - 1)
        assert await view.get("n") is None

    @pytest.mark.asyncio
    async def test_the_1x_client_keeps_raising(self, client: Client) -> None:
        """The bytes API still raises for a missing key or an existing one, as in 1.x."""
        with pytest.raises(emcache.NotFoundCommandError):
            await client.delete(b"missing")
        await client.set(b"k", b"v")
        with pytest.raises(emcache.NotStoredStorageCommandError):
            await client.add(b"k", b"v")


class TestFormats:
    """Codecs and compression as seen through the view."""

    @pytest.mark.asyncio
    async def test_a_view_with_another_codec_gets_a_clear_error(self, client: Client) -> None:
        """Reading JSON through a pickle view raises CodecMismatchError naming both ids."""
        await client.view(prefix="svc:", codec=JsonCodec()).set("k", 1)
        pickled = client.view(prefix="svc:", codec=emcache.PickleCodec())
        with pytest.raises(CodecMismatchError, match=r"codec id 2.*reads codec id 3"):
            await pickled.get("k")
        with pytest.raises(CodecMismatchError):
            await pickled.get_many(["k"])

    @pytest.mark.asyncio
    async def test_a_bytes_view_reads_what_the_1x_api_stored(self, client: Client) -> None:
        """Values the bytes API stored with flags 0 are the BytesCodec's, both ways."""
        raw = client.view(prefix=b"legacy:", codec=emcache.BytesCodec())
        await client.set(b"legacy:k", b"old")
        assert await raw.get("k") == b"old"
        await raw.set("k", b"new")
        assert await client.get(b"legacy:k", return_flags=True) == emcache.Item(b"new", 0, None)

    @pytest.mark.asyncio
    async def test_a_value_the_codec_cannot_decode_is_a_codec_error(self, client: Client) -> None:
        """Bytes flagged JSON that are not JSON raise CodecError, the codec's error chained."""
        await client.set(b"k", b"{not json", flags=2)
        with pytest.raises(CodecError, match="could not decode") as caught:
            await client.view(codec=JsonCodec()).get("k")
        assert isinstance(caught.value.__cause__, ValueError)
        assert caught.value.key == b"k"

    @pytest.mark.asyncio
    async def test_values_over_the_threshold_are_compressed(
        self, client: Client, cluster: FakeCluster
    ) -> None:
        """compress_over compresses longer values (flags say zlib) and get reads them back."""
        view = client.view(codec=emcache.StrCodec(), compress_over=64)
        await view.set("long", "x" * 1000)
        await view.set("short", "x" * 64)
        stored, flags, _ = cluster.pick_pool(b"long").items[b"long"]
        assert (len(stored) < 100, flags) == (True, 0x101)
        assert cluster.pick_pool(b"short").items[b"short"][:2] == (b"x" * 64, 1)
        assert await view.get_many(["long", "short"]) == {"long": "x" * 1000, "short": "x" * 64}

    @pytest.mark.asyncio
    async def test_a_codec_of_the_application_is_used_and_identified(
        self, client: Client, cluster: FakeCluster
    ) -> None:
        """Any object with codec_id, encode and decode is a codec; its id is in the flags."""

        class Reversed:
            codec_id = 200

            def encode(self, value: str) -> bytes:
                return value[::-1].encode()

            def decode(self, data: bytes) -> str:
                return data.decode()[::-1]

        view = client.view(codec=Reversed())
        await view.set("k", "abc")
        assert cluster.pick_pool(b"k").items[b"k"][:2] == (b"cba", 200)
        assert await view.get("k") == "abc"


class TestCreation:
    """client.view() and what the view shows of itself."""

    def test_view_checks_its_options(self, client: Client) -> None:
        """Bad options are refused when the view is made, not at its first call."""
        with pytest.raises(ValueError, match="prefix"):
            client.view(prefix="has space", codec=JsonCodec())
        with pytest.raises(ValueError, match="default_exptime"):
            client.view(codec=JsonCodec(), default_exptime=-1)
        with pytest.raises(ValueError, match="compress_over"):
            client.view(codec=JsonCodec(), compress_over=-1)

        class Bad:
            codec_id = 256

            def encode(self, value: int) -> bytes:
                return b""

            def decode(self, data: bytes) -> int:
                return 0

        with pytest.raises(ValueError, match="codec_id"):
            client.view(codec=Bad())

    def test_view_repr_and_properties(self, view: CacheView[Any]) -> None:
        """The repr names every option; prefix and codec are readable."""
        assert repr(view) == (
            "CacheView(prefix=b'svc:', codec=JsonCodec(), default_exptime=300, "
            "compress_over=None, compression='zlib')"
        )
        assert view.prefix == b"svc:"
        assert isinstance(view.codec, JsonCodec)
        assert view.memcached_key("a") == b"svc:a"

    def test_view_names_are_exported(self) -> None:
        """The view, its codecs and its errors are public names of emcache."""
        names = {"CacheView", "Codec", "JsonCodec", "PickleCodec", "BytesCodec", "StrCodec"}
        assert names | {"CodecError", "CodecMismatchError"} <= set(emcache.__all__)
        assert issubclass(CodecMismatchError, CodecError)
        assert emcache.errors.CodecMismatchError is CodecMismatchError
