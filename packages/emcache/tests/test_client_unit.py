"""Every Client command over in-memory pools: fast checks of the facade's own logic.

The integration suites run the same commands against real memcached; these tests
cover what the facade itself decides (which request, which error, which key is
passed for ordering) in milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from facade_fakes import FakeCluster

import emcache
from emcache import Client
from emcache_auth import AuthFailedError
from emcache_pool.errors import ConnectError, PairingLostError
from emcache_protocol import ErrorReply, ReplyKind

UNAUTHENTICATED = ErrorReply("CLIENT_ERROR", "unauthenticated")


@pytest_asyncio.fixture(name="cluster")
async def _cluster() -> FakeCluster:
    return FakeCluster()


@pytest_asyncio.fixture(name="client")
async def _client(cluster: FakeCluster) -> AsyncIterator[Client]:
    client = Client(cluster, timeout=1.0, autobatching_max_keys=None)  # type: ignore[arg-type]
    yield client
    await client.close()


class TestRetrieval:
    """get, gets, gat, gats and their many-key forms."""

    @pytest.mark.asyncio
    async def test_get_returns_value_and_flags_on_request(self, client: Client) -> None:
        """get returns the value; flags only when asked, never a cas."""
        await client.set(b"k", b"v", flags=7)
        assert await client.get(b"k") == emcache.Item(b"v", None, None)
        assert await client.get(b"k", return_flags=True) == emcache.Item(b"v", 7, None)
        assert await client.get(b"missing") is None

    @pytest.mark.asyncio
    async def test_gets_and_gats_return_the_cas(self, client: Client, cluster: FakeCluster) -> None:
        """gets and gats ask for cas uniques (RETRIEVAL_CAS) and return them."""
        await client.set(b"k", b"v")
        item = await client.gets(b"k")
        assert item is not None
        assert item.cas is not None
        assert await client.gats(10, b"k") == emcache.Item(b"v", None, item.cas)
        assert await client.gat(10, b"k") == emcache.Item(b"v", None, None)
        kinds = [request.kind for request in cluster.pick_pool(b"k").sent[-3:]]
        assert kinds == [ReplyKind.RETRIEVAL_CAS, ReplyKind.RETRIEVAL_CAS, ReplyKind.RETRIEVAL]

    @pytest.mark.asyncio
    async def test_get_many_merges_the_replies_of_every_node(self, client: Client) -> None:
        """Keys spread over the nodes come back in one dict; duplicates are asked once."""
        keys = [b"key-%d" % i for i in range(30)]
        for key in keys[:20]:
            await client.set(key, key + b"!")
        found = await client.get_many([*keys, keys[0]])
        assert found == {key: emcache.Item(key + b"!", None, None) for key in keys[:20]}
        cas_found = await client.gets_many(keys[:3])
        assert all(item.cas is not None for item in cas_found.values())

    @pytest.mark.asyncio
    async def test_gat_many_splits_long_lines(self, client: Client, cluster: FakeCluster) -> None:
        """gat_many of many long keys sends several requests, each line within the limit."""
        keys = [b"k" * 200 + b"%d" % i for i in range(50)]
        for key in keys:
            await client.set(key, b"x")
        assert len(await client.gat_many(60, keys)) == 50
        sent = [r for pool in cluster.pools for r in pool.sent if r.data.startswith(b"gat ")]
        assert len(sent) > len(cluster.pools)
        assert all(len(request.data) <= 2000 for request in sent)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("keys", [b"k", b"", "", "abc", 42])
    async def test_many_key_calls_refuse_a_single_key(self, client: Client, keys: object) -> None:
        """A bare bytes or str is not a sequence of keys: TypeError, nothing sent."""
        with pytest.raises(TypeError, match="keys must be a sequence of bytes"):
            await client.get_many(keys)  # type: ignore[arg-type]


class TestStorage:
    """set, add, replace, append, prepend, cas."""

    @pytest.mark.asyncio
    async def test_conditions_raise_not_stored(self, client: Client) -> None:
        """add of an existing key, replace/append/prepend of a missing one: NotStored."""
        await client.add(b"k", b"1")
        with pytest.raises(emcache.NotStoredStorageCommandError):
            await client.add(b"k", b"2")
        for command in (client.replace, client.append, client.prepend):
            with pytest.raises(emcache.NotStoredStorageCommandError):
                await command(b"missing", b"x")
        await client.append(b"k", b"2")
        await client.prepend(b"k", b"0")
        await client.replace(b"k", b"012", flags=1)
        assert await client.get(b"k", return_flags=True) == emcache.Item(b"012", 1, None)

    @pytest.mark.asyncio
    async def test_cas_stores_only_with_the_current_token(self, client: Client) -> None:
        """A stale token is NotStored; a missing key is a StorageCommandError, as in 1.x."""
        await client.set(b"k", b"a")
        item = await client.gets(b"k")
        assert item is not None
        assert item.cas is not None
        await client.cas(b"k", b"b", item.cas)
        with pytest.raises(emcache.NotStoredStorageCommandError):
            await client.cas(b"k", b"c", item.cas)
        with pytest.raises(emcache.StorageCommandError):
            await client.cas(b"missing", b"c", 1)

    @pytest.mark.asyncio
    async def test_writes_pass_their_key_for_ordering(
        self, client: Client, cluster: FakeCluster
    ) -> None:
        """Every write gives the pool its key, so given-up writes keep their order."""
        await client.set(b"k", b"1")
        await client.increment(b"k", 1)
        await client.touch(b"k", 10)
        await client.delete(b"k")
        await client.get(b"k")
        assert cluster.pick_pool(b"k").keys_given == [b"k", b"k", b"k", b"k", None]

    @pytest.mark.asyncio
    async def test_noreply_writes_go_through_execute_noreply(
        self, client: Client, cluster: FakeCluster
    ) -> None:
        """noreply=True never waits for a reply and still passes the key."""
        await client.set(b"k", b"1", noreply=True)
        assert await client.increment(b"k", 5, noreply=True) is None
        await client.delete(b"k", noreply=True)
        pool = cluster.pick_pool(b"k")
        assert [key for _, key in pool.noreply] == [b"k", b"k", b"k"]
        assert pool.sent == []

    @pytest.mark.asyncio
    async def test_server_refusal_is_a_storage_command_error(
        self, client: Client, cluster: FakeCluster
    ) -> None:
        """SERVER_ERROR for a set is a StorageCommandError carrying the server's words."""
        cluster.pick_pool(b"k").script(ErrorReply("SERVER_ERROR", "object too large for cache"))
        with pytest.raises(emcache.StorageCommandError, match="object too large"):
            await client.set(b"k", b"v")


