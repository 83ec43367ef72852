"""The public surface of emcache_hashing."""

import emcache_hashing


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, and __all__ is sorted."""
    for name in emcache_hashing.__all__:
        assert hasattr(emcache_hashing, name), name
    assert list(emcache_hashing.__all__) == sorted(emcache_hashing.__all__)


def test_public_names_are_the_documented_ones() -> None:
    """The package exports the hasher protocol, the four hashers, Server and the error."""
    assert emcache_hashing.__all__ == [
        "Crc32Modulo",
        "Hasher",
        "Ketama",
        "NoNodesError",
        "PymemcacheRendezvous",
        "Rendezvous",
        "Server",
        "__version__",
    ]
    assert issubclass(emcache_hashing.NoNodesError, ValueError)
    for name in ("Crc32Modulo", "Ketama", "PymemcacheRendezvous", "Rendezvous", "Server"):
        assert getattr(emcache_hashing, name).__module__ == "emcache_hashing", name


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache_hashing.__version__, str)
    assert emcache_hashing.__version__.count(".") == 2
