"""create_client: defaults as documented, invalid options refused before anything starts."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

import emcache
from emcache.default_values import (
    DEFAULT_AUTODISCOVERY_POLL_INTERVAL,
    DEFAULT_AUTODISCOVERY_TIMEOUT,
)
from emcache_auth import TLSConfig
from emcache_cluster import Cluster, ClusterEvents, ClusterSettings
from emcache_hashing import Ketama, Rendezvous
from emcache_pool import PoolConfig

NODE = emcache.MemcachedHostAddress("127.0.0.1", 1)
HASHING = Ketama([], key_hash="md5")

DOCUMENTED_DEFAULTS = {
    "timeout": 1.0,
    "max_connections": 2,
    "min_connections": 1,
    "purge_unused_connections_after": 60.0,
    "connection_timeout": 5.0,
    "cluster_events": None,
    "purge_unhealthy_nodes": False,
    "autobatching": False,
    "autobatching_max_keys": 32,
    "ssl": False,
    "ssl_verify": True,
    "ssl_extra_ca": None,
    "username": None,
    "password": None,
    "autodiscovery": False,
    "autodiscovery_poll_interval": 60.0,
    "autodiscovery_timeout": 5.0,
    "hashing": None,
}
SEED_OPTIONS = list(DOCUMENTED_DEFAULTS)[:-1]  # the 1.x options, in their order; hashing is new


def test_create_client_defaults_match_the_documentation() -> None:
    """Every keyword of create_client has the documented default, and there are no others."""
    params = inspect.signature(emcache.create_client).parameters
    defaults = {name: p.default for name, p in params.items() if name != "node_addresses"}
    assert defaults == DOCUMENTED_DEFAULTS
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in params.items() if n != "node_addresses"
    )
    assert list(params)[1 : len(SEED_OPTIONS) + 1] == SEED_OPTIONS


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"max_connections": 0}, ValueError, "max_connections"),
        ({"min_connections": 3}, ValueError, "min_connections"),
        ({"min_connections": -1}, ValueError, "min_connections"),
        ({"timeout": -1.0}, ValueError, "timeout"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": "1"}, TypeError, "timeout"),
        ({"connection_timeout": -5.0}, ValueError, "connection_timeout"),
        ({"purge_unused_connections_after": -1.0}, ValueError, "purge_unused_connections_after"),
        ({"autobatching_max_keys": 0}, ValueError, "autobatching_max_keys"),
        ({"autodiscovery_poll_interval": 0}, ValueError, "autodiscovery_poll_interval"),
        ({"autodiscovery_timeout": -1}, ValueError, "autodiscovery_timeout"),
        ({"password": "secret"}, ValueError, "without a username"),
        ({"username": "user"}, ValueError, "without a password"),
        ({"max_connections": 2.5}, TypeError, "max_connections"),
        ({"cluster_events": object()}, TypeError, "cluster_events"),
        ({"hashing": "ketama"}, TypeError, "hashing must be a hasher"),
    ],
)
@pytest.mark.asyncio
async def test_invalid_options_raise_before_anything_starts(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    """An invalid option raises a typed error naming it, and no task is left running."""
    before = asyncio.all_tasks()
    with pytest.raises(error, match=message):
        await emcache.create_client([NODE], **options)
    assert asyncio.all_tasks() == before


@pytest.mark.asyncio
async def test_empty_node_list_is_refused() -> None:
    """An empty address list is a ValueError."""
    with pytest.raises(ValueError, match="empty"):
        await emcache.create_client([])


@pytest.mark.asyncio
async def test_wrong_address_type_is_refused() -> None:
    """A tuple instead of a MemcachedHostAddress is a TypeError."""
    with pytest.raises(TypeError, match="MemcachedHostAddress"):
        await emcache.create_client([("localhost", 11211)])  # type: ignore[list-item]


@pytest.mark.asyncio
async def test_missing_ca_file_fails_at_creation(tmp_path: Any) -> None:
    """ssl_extra_ca pointing to no file fails at creation, not at the first operation."""
    with pytest.raises((ValueError, OSError), match="ca"):
        await emcache.create_client([NODE], ssl=True, ssl_extra_ca=str(tmp_path / "none.pem"))


@pytest.fixture
def handed_settings(monkeypatch: pytest.MonkeyPatch) -> list[ClusterSettings]:
    """The settings create_client hands to Cluster.create, which then stops it."""
    handed: list[ClusterSettings] = []

    async def create(endpoints: object, settings: ClusterSettings) -> None:
        handed.append(settings)
        raise RuntimeError("stop before connecting")

    monkeypatch.setattr(Cluster, "create", create)
    return handed


@pytest.mark.asyncio
async def test_password_never_in_the_settings_repr(handed_settings: list[ClusterSettings]) -> None:
    """The settings create_client hands to the cluster never show the password."""
    with pytest.raises(RuntimeError, match="stop"):
        await emcache.create_client([NODE], username="user", password="hunter2-secret")
    (settings,) = handed_settings
    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in str(settings)


@pytest.mark.asyncio
async def test_options_reach_the_pool_and_cluster_settings(
    handed_settings: list[ClusterSettings],
) -> None:
    """Each option lands in the setting of the same name; min_connections=None means 0."""
    events = ClusterEvents()
    with pytest.raises(RuntimeError, match="stop"):
        await emcache.create_client(
            [NODE],
            max_connections=7,
            min_connections=None,
            purge_unused_connections_after=None,
            connection_timeout=2.5,
            cluster_events=events,
            purge_unhealthy_nodes=True,
            autodiscovery_poll_interval=9.0,
            autodiscovery_timeout=3.0,
            hashing=HASHING,
        )
    (settings,) = handed_settings
    assert settings.pool.max_connections == 7
    assert settings.pool.min_connections == 0
    assert settings.pool.purge_unused_connections_after is None
    assert settings.pool.connection_timeout == 2.5
    assert settings.pool.ssl_context is None
    assert settings.pool.on_connect is None
    assert settings.cluster_events is events
    assert settings.purge_unhealthy_nodes is True
    assert settings.autodiscovery is False
    assert (settings.autodiscovery_poll_interval, settings.autodiscovery_timeout) == (9.0, 3.0)
    assert settings.hashing is HASHING


@pytest.mark.asyncio
async def test_hashing_defaults_to_the_rendezvous_of_emcache_1x(
    handed_settings: list[ClusterSettings],
) -> None:
    """Without hashing, the cluster builds emcache 1.x's Rendezvous, as it always did."""
    with pytest.raises(RuntimeError, match="stop"):
        await emcache.create_client([NODE])
    (settings,) = handed_settings
    assert settings.hashing is None
    assert settings.hasher_factory is Rendezvous


