"""The public surface of emcache_hashing."""

import emcache_hashing


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, listed once."""
    for name in emcache_hashing.__all__:
        assert hasattr(emcache_hashing, name), name
    assert len(set(emcache_hashing.__all__)) == len(emcache_hashing.__all__)


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache_hashing.__version__, str)
    assert emcache_hashing.__version__.count(".") == 2
