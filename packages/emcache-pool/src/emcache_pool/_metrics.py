"""A snapshot of what a connection pool did and is doing.

The pool only bumps integer counters on its hot path and samples one request latency in
:data:`LATENCY_SAMPLE_EVERY`; percentiles are computed when a snapshot is asked for.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

import attrs

__all__ = ["LATENCY_SAMPLE_EVERY", "ConnectionPoolMetrics", "RequestCounters", "percentiles"]

# One request in this many has its latency measured (a power of two: the test is a mask).
LATENCY_SAMPLE_EVERY = 32


@attrs.frozen(kw_only=True)
class ConnectionPoolMetrics:
    """How a :class:`~emcache_pool.ConnectionPool` has behaved so far, and its current load.

    Counters are totals since the pool was created. ``connections_created - connections_closed``
    is ``cur_connections`` (purged connections are counted as closed too), and
    ``operations_executed + operations_executed_with_error`` counts every finished request.

    Attributes:
        cur_connections: Connections open and serving requests now.
        connections_created: Connections opened successfully (on-connect step included).
        connections_created_with_error: Connection attempts that failed.
        connections_purged: Connections closed because they were idle too long.
        connections_closed: Connections that stopped serving, for any reason.
        operations_executed: Requests that got their reply (an error reply included).
            A ``noreply`` request counts when it is queued on a connection.
        operations_executed_with_error: Requests that raised (timeout, cancellation,
            connection errors, pool closed).
        operations_waited: Requests that had to wait for a connection to open.
        create_connection_avg: Mean time to open a connection over the last 100 attempts that
            succeeded, in seconds; ``None`` before the first.
        create_connection_p50: Median of the same.
        create_connection_p99: 99th percentile of the same.
        create_connection_upper: Maximum of the same.
        requests_in_flight: Requests queued or written whose reply has not been read, including
            those whose caller gave up (their replies are read and dropped).
        requests_waiting: Requests waiting for a connection to open.
        max_pipeline_depth: The most requests ever in flight on one connection after a write.
        operation_latency_p50: Median request latency in seconds, over a sample of recent
            requests (one in 32, the last 1024 sampled); ``None`` before any.
        operation_latency_p99: 99th percentile of the same.
    """

    cur_connections: int
    connections_created: int
    connections_created_with_error: int
    connections_purged: int
    connections_closed: int
    operations_executed: int
    operations_executed_with_error: int
    operations_waited: int
    create_connection_avg: float | None
    create_connection_p50: float | None
    create_connection_p99: float | None
    create_connection_upper: float | None
    requests_in_flight: int = 0
    requests_waiting: int = 0
    max_pipeline_depth: int = 0
    operation_latency_p50: float | None = None
    operation_latency_p99: float | None = None


class RequestCounters:
    """The request counters a pool bumps on its hot path (plain slots: no property, no call).

    Attributes:
        started: Requests sent on a connection and awaited (samples latency every
            :data:`LATENCY_SAMPLE_EVERY`).
        executed: Requests that got their reply (``noreply`` ones when queued).
        executed_with_error: Requests that raised.
        waited: Requests that had to wait for a connection to open.
        latencies: The last 1024 sampled request latencies, in seconds.
    """

    __slots__ = ("executed", "executed_with_error", "latencies", "started", "waited")

    def __init__(self) -> None:
        self.started = 0
        self.executed = 0
        self.executed_with_error = 0
        self.waited = 0
        self.latencies: deque[float] = deque(maxlen=1024)


def percentiles(values: Iterable[float], *quantiles: float) -> list[float | None]:
    """Return the nearest-rank percentile of ``values`` for each quantile in ``quantiles``.

    Args:
        values: Observations, in any order.
        quantiles: Fractions between 0 and 1 (0.5 is the median).

    Returns:
        One value per quantile, or ``None`` each when there is no observation.
    """
    ordered = sorted(values)
    if not ordered:
        return [None for _ in quantiles]
    last = len(ordered) - 1
    return [ordered[min(last, max(0, math.ceil(q * len(ordered)) - 1))] for q in quantiles]
