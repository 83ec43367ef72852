"""Observable instruments over the clients' pools and nodes.

Strategy. Nothing here is measured twice: the pools already count connections and
requests (:class:`~emcache_pool.ConnectionPoolMetrics`) and the cluster knows its nodes
and their health (:class:`~emcache_cluster.ClusterManagement`), so the instruments are
observable ones whose callbacks read those views when a metric reader collects. The
clients to read are the ones created while instrumented: ``Client.__init__`` is wrapped
to add each to :data:`_WATCHED` and ``Client.close`` to drop it.

A reader usually collects from a thread of its own, while the pools change on their
event loop's thread; a callback therefore reads a client's views on that loop (and
waits at most :data:`OBSERVE_TIMEOUT` for it), or right away when it already runs there.

The instruments read the module's registry, not an object of their own: the SDK hands
back the existing instrument (and drops the new callback) when an instrument is
created twice on one meter, which happens when a process instruments again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Awaitable, Callable, Iterable
from operator import attrgetter
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from emcache._client import Client
from emcache.otel._names import DB_SYSTEM_NAME, MEMCACHED, NODE_CHANGE, node_attributes
from emcache.otel._telemetry import Kind, Observable, create_observables
from emcache_cluster import ClusterManagement
from emcache_pool import ConnectionPoolMetrics, Endpoint

__all__ = ["OBSERVE_TIMEOUT", "closing", "create_instruments", "forget_all", "initialising"]

OBSERVE_TIMEOUT = 0.5
"""Seconds a collection waits for a client's event loop before leaving that client out."""


class _Watched:
    """A client whose pools and nodes are observed, and the node changes seen so far."""

    __slots__ = ("added", "known", "loop", "management", "removed")

    def __init__(self, management: ClusterManagement, loop: asyncio.AbstractEventLoop | None):
        self.management = management
        self.loop = loop
        self.known = set(management.nodes())
        self.added = 0
        self.removed = 0


# id(client) -> what is observed of it (a Client has no __weakref__ slot)
_WATCHED: dict[int, _Watched] = {}
_NodeState = tuple[Endpoint, bool, ConnectionPoolMetrics]


