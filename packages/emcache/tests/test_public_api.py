"""The public surface of emcache."""

import emcache


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, listed once."""
    for name in emcache.__all__:
        assert hasattr(emcache, name), name
    assert len(set(emcache.__all__)) == len(emcache.__all__)


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache.__version__, str)
    assert emcache.__version__.count(".") == 2
