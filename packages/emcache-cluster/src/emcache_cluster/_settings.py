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

from collections.abc import Callable
from typing import Protocol

import attrs

from emcache_cluster._events import ClusterEvents
from emcache_hashing import Hasher, Rendezvous, Server
from emcache_pool import PoolConfig, positive_seconds

__all__ = ["ClusterSettings", "HasherFactory", "HasherTemplate", "is_hasher"]

HasherFactory = Callable[[list[Server]], Hasher]
"""Builds the hasher over the servers of the routing set, in the node table's order.

Called again each time that set changes. The hasher must name each node by its
:attr:`~emcache_hashing.Server.node_id`, the id the cluster knows its pool by.
Every hasher class of ``emcache_hashing`` is one.
"""


class HasherTemplate(Hasher[str], Protocol):
    """A hasher that builds its successor over a new server list, with its own options.

    Every hasher of ``emcache_hashing`` is one: ``Ketama([], key_hash="md5")``
    routes a cluster with md5 ketama, and servers it holds keep their weight.
    """

    def rebuild(self, servers: list[Server]) -> Hasher:
        """Return a new hasher, with this one's options, over ``servers`` in that order."""
        ...


def _hasher_factory_of(hashing: object) -> HasherFactory:
    """The factory that builds the cluster's hasher for the ``hashing`` setting.

    ``None`` gives :class:`~emcache_hashing.Rendezvous`, emcache 1.x's routing; a
    hasher instance (it has ``pick`` and ``pick_many``) is a template and gives
    its ``rebuild``; any other callable is the factory itself.

    Raises:
        TypeError: ``hashing`` is neither, or a hasher without ``rebuild``.
    """
    if hashing is None:
        return Rendezvous
    if not isinstance(hashing, type) and is_hasher(hashing):
        rebuild = getattr(hashing, "rebuild", None)
        if callable(rebuild):
            factory: HasherFactory = rebuild
            return factory
        msg = (
            f"hashing: {type(hashing).__name__} has pick and pick_many but no rebuild(servers), "
            "which the cluster calls each time its nodes change; give a hasher with rebuild, "
            "or a factory taking the list of Server values"
        )
        raise TypeError(msg)
    if callable(hashing):
        return hashing
    msg = (
        "hashing must be a hasher with rebuild(servers), such as emcache_hashing.Ketama([]), "
        f"or a callable building one from a list of Server values, got {type(hashing).__name__}"
    )
    raise TypeError(msg)


def is_hasher(value: object) -> bool:
    """Whether ``value`` has the two methods a cluster routes through."""
    return callable(getattr(value, "pick", None)) and callable(getattr(value, "pick_many", None))


_check_seconds = positive_seconds()


def _check_events(
    instance: object, attribute: attrs.Attribute[ClusterEvents | None], value: object
) -> None:
    if value is not None and not isinstance(value, ClusterEvents):
        msg = f"{attribute.name} must be a ClusterEvents instance, got {type(value).__name__}"
        raise TypeError(msg)


_Hashing = HasherTemplate | HasherFactory | None


def _check_hashing(instance: object, attribute: attrs.Attribute[_Hashing], value: object) -> None:
    _hasher_factory_of(value)


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
        hashing: How keys are spread over the routing set: ``None`` (the
            default) routes exactly as emcache 1.x; a hasher with
            ``rebuild(servers)`` (a :class:`HasherTemplate`, such as
            ``emcache_hashing.Ketama([])``) is rebuilt over the servers; any
            other callable is a :data:`HasherFactory` called with them. The
            hasher is built each time the routing set changes and holds two
            nodes or more (one node needs no hashing).

    Raises:
        TypeError: ``pool`` is not a :class:`~emcache_pool.PoolConfig`,
            ``cluster_events`` not a :class:`ClusterEvents`, a duration not a
            number, or ``hashing`` neither a hasher with ``rebuild`` nor callable.
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
    hashing: _Hashing = attrs.field(default=None, validator=_check_hashing)

    @property
    def hasher_factory(self) -> HasherFactory:
        """What builds the hasher over the servers of the routing set (see ``hashing``)."""
        return _hasher_factory_of(self.hashing)