# -- the registry, fed by the wrappers of Client.__init__ and Client.close ----------------------
def initialising(original: Callable[..., None]) -> Callable[..., None]:
    """``Client.__init__``: watch every client created while instrumented."""

    @functools.wraps(original)
    def watched(self: Client, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        _WATCHED[id(self)] = _Watched(self._cluster.management, loop)

    return watched


def closing(original: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """``Client.close``: stop watching the client."""

    @functools.wraps(original)
    async def forgotten(self: Client) -> None:
        _WATCHED.pop(id(self), None)
        await original(self)

    return forgotten


def forget_all() -> None:
    """Stop watching every client (the instruments then observe nothing)."""
    _WATCHED.clear()


# -- reading the views --------------------------------------------------------------------------
def _read(watched: _Watched) -> list[_NodeState]:
    management = watched.management
    healthy = set(management.healthy_nodes())
    return [
        (endpoint, endpoint in healthy, metrics)
        for endpoint, metrics in management.connection_pool_metrics().items()
    ]


def _on_loop(loop: asyncio.AbstractEventLoop | None, read: Callable[[], Any]) -> Any:
    """``read()`` on ``loop``'s thread; right here when that is this thread or it is idle."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop is None or running is loop or not loop.is_running():
        return read()
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(read())
            except BaseException as exc:
                future.set_exception(exc)

    loop.call_soon_threadsafe(run)
    try:
        return future.result(timeout=OBSERVE_TIMEOUT)
    finally:
        future.cancel()


def _node_states() -> list[_NodeState]:
    states: list[_NodeState] = []
    for watched in list(_WATCHED.values()):
        try:
            states += _on_loop(watched.loop, functools.partial(_read, watched))
        except (TimeoutError, RuntimeError):  # loop busy or gone: left out of this collection
            continue
    return states


@functools.lru_cache(maxsize=1024)
def _attributes(endpoint: Endpoint) -> dict[str, str | int]:
    return {DB_SYSTEM_NAME: MEMCACHED, **node_attributes(endpoint)}


# -- callbacks ----------------------------------------------------------------------------------
def _per_node(read: Callable[[ConnectionPoolMetrics], int]) -> Callable[..., Iterable[Observation]]:
    """A callback observing ``read(metrics)`` per node, summed over clients sharing a node."""

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        totals: dict[Endpoint, int] = {}
        for endpoint, _, metrics in _node_states():
            totals[endpoint] = totals.get(endpoint, 0) + read(metrics)
        return [Observation(value, _attributes(endpoint)) for endpoint, value in totals.items()]

    return callback


def _node_up(options: CallbackOptions) -> Iterable[Observation]:
    up: dict[Endpoint, int] = {}
    for endpoint, healthy, _ in _node_states():
        up[endpoint] = min(up.get(endpoint, 1), int(healthy))
    return [Observation(value, _attributes(endpoint)) for endpoint, value in up.items()]


def _nodes(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(len(_node_states()), {DB_SYSTEM_NAME: MEMCACHED})]


def _node_changes(options: CallbackOptions) -> Iterable[Observation]:
    added = removed = 0
    for watched in list(_WATCHED.values()):
        try:
            nodes = set(_on_loop(watched.loop, watched.management.nodes))
        except (TimeoutError, RuntimeError):
            nodes = watched.known
        watched.added += len(nodes - watched.known)
        watched.removed += len(watched.known - nodes)
        watched.known = nodes
        added += watched.added
        removed += watched.removed
    return [
        Observation(added, {DB_SYSTEM_NAME: MEMCACHED, NODE_CHANGE: "added"}),
        Observation(removed, {DB_SYSTEM_NAME: MEMCACHED, NODE_CHANGE: "removed"}),
    ]


_CONNECTIONS = "{connection}"
_REQUESTS = "{request}"


def create_instruments(meter: Meter) -> None:
    """Create the observable instruments on ``meter`` (again is harmless)."""
    create_observables(meter, _instruments())


def _instruments() -> list[Observable]:
    per_node = [
        Observable(kind, f"emcache.pool.{name}", unit, description, _per_node(attrgetter(field)))
        for kind, name, unit, field, description in _PER_NODE
    ]
    return [
        *per_node,
        Observable(
            "gauge",
            "emcache.node.up",
            "1",
            "1 while the node reports healthy, 0 while unhealthy.",
            _node_up,
        ),
        Observable(
            "up_down_counter",
            "emcache.cluster.nodes",
            "{node}",
            "Nodes of the clients' clusters.",
            _nodes,
        ),
        Observable(
            "counter",
            "emcache.cluster.node.changes",
            "{node}",
            "Nodes added to or removed from a cluster (autodiscovery).",
            _node_changes,
        ),
    ]


# The per-node instruments, each reading one field of ConnectionPoolMetrics:
# (kind, name below emcache.pool., unit, field, description)
_PER_NODE: tuple[tuple[Kind, str, str, str, str], ...] = (
    (
        "up_down_counter",
        "connections",
        _CONNECTIONS,
        "cur_connections",
        "Connections open to the node.",
    ),
    (
        "counter",
        "connections.created",
        _CONNECTIONS,
        "connections_created",
        "Connections opened to the node (on-connect step included).",
    ),
    (
        "counter",
        "connections.failed",
        _CONNECTIONS,
        "connections_created_with_error",
        "Attempts to open a connection to the node that failed.",
    ),
    (
        "counter",
        "connections.closed",
        _CONNECTIONS,
        "connections_closed",
        "Connections to the node that stopped serving, purged ones included.",
    ),
    (
        "up_down_counter",
        "requests.in_flight",
        _REQUESTS,
        "requests_in_flight",
        "Requests written or queued on a connection whose reply is not read yet.",
    ),
    (
        "up_down_counter",
        "requests.waiting",
        _REQUESTS,
        "requests_waiting",
        "Requests waiting for a connection to the node to open.",
    ),
    (
        "counter",
        "requests.waited",
        _REQUESTS,
        "operations_waited",
        "Requests that had to wait for a connection to open.",
    ),
)
