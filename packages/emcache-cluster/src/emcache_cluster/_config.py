"""The configuration of a :class:`~emcache_cluster.Cluster`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from emcache_cluster._events import ClusterEvents
from emcache_hashing import Hasher, Rendezvous
from emcache_pool import PoolConfig

__all__ = ["ClusterConfig", "HasherFactory"]

HasherFactory = Callable[[Sequence[str]], Hasher]
"""Builds a hasher over node ids; called again each time the routing set changes."""


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        msg = f"{attribute.name} must be > 0, got {value!r}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class ClusterConfig:
    """How the cluster builds its pools, routes keys and follows the node list.

    Attributes:
        pool: The configuration of each node's connection pool.
        purge_unhealthy_nodes: Leave nodes whose pool reports unhealthy out of
            routing until they report healthy again.
        events: Hooks told about health changes and nodes added or removed.
        autodiscovery: Treat the endpoints given to :meth:`Cluster.create` as
            configuration endpoints and poll them with ``config get cluster``.
        autodiscovery_poll_interval: Seconds between two polls.
        autodiscovery_timeout: Seconds one poll may take, connection included;
            also how long :meth:`Cluster.create` waits for the first discovery.
        hasher_factory: Builds the hasher from the node ids of the routing set,
            each time that set changes and holds two nodes or more (one node
            needs no hashing); the default routes keys exactly as emcache 1.x.
    """

    pool: PoolConfig
    purge_unhealthy_nodes: bool = False
    events: ClusterEvents | None = None
    autodiscovery: bool = False
    autodiscovery_poll_interval: float = attrs.field(default=60.0, validator=_positive)
    autodiscovery_timeout: float = attrs.field(default=5.0, validator=_positive)
    hasher_factory: HasherFactory = Rendezvous
