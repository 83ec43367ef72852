# An application written for emcache 1.x spells the timeout asyncio.TimeoutError.
# ruff: noqa: UP041
"""An application written for emcache 1.3.3, run unchanged against this client.

Everything above the "tests" line is written as a 1.x application and its own
tests are: it imports only from the 1.x module paths (``emcache.client``,
``emcache.client_errors``, ``emcache.default_values``, ``emcache.base``,
``emcache.cluster``, ``emcache.connection_pool``, ``emcache.version``), uses the
1.x idioms, and takes ``asyncio.TimeoutError`` as its only sign that the cache
is unavailable, falling back to its database.

The tests run it against TCP, unix-socket, TLS (verification on with an extra
CA, and off) and authenticated nodes, then against caches it cannot use: a
refused or killed node, a hung node, a plaintext client on a TLS port and TLS
certificates that fail verification. The application must keep answering from
its database, at once when the node cannot be reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

import emcache
from emcache.base import Item
from emcache.client import Client, create_client
from emcache.client_errors import (
    AuthenticationError,
    ClusterNoAvailableNodes,
    CommandError,
    NotFoundCommandError,
    NotStoredStorageCommandError,
)
from emcache.cluster import ClusterEvents, ClusterManagment
from emcache.connection_pool import ConnectionPoolMetrics
from emcache.default_values import (
    DEFAULT_AUTOBATCHING_MAX_KEYS,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
)
from emcache.version import __version__
from emcache_testing import AsciiAuth, MemcachedLauncher, MemcachedNode, free_port
from node_endpoints import endpoint_of

# -- the application ---------------------------------------------------------------------------


class HealthLog(ClusterEvents):
    """Remembers the node health changes the client reports."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def on_node_healthy(self, cluster_managment: ClusterManagment, host: Any) -> None:
        self.events.append(("healthy", host))

    async def on_node_unhealthy(self, cluster_managment: ClusterManagment, host: Any) -> None:
        self.events.append(("unhealthy", host))


class ProfileStore:
    """User profiles read through the cache, from a slow database when the cache is down."""

    def __init__(self, client: Client, database: dict[int, bytes]) -> None:
        self.client = client
        self.database = database
        self.database_reads = 0
        self.cache_unavailable = 0

    @staticmethod
    def key(user_id: int) -> bytes:
        return b"profile:%d" % user_id

    def _from_database(self, user_id: int) -> bytes:
        self.database_reads += 1
        return self.database[user_id]

    async def get(self, user_id: int) -> bytes:
        try:
            item: Item | None = await self.client.get(self.key(user_id), return_flags=True)
        except asyncio.TimeoutError:
            self.cache_unavailable += 1
            return self._from_database(user_id)
        if item is not None:
            assert item.flags == 1
            return item.value
        value = self._from_database(user_id)
        try:
            await self.client.set(self.key(user_id), value, flags=1, exptime=300)
        except asyncio.TimeoutError:
            self.cache_unavailable += 1
        return value

    async def get_many(self, user_ids: list[int]) -> dict[int, bytes]:
        keys = {self.key(user_id): user_id for user_id in user_ids}
        try:
            found = await self.client.get_many(list(keys))
        except asyncio.TimeoutError:
            self.cache_unavailable += 1
            found = {}
        profiles = {keys[key]: item.value for key, item in found.items()}
        for user_id in user_ids:
            if user_id not in profiles:
                profiles[user_id] = self._from_database(user_id)
        return profiles

    async def rename(self, user_id: int, value: bytes) -> None:
        """Store a new profile with optimistic locking, retrying when another writer won."""
        self.database[user_id] = value
        while True:
            item = await self.client.gets(self.key(user_id))
            if item is None:
                await self.client.set(self.key(user_id), value, flags=1)
                return
            try:
                assert item.cas is not None
                await self.client.cas(self.key(user_id), value, item.cas, flags=1)
                return
            except NotStoredStorageCommandError:
                continue

    async def count_visit(self, user_id: int) -> int:
        key = b"visits:%d" % user_id
        try:
            count = await self.client.increment(key, 1)
        except NotFoundCommandError:
            try:
                await self.client.add(key, b"1")
                return 1
            except NotStoredStorageCommandError:
                count = await self.client.increment(key, 1)
        assert count is not None
        return count

    async def forget(self, user_id: int) -> None:
        with contextlib.suppress(NotFoundCommandError):
            await self.client.delete(self.key(user_id))

    def pool_metrics(self) -> list[ConnectionPoolMetrics]:
        return list(self.client.cluster_managment().connection_pool_metrics().values())


