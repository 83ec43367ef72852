"""The connector: opens a node's connections one at a time, backs off, and judges its health.

Strategy. One background task runs while the pool wants a connection (the pool says so through
``wants``). Each attempt goes through :func:`~emcache_pool._connect.connect`; a success is
handed to the pool, a failure too, and is followed by a backoff that doubles from 50 ms to 1 s
and resets after the next success.

Health. The node turns unhealthy after a failed attempt that left requests waiting with no
open connection, or after three failed attempts in a row with no open connection; it turns
healthy again at the first successful attempt. While unhealthy, the pool keeps asking for a
connection, so the node is retried in the background until it answers, even with no traffic.
The health callback runs synchronously and its errors are logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from emcache_pool._config import PoolConfig
from emcache_pool._connect import connect
from emcache_pool._connection import Connection
from emcache_pool._endpoints import Endpoint

__all__ = ["Connector"]

logger = logging.getLogger("emcache.pool")

_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 1.0
_UNHEALTHY_AFTER_FAILURES = 3

# Called with the error of a failed attempt; returns None when the node still has open
# connections (the failure says nothing about its health), else whether requests were failed.
AttemptFailed = Callable[[BaseException], "bool | None"]


class Connector:
    """Opens connections to one node in the background and tracks whether it is reachable.

    Args:
        endpoint: The node.
        config: How to open connections.
        label: The node, for messages.
        wants: Whether the pool wants one more connection now.
        connected: Takes each connection opened.
        failed: Told of each failed attempt (see ``AttemptFailed``).
        opened: Told of each transport opened, before its on-connect step.
        on_health_change: Called with the new health when it changes.

    Attributes:
        healthy: Whether the node is considered reachable.
        backing_off: Whether it waits between two failed attempts.
        last_error: The error of the last failed attempt, if any.
        created: Attempts that succeeded.
        created_with_error: Attempts that failed.
        latencies: Durations of the last 100 successful attempts, in seconds.
    """

    __slots__ = (
        "_config",
        "_connected",
        "_endpoint",
        "_failed",
        "_failures",
        "_label",
        "_loop",
        "_on_health_change",
        "_opened",
        "_task",
        "_wants",
        "backing_off",
        "created",
        "created_with_error",
        "healthy",
        "last_error",
        "latencies",
    )

    def __init__(
        self,
        endpoint: Endpoint,
        config: PoolConfig,
        label: str,
        *,
        wants: Callable[[], bool],
        connected: Callable[[Connection], None],
        failed: AttemptFailed,
        opened: Callable[[Connection], None],
        on_health_change: Callable[[bool], None] | None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._endpoint = endpoint
        self._config = config
        self._label = label
        self._wants = wants
        self._connected = connected
        self._failed = failed
        self._opened = opened
        self._on_health_change = on_health_change
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self.healthy = True
        self.backing_off = False
        self.last_error: BaseException | None = None
        self.created = 0
        self.created_with_error = 0
        self.latencies: deque[float] = deque(maxlen=100)

    @property
    def running(self) -> bool:
        """Whether the background task is running."""
        return self._task is not None and not self._task.done()

    def ensure(self) -> None:
        """Start the background task unless it runs already."""
        if not self.running:
            self._task = self._loop.create_task(
                self._run(), name=f"emcache-pool connector {self._label}"
            )

    def stop(self) -> None:
        """Cancel the background task (see :meth:`wait_stopped`)."""
        if self._task is not None:
            self._task.cancel()

    async def wait_stopped(self) -> None:
        """Wait until the background task has ended."""
        if self._task is not None and not self._task.done():
            await asyncio.wait([self._task])

    async def _run(self) -> None:
        delay = 0.0
        while self._wants():
            started = self._loop.time()
            try:
                conn = await connect(self._endpoint, self._config, opened=self._opened)
            except Exception as exc:
                self._attempt_failed(exc)
                delay = min(_MAX_BACKOFF, delay * 2) if delay else _FIRST_BACKOFF
                self.backing_off = True
                try:
                    await asyncio.sleep(delay)
                finally:
                    self.backing_off = False
                continue
            delay = 0.0
            self.latencies.append(self._loop.time() - started)
            self.created += 1
            self._failures = 0
            if not self.healthy:
                self._set_healthy(True)
            self._connected(conn)

    def _attempt_failed(self, exc: BaseException) -> None:
        self.created_with_error += 1
        self._failures += 1
        self.last_error = exc
        logger.debug("%s: connection attempt failed: %s", self._label, exc)
        had_waiters = self._failed(exc)
        if had_waiters is None:
            return  # the node still answers on the open connections
        if self.healthy and (had_waiters or self._failures >= _UNHEALTHY_AFTER_FAILURES):
            self._set_healthy(False)

    def _set_healthy(self, healthy: bool) -> None:
        self.healthy = healthy
        if healthy:
            logger.info("%s: node reachable again", self._label)
        else:
            logger.warning("%s: node unreachable: %s", self._label, self.last_error)
        if self._on_health_change is not None:
            try:
                self._on_health_change(healthy)
            except Exception:
                logger.exception("%s: health callback failed", self._label)
