"""The public surface of emcache_protocol."""

import emcache_protocol


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, listed once."""
    for name in emcache_protocol.__all__:
        assert hasattr(emcache_protocol, name), name
    assert len(set(emcache_protocol.__all__)) == len(emcache_protocol.__all__)


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache_protocol.__version__, str)
    assert emcache_protocol.__version__.count(".") == 2
