"""The public surface of emcache_cluster."""

import emcache_cluster


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, and __all__ is sorted."""
    for name in emcache_cluster.__all__:
        assert hasattr(emcache_cluster, name), name
    assert list(emcache_cluster.__all__) == sorted(emcache_cluster.__all__)


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache_cluster.__version__, str)
    assert emcache_cluster.__version__.count(".") == 2