class TestCountersAndKeys:
    """increment, decrement, touch, delete."""

    @pytest.mark.asyncio
    async def test_counters_and_missing_keys(self, client: Client) -> None:
        """Counters count; a missing key is NotFoundCommandError for each command."""
        await client.set(b"n", b"10")
        assert await client.increment(b"n", 5) == 15
        assert await client.decrement(b"n", 20) == 0
        for call in (
            client.increment(b"missing", 1),
            client.decrement(b"missing", 1),
            client.touch(b"missing", 1),
            client.delete(b"missing"),
        ):
            with pytest.raises(emcache.NotFoundCommandError):
                await call


class TestNodeCommands:
    """flush_all, verbosity, cache_memlimit, version, stats."""

    @pytest.mark.asyncio
    async def test_node_commands_reach_their_node(
        self, client: Client, cluster: FakeCluster
    ) -> None:
        """Each node command goes to the node named, and its reply is read."""
        node = cluster.pools[1].endpoint
        await client.set(b"k", b"v")
        cluster.pools[1].sent.clear()
        assert await client.version(node) == "1.6.18"
        assert set(await client.stats(node)) == {"curr_items"}
        await client.verbosity(node, 1)
        await client.cache_memlimit(node, 64)
        await client.flush_all(node, noreply=True)
        assert [r.kind for r in cluster.pools[1].sent] == [
            ReplyKind.VERSION,
            ReplyKind.STATS,
            ReplyKind.OK,
            ReplyKind.OK,
        ]

    @pytest.mark.asyncio
    async def test_memlimit_refusal_is_a_command_error(
        self, client: Client, cluster: FakeCluster
    ) -> None:
        """cache_memlimit refused by the node raises CommandError."""
        cluster.pools[0].script(ErrorReply("CLIENT_ERROR", "MEMLIMIT_TOO_SMALL cannot be set"))
        with pytest.raises(emcache.CommandError, match="MEMLIMIT_TOO_SMALL"):
            await client.cache_memlimit(cluster.pools[0].endpoint, 8)


