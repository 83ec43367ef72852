"""The module paths of emcache 1.x: every name 1.x code imports, as the very same objects."""

from __future__ import annotations

import importlib

import pytest

import emcache
import emcache.base
import emcache.client
import emcache.client_errors
import emcache.cluster
import emcache.connection_pool
import emcache.default_values
import emcache.version

# The values emcache 1.3.3 gave its defaults.
V1_DEFAULTS = {
    "DEFAULT_TIMEOUT": 1.0,
    "DEFAULT_MAX_CONNECTIONS": 2,
    "DEFAULT_MIN_CONNECTIONS": 1,
    "DEFAULT_CONNECTION_TIMEOUT": 5.0,
    "DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER": 60.0,
    "DEFAULT_PURGE_UNHEALTHY_NODES": False,
    "DEFAULT_AUTOBATCHING_MAX_KEYS": 32,
    "DEFAULT_AUTOBATCHING_ENABLED": False,
    "DEFAULT_SSL": False,
    "DEFAULT_SSL_VERIFY": True,
    "DEFAULT_AUTODISCOVERY_POLL_INTERVAL": 60.0,
    "DEFAULT_AUTODISCOVERY_TIMEOUT": 5.0,
    "DEFAULT_STARTUP_WAIT_AUTODISCOVERY": 10.0,
}


# The public names of each emcache 1.3.3 module that have a counterpart here.
V1_NAMES = {
    "emcache.client_errors": [
        "AuthenticationError",
        "ClusterNoAvailableNodes",
        "CommandError",
        "NotFoundCommandError",
        "NotStoredStorageCommandError",
        "StorageCommandError",
    ],
    "emcache.default_values": [
        "DEFAULT_AUTOBATCHING_ENABLED",
        "DEFAULT_AUTOBATCHING_MAX_KEYS",
        "DEFAULT_AUTODISCOVERY_POLL_INTERVAL",
        "DEFAULT_AUTODISCOVERY_TIMEOUT",
        "DEFAULT_CONNECTION_TIMEOUT",
        "DEFAULT_MAX_CONNECTIONS",
        "DEFAULT_MIN_CONNECTIONS",
        "DEFAULT_PURGE_UNHEALTHY_NODES",
        "DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER",
        "DEFAULT_SSL",
        "DEFAULT_SSL_VERIFY",
        "DEFAULT_STARTUP_WAIT_AUTODISCOVERY",
        "DEFAULT_TIMEOUT",
    ],
    "emcache.base": [
        "Client",
        "ClusterEvents",
        "ClusterManagment",
        "ConnectionPoolMetrics",
        "Item",
        "MemcachedHostAddress",
        "MemcachedUnixSocketPath",
    ],
    "emcache.client": [
        "Client",
        "ClusterEvents",
        "ClusterManagment",
        "CommandError",
        "Item",
        "MAX_ALLOWED_CAS_VALUE",
        "MAX_ALLOWED_FLAG_VALUE",
        "MemcachedHostAddress",
        "MemcachedUnixSocketPath",
        "NotFoundCommandError",
        "NotStoredStorageCommandError",
        "StorageCommandError",
        "create_client",
        *V1_DEFAULTS,
    ],
    "emcache.cluster": [
        "ClusterEvents",
        "ClusterManagment",
        "ClusterNoAvailableNodes",
        "ConnectionPoolMetrics",
        "MemcachedHostAddress",
        "MemcachedUnixSocketPath",
    ],
    "emcache.connection_pool": [
        "AuthenticationError",
        "ConnectionPoolMetrics",
        "MemcachedHostAddress",
        "MemcachedUnixSocketPath",
    ],
    "emcache.version": ["__version__"],
}


@pytest.mark.parametrize("module_name", sorted(V1_NAMES))
def test_v1_module_has_every_v1_name(module_name: str) -> None:
    """Each 1.x module exists and lists in __all__ exactly the 1.x names it provides."""
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(V1_NAMES[module_name])
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name}"


@pytest.mark.parametrize("module_name", sorted(V1_NAMES))
def test_v1_module_names_are_the_top_level_objects(module_name: str) -> None:
    """A name exported by the top level too is the very same object, not a copy."""
    module = importlib.import_module(module_name)
    shared = [name for name in module.__all__ if hasattr(emcache, name)]
    assert shared
    for name in shared:
        assert getattr(module, name) is getattr(emcache, name), f"{module_name}.{name}"


def test_v1_defaults_have_their_v1_values() -> None:
    """Every DEFAULT_* of emcache.default_values has the value emcache 1.3.3 gave it."""
    values = {name: getattr(emcache.default_values, name) for name in V1_DEFAULTS}
    assert values == V1_DEFAULTS
    for name in V1_DEFAULTS:
        assert getattr(emcache.client, name) is getattr(emcache.default_values, name)


def test_v1_error_classes_catch_across_paths() -> None:
    """An error raised through one path is caught through the other, and keeps the 1.x tree."""
    from emcache.client_errors import AuthenticationError, CommandError

    assert issubclass(AuthenticationError, CommandError)
    with pytest.raises(emcache.client_errors.NotStoredStorageCommandError):
        raise emcache.NotStoredStorageCommandError("x")
    with pytest.raises(emcache.StorageCommandError):
        raise emcache.client_errors.NotStoredStorageCommandError("x")


def test_v1_base_classes_are_the_concrete_ones() -> None:
    """emcache.base.Client is the client create_client returns, and Item builds as in 1.x."""
    assert emcache.base.Client is emcache.client.Client is emcache.Client
    item = emcache.base.Item(b"v", None, None)
    assert isinstance(item, emcache.Item)
    assert (item.value, item.flags, item.cas) == (b"v", None, None)


def test_v1_version_module() -> None:
    """emcache.version.__version__ is the package version."""
    assert emcache.version.__version__ == emcache.__version__


def test_v1_limits_are_the_ones_enforced() -> None:
    """MAX_ALLOWED_FLAG_VALUE and MAX_ALLOWED_CAS_VALUE are the highest values accepted."""
    from emcache_protocol import storage_command

    storage_command(b"set", b"k", b"v", emcache.client.MAX_ALLOWED_FLAG_VALUE, 0)
    storage_command(b"cas", b"k", b"v", 0, 0, cas=emcache.client.MAX_ALLOWED_CAS_VALUE)
    with pytest.raises(ValueError, match="flags"):
        storage_command(b"set", b"k", b"v", emcache.client.MAX_ALLOWED_FLAG_VALUE + 1, 0)
    with pytest.raises(ValueError, match="cas"):
        storage_command(b"cas", b"k", b"v", 0, 0, cas=emcache.client.MAX_ALLOWED_CAS_VALUE + 1)
