"""create_client: defaults as documented, invalid options refused before anything starts."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

import emcache

NODE = emcache.MemcachedHostAddress("127.0.0.1", 1)

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
}


def test_create_client_defaults_match_the_documentation() -> None:
    """Every keyword of create_client has the documented default, and there are no others."""
    params = inspect.signature(emcache.create_client).parameters
    defaults = {name: p.default for name, p in params.items() if name != "node_addresses"}
    assert defaults == DOCUMENTED_DEFAULTS
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in params.items() if n != "node_addresses"
    )


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


def test_password_never_in_option_repr() -> None:
    """The validated options never show the password."""
    from emcache._config import ClientOptions

    options = ClientOptions.from_arguments(
        [NODE],
        min_connections=1,
        username="user",
        password="hunter2-secret",
        ssl=False,
        ssl_verify=True,
        ssl_extra_ca=None,
        timeout=1.0,
        max_connections=2,
        purge_unused_connections_after=60.0,
        connection_timeout=5.0,
        cluster_events=None,
        purge_unhealthy_nodes=False,
        autobatching=False,
        autobatching_max_keys=32,
        autodiscovery=False,
        autodiscovery_poll_interval=60.0,
        autodiscovery_timeout=5.0,
    )
    assert "hunter2-secret" not in repr(options)
    assert "hunter2-secret" not in str(options)


def test_errors_keep_the_emcache_hierarchy() -> None:
    """The error classes subclass each other as in emcache 1.x."""
    assert issubclass(emcache.NotStoredStorageCommandError, emcache.StorageCommandError)
    assert issubclass(emcache.StorageCommandError, emcache.CommandError)
    assert issubclass(emcache.NotFoundCommandError, emcache.CommandError)
    assert issubclass(emcache.AuthenticationError, emcache.CommandError)
    assert issubclass(emcache.ConnectionFailedError, emcache.CommandError)
    assert issubclass(emcache.ConnectionFailedError, ConnectionError)
    assert issubclass(emcache.ClientClosedError, RuntimeError)
