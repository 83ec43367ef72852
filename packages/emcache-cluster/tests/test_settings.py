"""ClusterSettings: the defaults of the client, and settings refused with an error naming them."""

from __future__ import annotations

import pytest

from emcache_cluster import ClusterEvents, ClusterSettings
from emcache_hashing import Crc32Modulo, Ketama, Rendezvous, Server
from emcache_pool import PoolConfig


def test_cluster_settings_defaults_match_the_client_defaults():
    """Default pool, no purge, no events, no autodiscovery, 60 s polls of 5 s, rendezvous."""
    settings = ClusterSettings()
    assert settings.pool == PoolConfig()
    assert settings.purge_unhealthy_nodes is False
    assert settings.cluster_events is None
    assert settings.autodiscovery is False
    assert settings.autodiscovery_poll_interval == 60.0
    assert settings.autodiscovery_timeout == 5.0
    assert settings.hashing is None
    assert settings.hasher_factory is Rendezvous


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"autodiscovery_poll_interval": 0}, ValueError, "autodiscovery_poll_interval"),
        ({"autodiscovery_timeout": -1.0}, ValueError, "autodiscovery_timeout"),
        ({"autodiscovery_timeout": "5"}, TypeError, "autodiscovery_timeout"),
        ({"autodiscovery_poll_interval": True}, TypeError, "autodiscovery_poll_interval"),
        ({"cluster_events": object()}, TypeError, "cluster_events"),
        ({"pool": {"max_connections": 2}}, TypeError, "pool"),
        ({"hashing": "rendezvous"}, TypeError, "hashing must be a hasher"),
    ],
)
def test_cluster_settings_reject_bad_settings(settings, error, message):
    """A setting of the wrong type or out of range raises an error naming it."""
    with pytest.raises(error, match=message):
        ClusterSettings(**settings)


def test_cluster_settings_accept_a_cluster_events_subclass():
    """Hooks are any ClusterEvents instance, a subclass included."""

    class Hooks(ClusterEvents):
        pass

    hooks = Hooks()
    assert ClusterSettings(cluster_events=hooks).cluster_events is hooks


SERVERS = [Server("10.0.0.1", 11211), Server("10.0.0.2", 11212, weight=3)]


def test_cluster_settings_take_a_hasher_as_a_template():
    """A hasher instance is rebuilt over the cluster's servers, keeping its options."""
    template = Ketama([], key_hash="md5")
    built = ClusterSettings(hashing=template).hasher_factory(SERVERS)
    assert isinstance(built, Ketama)
    assert built.key_hash == "md5"
    assert built.servers == tuple(SERVERS)
    assert template.servers == ()


def test_cluster_settings_take_a_hasher_factory():
    """A class or any callable is called with the servers, in order."""
    assert ClusterSettings(hashing=Crc32Modulo).hasher_factory(SERVERS).nodes == (
        "10.0.0.111211",
        "10.0.0.211212",
    )

    def first_two(servers):
        return Rendezvous(servers[:2])

    assert ClusterSettings(hashing=first_two).hasher_factory is first_two


def test_cluster_settings_refuse_a_hasher_without_rebuild():
    """A hasher that cannot follow node changes is refused, saying what to give instead."""

    class Fixed:
        def pick(self, key):
            return "a11211"

        def pick_many(self, keys):
            return {"a11211": list(keys)}

    with pytest.raises(TypeError, match=r"Fixed has pick and pick_many but no rebuild"):
        ClusterSettings(hashing=Fixed())
    with pytest.raises(TypeError, match=r"hashing must be .* got str"):
        ClusterSettings(hashing="ketama")
