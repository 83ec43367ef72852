"""The public surface of emcache_cluster."""

import emcache_cluster


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, listed once."""
    for name in emcache_cluster.__all__:
        assert hasattr(emcache_cluster, name), name
    assert len(set(emcache_cluster.__all__)) == len(emcache_cluster.__all__)


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache_cluster.__version__, str)
    assert emcache_cluster.__version__.count(".") == 2


def test_contract_names_are_exported() -> None:
    """The names the facade and users import are all there."""
    expected = {
        "AutodiscoveryError",
        "Cluster",
        "ClusterError",
        "ClusterEvents",
        "ClusterManagement",
        "ClusterNoAvailableNodes",
        "ClusterSettings",
        "HasherFactory",
        "HasherTemplate",
    }
    assert expected <= set(emcache_cluster.__all__)
    assert issubclass(emcache_cluster.ClusterNoAvailableNodes, emcache_cluster.ClusterError)
    assert issubclass(emcache_cluster.AutodiscoveryError, emcache_cluster.ClusterError)


def test_no_available_nodes_is_a_cache_unavailable_error() -> None:
    """ClusterNoAvailableNodes is both a cluster error and the shared "cache unavailable" base."""
    assert issubclass(
        emcache_cluster.ClusterNoAvailableNodes, emcache_cluster.CacheUnavailableError
    )
    assert issubclass(emcache_cluster.ClusterNoAvailableNodes, emcache_cluster.ClusterError)
    assert not issubclass(emcache_cluster.AutodiscoveryError, emcache_cluster.CacheUnavailableError)