async def connect(nodes: list[Any], **options: Any) -> Client:
    options.setdefault("timeout", DEFAULT_TIMEOUT)
    return await create_client(
        nodes,
        max_connections=DEFAULT_MAX_CONNECTIONS,
        autobatching_max_keys=DEFAULT_AUTOBATCHING_MAX_KEYS,
        **options,
    )


DATABASE = {user_id: b"profile of user %d" % user_id for user_id in range(20)}

# -- tests -------------------------------------------------------------------------------------

AUTH = AsciiAuth(username="app", password="app-secret")


def tls_ca(node: MemcachedNode) -> str:
    assert node.tls is not None
    return str(node.tls.ca_file)


# flavour -> (how to start its node, the create_client options for it)
FLAVOURS: dict[str, tuple[dict[str, Any], Callable[[MemcachedNode], dict[str, Any]]]] = {
    "tcp": ({}, lambda node: {}),
    "tcp-autobatching": ({}, lambda node: {"autobatching": True}),
    "unix": ({"unix": True}, lambda node: {}),
    "tls-verify-extra-ca": (
        {"tls": True},
        lambda node: {"ssl": True, "ssl_verify": True, "ssl_extra_ca": tls_ca(node)},
    ),
    "tls-no-verify": ({"tls": True}, lambda node: {"ssl": True, "ssl_verify": False}),
    "auth": ({"auth": AUTH}, lambda node: {"username": AUTH.username, "password": AUTH.password}),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
async def test_v1_application_runs_unchanged(launcher: MemcachedLauncher, flavour: str) -> None:
    """Reads through the cache, cas, counters, deletes, metrics and node commands all work."""
    start_options, client_options = FLAVOURS[flavour]
    node = launcher.start(**start_options)[0]
    client = await connect([endpoint_of(node)], **client_options(node))
    store = ProfileStore(client, dict(DATABASE))
    try:
        assert await store.get(1) == DATABASE[1]
        assert await store.get(1) == DATABASE[1]
        assert store.database_reads == 1
        assert await store.get_many([1, 2, 3]) == {u: DATABASE[u] for u in (1, 2, 3)}
        assert store.database_reads == 3
        await store.rename(1, b"renamed")
        assert await store.get(1) == b"renamed"
        assert [await store.count_visit(7) for _ in range(3)] == [1, 2, 3]
        await store.forget(1)
        await store.forget(1)
        assert await store.get(1) == b"renamed"
        assert store.cache_unavailable == 0
        assert all(isinstance(m, ConnectionPoolMetrics) for m in store.pool_metrics())
        assert client.cluster_managment().nodes() == [endpoint_of(node)]
        assert (await client.version(endpoint_of(node))).startswith("1.6")
        assert "curr_items" in await client.stats(endpoint_of(node))
    finally:
        await client.close()
    assert client.closed


async def unavailable_cache(store: ProfileStore) -> float:
    """Read every profile through a cache that cannot answer; the seconds the slowest took."""
    reads, misses = store.database_reads, store.cache_unavailable
    slowest = 0.0
    for user_id in range(3):
        started = time.monotonic()
        assert await store.get(user_id) == DATABASE[user_id]
        slowest = max(slowest, time.monotonic() - started)
    assert await store.get_many([3, 4]) == {3: DATABASE[3], 4: DATABASE[4]}
    assert store.cache_unavailable - misses >= 4
    assert store.database_reads - reads == 5
    return slowest


@pytest.mark.asyncio
async def test_v1_application_falls_back_when_the_node_refuses(launcher: MemcachedLauncher) -> None:
    """A node nobody listens for: the application reads its database, without waiting."""
    client = await connect([emcache.MemcachedHostAddress("127.0.0.1", free_port())], timeout=2.0)
    try:
        assert await unavailable_cache(ProfileStore(client, dict(DATABASE))) < 1.0
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_v1_application_falls_back_when_the_node_dies(launcher: MemcachedLauncher) -> None:
    """A node killed under the application: its events report it and reads go to the database."""
    node = launcher.start()[0]
    health = HealthLog()
    client = await connect([endpoint_of(node)], timeout=2.0, cluster_events=health)
    store = ProfileStore(client, dict(DATABASE))
    try:
        await store.get(10)
        node.kill()
        assert await unavailable_cache(store) < 1.0
        assert ("unhealthy", endpoint_of(node)) in health.events
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_v1_application_falls_back_when_the_node_hangs(launcher: MemcachedLauncher) -> None:
    """A node that stops answering costs each read the client's timeout, then the database."""
    node = launcher.start()[0]
    client = await connect([endpoint_of(node)], timeout=0.2)
    store = ProfileStore(client, dict(DATABASE))
    try:
        await store.get(10)
        node.pause()
        assert 0.15 < await unavailable_cache(store) < 1.0
    finally:
        node.resume()
        await client.close()


@pytest.mark.asyncio
async def test_v1_application_falls_back_with_plaintext_on_a_tls_node(
    launcher: MemcachedLauncher,
) -> None:
    """A client configured without TLS against a TLS node: database reads, without waiting."""
    node = launcher.start(tls=True)[0]
    client = await connect([endpoint_of(node)], timeout=2.0)
    try:
        assert await unavailable_cache(ProfileStore(client, dict(DATABASE))) < 1.0
    finally:
        await client.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("ca", ["none", "wrong"])
async def test_v1_application_falls_back_when_tls_verification_fails(
    launcher: MemcachedLauncher, tmp_path: Path, ca: str
) -> None:
    """A certificate the client cannot verify: database reads, without waiting."""
    node = launcher.start(tls=True)[0]
    options: dict[str, Any] = {"ssl": True, "timeout": 2.0}
    if ca == "wrong":
        wrong = tmp_path / "wrong-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(wrong))
        options["ssl_extra_ca"] = str(wrong)
    client = await connect([endpoint_of(node)], **options)
    try:
        assert await unavailable_cache(ProfileStore(client, dict(DATABASE))) < 1.0
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_v1_application_sees_refused_credentials(launcher: MemcachedLauncher) -> None:
    """Wrong credentials raise AuthenticationError, a CommandError, not a timeout."""
    node = launcher.start(auth=AUTH)[0]
    client = await connect([endpoint_of(node)], username=AUTH.username, password="wrong")
    try:
        with pytest.raises(AuthenticationError) as info:
            await client.get(b"key")
        assert isinstance(info.value, CommandError)
        assert not isinstance(info.value, asyncio.TimeoutError)
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_v1_application_starts_while_autodiscovery_finds_nothing(
    launcher: MemcachedLauncher,
) -> None:
    """create_client with autodiscovery returns even when no node list comes back."""
    plain = launcher.start()[0]  # a plain memcached answers ERROR to `config get cluster`
    client = await connect([endpoint_of(plain)], autodiscovery=True, autodiscovery_timeout=0.5)
    try:
        with pytest.raises(ClusterNoAvailableNodes):
            await client.get(b"key")
    finally:
        await client.close()


def test_v1_application_sees_a_version_above_1x() -> None:
    """The version module says 2.x, the successor of 1.3.3."""
    assert int(__version__.split(".")[0]) >= 2
