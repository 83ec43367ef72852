"""The cluster: one pool per node, key routing, health tracking and membership changes.

Routing state is three attributes rebuilt together, without an ``await`` in
between, whenever the routing set changes (a node added or removed, or a
health change while ``purge_unhealthy_nodes`` is on):

- ``_single``: the pool when exactly one node takes traffic (no hashing at all);
- ``_hasher`` and ``_pool_by_id``: the hasher over the servers of two or more
  nodes, in the node table's order, and the map from node id to pool;
- ``_routes``: the pools already picked for recent keys. Caches are read far
  more often than written and hot keys repeat, so a key is hashed once and then
  looked up in a dict. It is replaced by an empty one on every rebuild and
  emptied when it reaches ``_ROUTE_CACHE_SIZE`` keys (or when the keys of one
  ``pick_pools`` call would take it past that), so it never outlives the
  routing it caches nor grows much beyond the bound.

With no routable node both are empty and picking raises
:class:`ClusterNoAvailableNodes`. The hot path (:meth:`Cluster.pick_pool`,
:meth:`Cluster.pick_pools`) therefore only reads attributes and looks up a
dict; everything that allocates happens on the rare rebuild. Keys missing from
``_routes`` go to the hasher: one at a time through ``pick``, several at once
through ``pick_many``, which groups them as the hasher's own routing does.

A change never pauses traffic. The new hasher (a ketama continuum over 50
nodes takes a couple of milliseconds) is built first, while requests keep
using the old routing; only then is the routing state swapped, in one step, and
a hasher that fails to build leaves the cluster as it was. Autodiscovery
follows the same rule for the nodes it adds and removes.

The node table ``_nodes`` is mutated in place and never rebound: the
:class:`ClusterManagement` view reads it live. Its order is the order of the
endpoints given to :meth:`Cluster.create`, or of the last discovered node list,
and it is the order the hasher is given the servers in: modulo hashing routes
by position, and ketama breaks ties by it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable, Sequence

from emcache_cluster._autodiscovery import Autodiscovery
from emcache_cluster._events import ClusterManagement, EventDispatcher, Hook
from emcache_cluster._node import Node
from emcache_cluster._settings import ClusterSettings, is_hasher
from emcache_cluster.errors import AutodiscoveryError, ClusterNoAvailableNodes
from emcache_hashing import Hasher, Server
from emcache_pool import ConnectionPool, Endpoint, MemcachedHostAddress, endpoint_text

__all__ = ["Cluster"]

# Keys whose pool is remembered; at ~300 bytes per entry with the longest keys,
# the cache stays under 5 MB.
_ROUTE_CACHE_SIZE = 16384

logger = logging.getLogger("emcache.cluster")


class Cluster:
    """Nodes of one memcached cluster, each with its connection pool.

    Build it with :meth:`create`.

    Attributes:
        management: The read-only view handed to event hooks.
    """

    __slots__ = (
        "_autodiscovery",
        "_close_task",
        "_closed",
        "_dispatcher",
        "_draining",
        "_hasher",
        "_nodes",
        "_pool_by_id",
        "_routes",
        "_settings",
        "_single",
        "management",
    )

    def __init__(self, settings: ClusterSettings) -> None:
        """Use :meth:`create`; this only sets up empty state."""
        self._settings = settings
        self._nodes: dict[Endpoint, Node] = {}
        self._single: ConnectionPool | None = None
        self._hasher: Hasher | None = None
        self._pool_by_id: dict[str, ConnectionPool] = {}
        self._routes: dict[bytes, ConnectionPool] = {}
        self._draining: dict[asyncio.Task[None], ConnectionPool] = {}
        self._autodiscovery: Autodiscovery | None = None
        self._closed = False
        self._close_task: asyncio.Task[None] | None = None
        self.management = ClusterManagement(self._nodes)
        events = settings.cluster_events
        self._dispatcher = None if events is None else EventDispatcher(self.management)

    @classmethod
    async def create(cls, endpoints: Sequence[Endpoint], settings: ClusterSettings) -> Cluster:
        """Build a cluster over ``endpoints``.

        With autodiscovery, ``create`` waits at most ``settings.autodiscovery_timeout``
        for a node list. When no configuration endpoint gives one in time, a cache
        outage must not stop the application from starting: a warning is logged,
        the cluster starts with no nodes (routing raises
        :class:`ClusterNoAvailableNodes` carrying the reason) and keeps polling;
        the nodes are used as soon as an endpoint answers.

        Args:
            endpoints: The nodes, or with ``settings.autodiscovery`` the
                configuration endpoints to ask for the nodes.
            settings: How to build pools, route and follow the node list.

        Returns:
            The cluster, ready to route keys.

        Raises:
            ValueError: ``endpoints`` is empty, or two nodes have the same node id
                (``("10.0.0.1", 11211)`` and ``("10.0.0.11", 1211)`` are both
                ``"10.0.0.111211"``).
        """
        if not endpoints:
            msg = "endpoints must name at least one node"
            raise ValueError(msg)
        cluster = cls(settings)
        try:
            if settings.autodiscovery:
                await cluster._start_autodiscovery(endpoints)
            else:
                cluster._add_nodes(list(dict.fromkeys(endpoints)))
            cluster._rebuild_routing()
        except BaseException:
            await cluster.close()
            raise
        return cluster

    # -- hot path -------------------------------------------------------------
    def pick_pool(self, key: bytes) -> ConnectionPool:
        """Return the pool of the node that owns ``key``.

        Raises:
            ClusterNoAvailableNodes: No node takes traffic.
        """
        single = self._single
        if single is not None:
            return single
        routes = self._routes
        pool = routes.get(key)
        if pool is None:
            hasher = self._hasher
            if hasher is None:
                raise ClusterNoAvailableNodes(self._no_nodes_reason())
            pool = self._pool_by_id[hasher.pick(key)]
            if len(routes) >= _ROUTE_CACHE_SIZE:
                routes.clear()
            routes[key] = pool
        return pool

    def pick_pools(self, keys: Sequence[bytes]) -> dict[ConnectionPool, list[bytes]]:
        """Group ``keys`` by the pool of the node that owns each, keeping their order.

        Raises:
            ClusterNoAvailableNodes: No node takes traffic.
        """
        single = self._single
        if single is not None:
            return {single: list(keys)} if keys else {}
        hasher = self._hasher
        if hasher is None:
            raise ClusterNoAvailableNodes(self._no_nodes_reason())
        get_route = self._routes.get
        groups: dict[ConnectionPool, list[bytes]] = {}
        for key in keys:
            pool = get_route(key)
            if pool is None:
                # Route every key the cache lacks in one call, then group from the cache.
                self._route_many(hasher, keys)
                return self.pick_pools(keys)
            group = groups.get(pool)
            if group is None:
                groups[pool] = [key]
            else:
                group.append(key)
        return groups

    def _route_many(self, hasher: Hasher, keys: Sequence[bytes]) -> None:
        """Put the route of each of ``keys`` in the route cache, hashing only the missing ones.

        The hasher's ``pick_many`` picks them all in one call. A multi-key
        request whose keys are all cached costs about a tenth of one that
        hashes them (100 keys over 4 nodes), which is why the cache stays.
        """
        routes = self._routes
        missing = [key for key in keys if key not in routes]
        if len(routes) + len(missing) > _ROUTE_CACHE_SIZE:
            routes.clear()
            missing = list(keys)
        pool_by_id = self._pool_by_id
        for node, owned in hasher.pick_many(missing).items():
            pool = pool_by_id[node]
            for key in owned:
                routes[key] = pool

    def pool_for(self, endpoint: Endpoint) -> ConnectionPool:
        """Return the pool of the node at ``endpoint``, whether or not it takes traffic.

        Raises:
            KeyError: ``endpoint`` is not a node of this cluster.
        """
        node = self._nodes.get(endpoint)
        if node is None:
            msg = f"{endpoint_text(endpoint)} is not a node of this cluster"
            raise KeyError(msg)
        return node.pool

    # -- life cycle -----------------------------------------------------------
    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        healthy = len(self.management.healthy_nodes())
        state = "closed" if self._closed else "open"
        return f"<Cluster {state} nodes={len(self._nodes)} healthy={healthy}>"

    async def close(self) -> None:
        """Stop the poller and the event task and close every pool. Idempotent.

        The work runs in a task of its own, shielded from the caller: a caller cancelled
        while it waits (a shutdown deadline) does not leave sockets or tasks behind, and any
        later call waits for the same work to finish.
        """
        self._closed = True
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(
                self._close(), name="emcache-cluster close"
            )
        await asyncio.shield(self._close_task)

    async def _close(self) -> None:
        if self._autodiscovery is not None:
            await self._autodiscovery.close()
        if self._dispatcher is not None:
            await self._dispatcher.close()
        # Removed nodes still draining are closed too: close() fails what is in flight
        # on every pool alike, and each drain then ends at once.
        pools = [node.pool for node in self._nodes.values()]
        pools += self._draining.values()
        await asyncio.gather(*(pool.close() for pool in pools))
        await asyncio.gather(*self._draining, return_exceptions=True)

    # -- membership -----------------------------------------------------------
    async def _start_autodiscovery(self, config_endpoints: Sequence[Endpoint]) -> None:
        settings = self._settings
        self._autodiscovery = Autodiscovery(
            config_endpoints,
            settings.pool,
            interval=settings.autodiscovery_poll_interval,
            timeout=settings.autodiscovery_timeout,
            apply=self._apply_discovered,
        )
        try:
            self._add_nodes(await self._autodiscovery.first())
        except AutodiscoveryError as exc:
            logger.warning(
                "autodiscovery: %s; starting with no nodes, asking again every %g s",
                exc,
                settings.autodiscovery_poll_interval,
            )
        self._autodiscovery.start()

    def _add_nodes(self, endpoints: Sequence[Endpoint]) -> None:
        for endpoint in endpoints:
            node = Node(endpoint)
            self._start_pool(node)
            self._nodes[endpoint] = node

    def _start_pool(self, node: Node) -> None:
        node.pool = ConnectionPool(
            node.endpoint, self._settings.pool, functools.partial(self._on_health_change, node)
        )
        node.healthy = node.pool.healthy

    def _apply_discovered(self, endpoints: list[MemcachedHostAddress]) -> None:
        """Make the node table the discovered list, in its order, then swap the routing.

        The hasher over the new routing set is built before anything changes (a
        new pool starts healthy, so new nodes count as routable): if it raises,
        the cluster keeps its nodes and routing, and the poller logs why.
        """
        nodes = self._nodes
        if list(nodes) == endpoints:
            return
        added = {endpoint: Node(endpoint) for endpoint in endpoints if endpoint not in nodes}
        table: dict[Endpoint, Node] = {e: nodes.get(e) or added[e] for e in endpoints}
        removed = [node for endpoint, node in nodes.items() if endpoint not in table]
        routable = self._routable(table.values())
        hasher = self._build_hasher(routable)
        for node in added.values():
            self._start_pool(node)
        for node in removed:
            node.removed = True
        nodes.clear()
        nodes.update(table)
        self._install_routing(routable, hasher)
        self._announce(list(added), removed)

    def _announce(self, added: list[Endpoint], removed: list[Node]) -> None:
        """Drain the removed nodes' pools, log the change and emit its events."""
        for node in removed:
            task = asyncio.get_running_loop().create_task(node.pool.drain_and_close())
            self._draining[task] = node.pool
            task.add_done_callback(self._draining.pop)
        logger.info(
            "autodiscovery: added %s, removed %s",
            [endpoint_text(e) for e in added] or "none",
            [endpoint_text(n.endpoint) for n in removed] or "none",
        )
        events = self._settings.cluster_events
        if events is not None:
            for endpoint in added:
                self._emit(events.on_node_added, endpoint)
            for node in removed:
                self._emit(events.on_node_removed, node.endpoint)

    # -- health ---------------------------------------------------------------
    def _on_health_change(self, node: Node, healthy: bool) -> None:
        if node.removed or self._closed or node.healthy == healthy:
            return
        node.healthy = healthy
        if healthy:
            logger.info("node %s reports healthy", endpoint_text(node.endpoint))
        else:
            logger.warning("node %s reports unhealthy", endpoint_text(node.endpoint))
        if self._settings.purge_unhealthy_nodes:
            self._rebuild_routing()
        events = self._settings.cluster_events
        if events is not None:
            hook = events.on_node_healthy if healthy else events.on_node_unhealthy
            self._emit(hook, node.endpoint)

    def _emit(self, hook: Hook, endpoint: Endpoint) -> None:
        if self._dispatcher is not None:
            self._dispatcher.put(hook, endpoint)

    # -- routing --------------------------------------------------------------
    def _rebuild_routing(self) -> None:
        routable = self._routable(self._nodes.values())
        self._install_routing(routable, self._build_hasher(routable))

    def _routable(self, nodes: Iterable[Node]) -> list[Node]:
        purge = self._settings.purge_unhealthy_nodes
        return [node for node in nodes if node.healthy or not purge]

    def _build_hasher(self, routable: Sequence[Node]) -> Hasher | None:
        """The hasher over ``routable``, or None when one node or none needs no hashing.

        Raises:
            TypeError: The ``hashing`` setting built something that is not a hasher.
            ValueError: Two nodes have the same node id.
        """
        if len(routable) < 2:
            return None
        _check_node_ids(routable)
        servers: list[Server] = [node.server for node in routable]
        hasher = self._settings.hasher_factory(servers)
        if not is_hasher(hasher):
            msg = f"hashing built {hasher!r}, which has no pick and pick_many: not a hasher"
            raise TypeError(msg)
        return hasher

    def _install_routing(self, routable: Sequence[Node], hasher: Hasher | None) -> None:
        """Swap in the routing over ``routable``; routes cached under the old one are dropped."""
        self._single = routable[0].pool if len(routable) == 1 else None
        self._hasher = hasher
        self._pool_by_id = {node.node_id: node.pool for node in routable}
        self._routes = {}
        logger.debug(
            "routing over %d of %d nodes: %s",
            len(routable),
            len(self._nodes),
            [endpoint_text(node.endpoint) for node in routable],
        )

    def _no_nodes_reason(self) -> str:
        if self._closed:
            return "the cluster is closed"
        if not self._nodes:
            discovery = self._autodiscovery
            if discovery is not None and discovery.version is None and discovery.last_failure:
                return f"autodiscovery has found no nodes yet: {discovery.last_failure}"
            return "the cluster has no nodes"
        return (
            f"no node can take the key: all {len(self._nodes)} nodes are unhealthy "
            "and purge_unhealthy_nodes is on"
        )


def _check_node_ids(nodes: Iterable[Node]) -> None:
    """Raise when two distinct endpoints share a node id, naming both and the rule."""
    seen: dict[str, Node] = {}
    for node in nodes:
        other = seen.setdefault(node.node_id, node)
        if other is not node:
            msg = (
                f"nodes {endpoint_text(other.endpoint)} and {endpoint_text(node.endpoint)} both "
                f"have node id {node.node_id!r} (emcache 1.x's rule: host + port without "
                "separator), so no hasher can tell them apart; name one of them differently, "
                "for instance by a host name or another IP address of the same server"
            )
            raise ValueError(msg)
