"""The public surface of emcache_pool."""

import emcache_pool


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, listed once."""
    for name in emcache_pool.__all__:
        assert hasattr(emcache_pool, name), name
    assert len(set(emcache_pool.__all__)) == len(emcache_pool.__all__)


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache_pool.__version__, str)
    assert emcache_pool.__version__.count(".") == 2


def test_contract_names_are_exported() -> None:
    """The names the cluster and the facade import are there; routing ids are not the pool's."""
    expected = {
        "ConnectionPool",
        "ConnectionPoolMetrics",
        "Endpoint",
        "MemcachedHostAddress",
        "MemcachedUnixSocketPath",
        "PoolConfig",
        "endpoint_text",
    }
    assert expected <= set(emcache_pool.__all__)
    assert "node_id" not in emcache_pool.__all__


def test_errors_share_the_pool_error_base() -> None:
    """Every error of the package derives from PoolError."""
    from emcache_pool import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.PoolError)


def test_meta_support_is_public() -> None:
    """The facade checks a node with require_meta and maps MetaNotSupportedError."""
    from emcache_pool import errors

    assert "MetaNotSupportedError" in errors.__all__
    assert callable(emcache_pool.ConnectionPool.require_meta)
    assert isinstance(emcache_pool.ConnectionPool.meta_supported, property)
