"""The public surface of emcache_testing."""

from __future__ import annotations

import emcache_testing
from emcache_testing import plugin


def test_all_names_are_exported_and_sorted() -> None:
    """Every name in __all__ is an attribute of the package, and __all__ is sorted."""
    for name in emcache_testing.__all__:
        assert hasattr(emcache_testing, name), name
    assert list(emcache_testing.__all__) == sorted(emcache_testing.__all__)


def test_classes_are_shown_where_users_import_them() -> None:
    """The documented classes claim the package as their module."""
    for name in ("MemcachedLauncher", "MemcachedNode", "HostileServer", "FakeConfigEndpoint"):
        assert getattr(emcache_testing, name).__module__ == "emcache_testing", name


def test_every_fixture_name_starts_with_memcached() -> None:
    """The plugin's fixtures carry a prefix, so they never shadow a project's own fixture."""
    assert plugin.__all__
    assert all(name.startswith("memcached_") for name in plugin.__all__)
    for name in plugin.__all__:
        assert callable(getattr(plugin, name)), name


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert emcache_testing.__version__.count(".") == 2