@pytest.mark.asyncio
async def test_hashing_refuses_a_hasher_it_cannot_rebuild() -> None:
    """A hasher without rebuild(servers) is refused with a TypeError saying what to give."""

    class Fixed:
        def pick(self, key: bytes) -> str:
            return "a11211"

        def pick_many(self, keys: object) -> dict[str, list[bytes]]:
            return {}

    with pytest.raises(TypeError, match=r"Fixed has pick and pick_many but no rebuild"):
        await emcache.create_client([NODE], hashing=Fixed())  # type: ignore[arg-type]


def test_defaults_are_those_of_the_lower_configurations() -> None:
    """The DEFAULT_* names are the defaults of the pool, cluster and TLS configurations."""
    pool, cluster, tls = PoolConfig(), ClusterSettings(), TLSConfig()
    assert pool.max_connections == emcache.DEFAULT_MAX_CONNECTIONS
    assert pool.min_connections == emcache.DEFAULT_MIN_CONNECTIONS
    assert pool.purge_unused_connections_after == emcache.DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER
    assert pool.connection_timeout == emcache.DEFAULT_CONNECTION_TIMEOUT
    assert cluster.purge_unhealthy_nodes == emcache.DEFAULT_PURGE_UNHEALTHY_NODES
    assert tls.ssl == emcache.DEFAULT_SSL
    assert tls.ssl_verify == emcache.DEFAULT_SSL_VERIFY
    assert cluster.autodiscovery_poll_interval == DEFAULT_AUTODISCOVERY_POLL_INTERVAL
    assert cluster.autodiscovery_timeout == DEFAULT_AUTODISCOVERY_TIMEOUT


def test_errors_keep_the_emcache_hierarchy() -> None:
    """The error classes subclass each other as in emcache 1.x."""
    assert issubclass(emcache.NotStoredStorageCommandError, emcache.StorageCommandError)
    assert issubclass(emcache.StorageCommandError, emcache.CommandError)
    assert issubclass(emcache.NotFoundCommandError, emcache.CommandError)
    assert issubclass(emcache.AuthenticationError, emcache.CommandError)
    assert issubclass(emcache.ConnectionFailedError, emcache.CommandError)
    assert issubclass(emcache.ConnectionFailedError, ConnectionError)
    assert issubclass(emcache.ClientClosedError, RuntimeError)


@pytest.mark.asyncio
async def test_create_client_is_an_async_context_manager(memcached: Any) -> None:
    """``async with create_client(...)`` gives a working client and closes it after the block."""
    node = emcache.MemcachedHostAddress(memcached.host, memcached.port)
    async with emcache.create_client([node]) as client:
        await client.set(b"k", b"v")
        item = await client.get(b"k")
        assert item is not None
        assert item.value == b"v"
    assert client.closed
    with pytest.raises(emcache.ClientClosedError):
        await client.get(b"k")


@pytest.mark.asyncio
async def test_create_client_awaited_twice_gives_the_same_client(memcached: Any) -> None:
    """The awaitable gives one client, however often it is awaited."""
    creation = emcache.create_client([emcache.MemcachedHostAddress(memcached.host, memcached.port)])
    client = await creation
    try:
        assert await creation is client
    finally:
        await client.close()
