"""Cluster events: the user's hooks, the read-only view they receive, and their dispatcher.

Health changes are reported by the pools synchronously, from inside their own
I/O code; a user hook must never run there. The cluster only puts an item on
a bounded queue, and one task takes the items off in order and awaits the hook
of each, one at a time. So hooks see the events in the order they happened,
never run concurrently with each other, and a slow hook delays later events
but never a request. When the queue is full the oldest event is dropped and a
warning is logged: the newest state of a node matters more than its history.
A hook that raises is logged and the next event is dispatched as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from emcache_cluster._node import Node
from emcache_pool import ConnectionPoolMetrics, Endpoint

__all__ = ["EVENT_QUEUE_SIZE", "ClusterEvents", "ClusterManagement", "EventDispatcher"]

logger = logging.getLogger("emcache.cluster")

EVENT_QUEUE_SIZE = 1024
"""Events waiting for their hook beyond this many drop the oldest one."""


class ClusterManagement:
    """A read-only view of the cluster, handed to every event hook.

    It reads the live node table, so a hook always sees the current state,
    which may already be newer than the event it is handling.
    """

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Mapping[Endpoint, Node]) -> None:
        self._nodes = nodes

    def nodes(self) -> list[Endpoint]:
        """Return the endpoints of every node of the cluster."""
        return list(self._nodes)

    def healthy_nodes(self) -> list[Endpoint]:
        """Return the endpoints of the nodes whose pool reports healthy."""
        return [endpoint for endpoint, node in self._nodes.items() if node.healthy]

    def unhealthy_nodes(self) -> list[Endpoint]:
        """Return the endpoints of the nodes whose pool reports unhealthy."""
        return [endpoint for endpoint, node in self._nodes.items() if not node.healthy]

    def connection_pool_metrics(self) -> dict[Endpoint, ConnectionPoolMetrics]:
        """Return the connection pool metrics of every node, by endpoint."""
        return {endpoint: node.pool.metrics() for endpoint, node in self._nodes.items()}


class ClusterEvents:
    """Hooks called when a node changes; subclass and override the ones you need.

    Every hook is a coroutine receiving the :class:`ClusterManagement` view and
    the endpoint of the node concerned. The defaults do nothing.
    """

    async def on_node_healthy(self, cluster_management: ClusterManagement, host: Endpoint) -> None:
        """Called when a node reports healthy after having reported unhealthy."""

    async def on_node_unhealthy(
        self, cluster_management: ClusterManagement, host: Endpoint
    ) -> None:
        """Called when a node reports unhealthy."""

    async def on_node_added(self, cluster_management: ClusterManagement, host: Endpoint) -> None:
        """Called when autodiscovery adds a node to the cluster."""

    async def on_node_removed(self, cluster_management: ClusterManagement, host: Endpoint) -> None:
        """Called when autodiscovery removes a node from the cluster."""


Hook = Callable[[ClusterManagement, Endpoint], Awaitable[None]]


class EventDispatcher:
    """Runs event hooks in order, one at a time, from a single task."""

    def __init__(self, management: ClusterManagement, *, maxsize: int = EVENT_QUEUE_SIZE) -> None:
        self._management = management
        self._queue: asyncio.Queue[tuple[Hook, Endpoint]] = asyncio.Queue(maxsize)
        self._task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(
            self._run(), name="emcache_cluster events"
        )

    def put(self, hook: Hook, endpoint: Endpoint) -> None:
        """Queue ``hook(management, endpoint)``; drop the oldest queued event if full."""
        if self._task is None:
            return
        if self._queue.full():
            dropped_hook, dropped_endpoint = self._queue.get_nowait()
            logger.warning(
                "cluster event queue is full (%d events): dropped %s for %r",
                self._queue.maxsize,
                getattr(dropped_hook, "__name__", dropped_hook),
                dropped_endpoint,
            )
        self._queue.put_nowait((hook, endpoint))

    async def close(self) -> None:
        """Stop the task; events still queued are dropped. Idempotent."""
        task, self._task = self._task, None
        if task is None or task is asyncio.current_task():
            # Closed from inside a hook: the loop ends once that hook returns.
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while self._task is not None:
            hook, endpoint = await self._queue.get()
            try:
                await hook(self._management, endpoint)
            except Exception:
                logger.exception(
                    "cluster event hook %s raised for %r; later events still run",
                    getattr(hook, "__qualname__", hook),
                    endpoint,
                )
