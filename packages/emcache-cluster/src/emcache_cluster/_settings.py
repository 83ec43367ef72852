"""The settings of a :class:`~emcache_cluster.Cluster`: defaults and validation, in one place.

The layers above build a :class:`ClusterSettings` (and the
:class:`~emcache_pool.PoolConfig` inside it) rather than checking these
settings themselves, so the defaults below are the client's defaults and an
invalid setting fails when the settings are built, with a :class:`TypeError`
or :class:`ValueError` naming it. The field names are those of the client's
options.

Not to be confused with the configuration a ``config get cluster`` endpoint
answers (``emcache_protocol``'s reply), which autodiscovery reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from emcache_cluster._events import ClusterEvents
from emcache_hashing import Hasher, Rendezvous
from emcache_pool import PoolConfig

__all__ = ["ClusterSettings", "HasherFactory"]

HasherFactory = Callable[[Sequence[str]], Hasher]
"""Builds a hasher over node ids; called again each time the routing set changes."""


def _check_seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        msg = f"{attribute.name} must be a number of seconds, got {type(value).__name__}"
        raise TypeError(msg)
    if not value > 0:
        msg = f"{attribute.name} must be greater than 0, got {value!r}"
        raise ValueError(msg)


def _check_events(
    instance: object, attribute: attrs.Attribute[ClusterEvents | None], value: object
) -> None:
    if value is not None and not isinstance(value, ClusterEvents):
        msg = f"{attribute.name} must be a ClusterEvents instance, got {type(value).__name__}"
        raise TypeError(msg)


@attrs.frozen(kw_only=True)
class ClusterSettings:
    """How the cluster builds its pools, routes keys and follows the node list.

    Attributes:
        pool: The configuration of each node's connection pool.
        purge_unhealthy_nodes: Leave nodes whose pool reports unhealthy out of
            routing until they report healthy again.
        cluster_events: Hooks told about health changes and nodes added or removed.
        autodiscovery: Treat the endpoints given to :meth:`Cluster.create` as
            configuration endpoints and poll them with ``config get cluster``.
        autodiscovery_poll_interval: Seconds between two polls.
        autodiscovery_timeout: Seconds one poll may take, connection included;
            also how long :meth:`Cluster.create` waits for the first discovery.
        hasher_factory: Builds the hasher from the node ids of the routing set,
            each time that set changes and holds two nodes or more (one node
            needs no hashing); the default routes keys exactly as emcache 1.x.

    Raises:
        TypeError: ``pool`` is not a :class:`~emcache_pool.PoolConfig`,
            ``cluster_events`` not a :class:`ClusterEvents`, a duration not a
            number, or ``hasher_factory`` not callable.
        ValueError: A duration is not greater than 0.
    """

    pool: PoolConfig = attrs.field(
        factory=PoolConfig, validator=attrs.validators.instance_of(PoolConfig)
    )
    purge_unhealthy_nodes: bool = False
    cluster_events: ClusterEvents | None = attrs.field(default=None, validator=_check_events)
    autodiscovery: bool = False
    autodiscovery_poll_interval: float = attrs.field(default=60.0, validator=_check_seconds)
    autodiscovery_timeout: float = attrs.field(default=5.0, validator=_check_seconds)
    hasher_factory: HasherFactory = attrs.field(
        default=Rendezvous, validator=attrs.validators.is_callable()
    )
