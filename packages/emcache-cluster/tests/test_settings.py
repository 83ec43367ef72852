"""ClusterSettings: the defaults of the client, and settings refused with an error naming them."""

from __future__ import annotations

import pytest

from emcache_cluster import ClusterEvents, ClusterSettings
from emcache_hashing import Rendezvous
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
        ({"hasher_factory": "rendezvous"}, TypeError, "hasher_factory"),
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