class TestErrors:
    """Lower errors and error replies become the facade's 1.x errors."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("outcome", "error"),
        [
            (TimeoutError("no reply within 1.0 s"), emcache.OperationTimeoutError),
            (ConnectError("cannot connect"), emcache.ConnectionFailedError),
            (PairingLostError("burst", UNAUTHENTICATED), emcache.AuthenticationError),
            (AuthFailedError("refused"), emcache.AuthenticationError),
            (UNAUTHENTICATED, emcache.AuthenticationError),
            (ErrorReply("ERROR", ""), emcache.CommandError),
        ],
    )
    async def test_failures_map_to_facade_errors(
        self, client: Client, cluster: FakeCluster, outcome: object, error: type[Exception]
    ) -> None:
        """Each lower failure of a get is raised as the facade error 1.x code catches."""
        cluster.pick_pool(b"k").script(outcome)
        with pytest.raises(error) as info:
            await client.get(b"k")
        assert type(info.value).__module__.startswith("emcache")

    @pytest.mark.asyncio
    async def test_unavailable_errors_are_asyncio_timeouts(
        self, client: Client, cluster: FakeCluster
    ) -> None:
        """A node that cannot be reached surfaces as asyncio.TimeoutError, as in 1.x."""
        cluster.pick_pool(b"k").script(ConnectError("refused"))
        with pytest.raises(asyncio.TimeoutError):
            await client.get(b"k")

    @pytest.mark.asyncio
    async def test_closed_client_refuses_every_command(
        self, client: Client, cluster: FakeCluster
    ) -> None:
        """After close every command raises ClientClosedError; close is idempotent."""
        await client.close()
        await client.close()
        assert cluster.closed == 2
        for call in (client.get(b"k"), client.set(b"k", b"v"), client.get_many([b"k"])):
            with pytest.raises(emcache.ClientClosedError):
                await call


class TestLifetime:
    """The client as an async context manager, and what its repr says."""

    @pytest.mark.asyncio
    async def test_async_with_closes_the_client(self, cluster: FakeCluster) -> None:
        """Leaving ``async with client`` closes it, even on an error."""
        client = Client(cluster, timeout=1.0, autobatching_max_keys=None)  # type: ignore[arg-type]

        async def fail_inside() -> None:
            async with client as entered:
                assert entered is client
                raise RuntimeError

        with pytest.raises(RuntimeError):
            await fail_inside()
        assert client.closed
        assert cluster.closed == 1

    @pytest.mark.asyncio
    async def test_repr_names_nodes_health_and_state(self, client: Client) -> None:
        """repr(client) lists the nodes, how many are healthy, and whether it is closed."""
        text = repr(client)
        assert text.startswith("<emcache.Client open nodes=[fake:11211, fake:11212, fake:11213]")
        assert "healthy=3" in text
        await client.close()
        assert "closed" in repr(client)


class TestAutobatching:
    """Concurrent gets of one loop iteration become one request per node."""

    @pytest.mark.asyncio
    async def test_concurrent_gets_share_requests(self, cluster: FakeCluster) -> None:
        """Twenty gets make at most one request per node, and each caller gets its item."""
        client = Client(cluster, timeout=1.0, autobatching_max_keys=32)  # type: ignore[arg-type]
        try:
            keys = [b"b-%d" % i for i in range(20)]
            for key in keys[::2]:
                await client.set(key, key)
            sent_before = sum(len(pool.sent) for pool in cluster.pools)
            items = await asyncio.gather(*(client.get(key) for key in keys))
            assert [i.value if i else None for i in items] == [
                key if n % 2 == 0 else None for n, key in enumerate(keys)
            ]
            assert sum(len(pool.sent) for pool in cluster.pools) - sent_before <= 3
        finally:
            await client.close()

    @pytest.mark.asyncio
    async def test_failed_batch_fails_its_callers_with_facade_errors(
        self, cluster: FakeCluster
    ) -> None:
        """A batch whose node is unreachable fails its callers with ConnectionFailedError."""
        client = Client(cluster, timeout=1.0, autobatching_max_keys=32)  # type: ignore[arg-type]
        try:
            cluster.pick_pool(b"k").script(ConnectError("refused"))
            with pytest.raises(emcache.ConnectionFailedError):
                await client.get(b"k")
            assert await client.get(b"k") is None  # the next batch is served again
        finally:
            await client.close()
