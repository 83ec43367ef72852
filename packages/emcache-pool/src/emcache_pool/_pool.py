"""A pool of pipelined connections to one memcached node: dispatch and waiters.

Fairness. A request never waits for a connection to become free: it is queued at once on the
open connection with the fewest requests in flight, and each connection answers in order. So
a request only ever waits behind requests made before it, whatever the number of callers.
Only when no connection is open do requests wait, in a FIFO that is served in order as soon
as one opens.

Growth. Pipelining is what makes a connection cheap: one write and one read carry the
requests of many callers, so each extra connection splits those batches and costs CPU per
request. A connection is added (in the background, up to ``max_connections``; requests keep
flowing to the open ones meanwhile) when even the least loaded one has a deep pipeline:
``_GROW_DEPTH`` requests in flight with one connection open, and twice as many for each
connection open beyond it (8, 16, 32, ...). So ``n`` connections take about
``n * _GROW_DEPTH << (n - 1)`` requests in flight (8, 32, 96, 256, ...) before one more is
opened: 32 callers share 2 connections and 256 share 4, whatever ``max_connections`` allows,
while a burst, or requests piling up behind a slow or hung connection, still open more. A
connection on which a request timed out takes no new requests (see below), which also makes
the pool open another.

Shrinking. Every ``_SHRINK_CHECK`` seconds while more than one connection serves, the pool
looks at the deepest least-loaded pipeline it saw since the last check: if that many requests
per connection, spread over one connection less, would not have asked for a new one, the
newest connection is released (it takes no new requests and closes once its replies are in,
never going below ``min_connections``). So the connections a burst opened go once the load
is steady again, instead of splitting its batches for as long as it lasts. With
``purge_unused_connections_after=None`` nothing is closed for being unused, this included.

The pool is this dispatcher plus three parts it owns:

* the :class:`~emcache_pool._connector.Connector` opens connections, backs off while the node
  is unreachable and judges its health; while no connection is open, a failed attempt fails
  the waiting requests at once, and requests made during the backoff fail at once too, so an
  unreachable node answers fast instead of at each caller's timeout;
* the :class:`~emcache_pool._connections.ConnectionSet` holds the open connections, sets aside
  those on which a request timed out, abandons silent ones and purges idle ones;
* the :class:`~emcache_pool._timeouts.DeadlineQueue` expires requests; a timed-out or
  cancelled request stays in flight on its connection, whose reply is read and dropped.

Order of writes to one key. A request given a ``key`` whose caller gave up (a timeout, a
cancellation, ``noreply``) pins that key to its connection until its reply arrives, so the
caller's next write to the key cannot overtake it on another connection (see
:mod:`emcache_pool._order`).
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from emcache_pool._config import PoolConfig
from emcache_pool._connection import Connection
from emcache_pool._connections import ConnectionSet
from emcache_pool._connector import Connector
from emcache_pool._endpoints import Endpoint, endpoint_text
from emcache_pool._meta import MetaSupport
from emcache_pool._metrics import (
    LATENCY_SAMPLE_EVERY,
    ConnectionPoolMetrics,
    RequestCounters,
    percentiles,
)
from emcache_pool._order import KeyPins, Keys
from emcache_pool._timeouts import DeadlineQueue
from emcache_pool.errors import PoolClosedError
from emcache_protocol import ErrorReply, Request

__all__ = ["ConnectionPool"]

_GROW_DEPTH = 8
_SHRINK_CHECK = 0.5
_DRAIN_POLL = 0.005
_SAMPLE_MASK = LATENCY_SAMPLE_EVERY - 1

T = TypeVar("T")

# (waiter, request, noreply, dispatched_to): the last item is filled with the connection the
# request is dispatched to, for timeouts and pins.
_Waiter: TypeAlias = tuple["asyncio.Future[Any]", "Request[Any]", bool, list[Connection]]


class ConnectionPool:
    """Pipelined connections to one memcached node, shared fairly by every caller.

    Must be created inside a running event loop; it starts opening ``min_connections`` in the
    background right away.

    Args:
        endpoint: The node.
        config: How to open, grow and trim connections.
        on_health_change: Called with ``False`` when the node turns unreachable and ``True``
            when it is reachable again.

    Attributes:
        endpoint: The node.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        config: PoolConfig,
        on_health_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.endpoint = endpoint
        self._config = config
        self._label = label = endpoint_text(endpoint)
        self._conns = ConnectionSet(
            config, label, on_closed=self._connection_closed, on_ready=self._dispatch_waiters
        )
        self._ready = self._conns.ready  # the same list: the hot path reads it directly
        self._connector = Connector(
            endpoint,
            config,
            label,
            wants=self._wants_connection,
            connected=self._connected,
            failed=self._attempt_failed,
            opened=self._conns.retire,
            on_health_change=on_health_change,
        )
        self._waiters: deque[_Waiter] = deque()
        self._deadlines = DeadlineQueue(self._loop, self._request_timed_out)
        self._counters = RequestCounters()
        self._pins = KeyPins()
        self._pinned = self._pins.pins  # the same dict: empty unless a key is pinned
        self._max_connections = config.max_connections
        self._meta = MetaSupport(label)
        self._grow = False
        self._peak = 0  # the deepest least loaded pipeline seen since the last shrink check
        self._shrink_handle: asyncio.TimerHandle | None = None
        self._closing = False
        self._closed = False
        if config.min_connections > 0:
            self._connector.ensure()

    def __repr__(self) -> str:
        return (
            f"<ConnectionPool {self._label} connections={len(self._conns)}"
            f" healthy={self.healthy} closed={self._closed}>"
        )

    @property
    def healthy(self) -> bool:
        """Whether the node is considered reachable."""
        return self._connector.healthy

    @property
    def meta_supported(self) -> bool | None:
        """Whether the node speaks the meta commands; ``None`` until :meth:`require_meta` knows."""
        return self._meta.supported

    async def require_meta(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Make sure the node speaks the meta commands before a meta request is sent to it.

        The first call asks the node (``mn``, then ``version``) and the answer is kept: later
        calls return at once, or raise at once. Send no meta request to a node before this
        returned: a server without them would read an ``ms`` data block as a command and
        answer one request twice.

        Args:
            timeout: Seconds to wait for the check; ``None`` waits forever.

        Raises:
            MetaNotSupportedError: The node does not speak the meta commands of memcached
                1.6.10 or later.
            TimeoutError: The check did not finish in time (the next call tries again).
            ConnectError: No connection is open and none could be opened.
            PoolClosedError: The pool is closed or draining.
        """
        if self._meta.supported:
            return
        await self._meta.require(self, timeout)

    async def __aenter__(self) -> ConnectionPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------------------

    async def execute(
        self,
        request: Request[T],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - per request, not per call
        key: Keys | None = None,
    ) -> T | ErrorReply:
        """Send one request to the node and return its reply.

        Args:
            request: The request, as produced by an ``emcache_protocol`` encoder.
            timeout: Seconds to wait for the reply, waiting for a connection included;
                ``None`` waits forever.
            key: The key a write applies to, or the keys of a write to many (a quiet meta
                batch). Requests given the same key are never reordered on the wire after
                their caller gave up on them (see the module).

        Returns:
            The typed reply of the request, or the :class:`~emcache_protocol.ErrorReply`
            the node sent instead.

        Raises:
            TimeoutError: No reply within ``timeout``.
            ConnectError: No connection is open and none could be opened.
            ConnectionLostError: The connection closed before the reply arrived.
            ServerProtocolError: The node sent bytes that do not fit; the connection closed.
            PoolClosedError: The pool is closed or draining.
        """
        # _connection_for, inlined: this is the hot path of every request.
        if self._closing:
            raise PoolClosedError(f"connection pool of {self._label} is closed")
        conn = self._pins.connection_for(key) if key is not None and self._pinned else None
        if conn is None:
            ready = self._ready
            if not ready:
                return await self._execute_waiting(request, timeout, False, key)
            conn = self._pick(ready)
        fut: asyncio.Future[T | ErrorReply] = self._loop.create_future()
        conn.enqueue(request, fut)
        if timeout is not None:
            self._deadlines.add(fut, timeout, conn)
        counters = self._counters
        counters.started = started = counters.started + 1
        try:
            if started & _SAMPLE_MASK:
                reply = await fut
            else:
                reply = await self._timed(fut)
        except BaseException:
            self._op_failed(fut)
            if key is not None:
                self._pins.pin_given_up(key, conn, fut)
            raise
        counters.executed += 1
        return reply

    async def execute_noreply(self, request: Request[Any], *, key: Keys | None = None) -> None:
        """Send one request without waiting for its reply, which is read and dropped.

        This is emcache's one notion of ``noreply``: the request goes out as any other (the
        ``noreply`` token of the text protocol is never sent, since memcached still answers
        some errors of such requests and a pipelined stream would lose its place), and the
        caller does not wait for the server. It still waits for a connection to open, and
        while the connection has too much queued to write.

        Args:
            request: The request, as produced by an ``emcache_protocol`` encoder.
            key: As for :meth:`execute`: a later write to the same key never overtakes it.

        Raises:
            ConnectError: No connection is open and none could be opened.
            PoolClosedError: The pool is closed or draining.
        """
        conn = self._connection_for(key)
        if conn is None:
            await self._execute_waiting(request, None, True, key)
            return
        conn.enqueue(request, None)
        if key is not None:
            self._pins.pin_last(key, conn)
        self._counters.executed += 1
        if conn.needs_drain:
            await conn.drain()

    def submit(
        self, request: Request[T], *, timeout: float | None = None
    ) -> asyncio.Future[T | ErrorReply]:
        """Send one request and return the future of its reply, without a coroutine.

        For callers that already run in a loop callback and want the reply in a done
        callback (the facade's autobatching): no task is created when a connection is
        open, which saves the loop iterations a task needs to start and to finish. The
        future fails like :meth:`execute` does; with no open connection the request
        goes through :meth:`execute` in a task, which is returned.
        """
        ready = self._ready
        if self._closing or not ready:
            coro = self.execute(request, timeout=timeout)
            return self._loop.create_task(coro)
        conn = self._pick(ready)
        fut: asyncio.Future[T | ErrorReply] = self._loop.create_future()
        conn.enqueue(request, fut)
        if timeout is not None:
            self._deadlines.add(fut, timeout, conn)
        fut.add_done_callback(self._count_submitted)
        return fut

    def _connection_for(self, key: Keys | None) -> Connection | None:
        """The connection a request goes to now (``None``: it must wait for one to open)."""
        if self._closing:
            raise PoolClosedError(f"connection pool of {self._label} is closed")
        if key is not None and self._pinned:
            pinned = self._pins.connection_for(key)
            if pinned is not None:
                return pinned
        ready = self._ready
        return self._pick(ready) if ready else None

    def _pick(self, ready: list[Connection]) -> Connection:
        """The least loaded connection; asks for one more when even that one is deep."""
        # Depths are read from the connection's queue itself rather than through its
        # in_flight property: this runs for every request.
        best = ready[0]
        depth = len(best._pending)
        if depth:
            for conn in ready:
                conn_depth = len(conn._pending)
                if conn_depth < depth:
                    best, depth = conn, conn_depth
                    if not depth:
                        return best
            if depth > self._peak:
                self._peak = depth
            count = len(ready)
            if depth >= _GROW_DEPTH << (count - 1) and count < self._max_connections:
                self._maybe_grow()  # also from inside the connector: it then goes on
        return best

    def _maybe_grow(self) -> None:
        if len(self._conns) < self._config.max_connections and not self._closing:
            self._grow = True
            self._connector.ensure()

    def _count_submitted(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            self._counters.executed_with_error += 1
        else:
            self._counters.executed += 1

    async def _timed(self, fut: asyncio.Future[T]) -> T:
        start = self._loop.time()
        reply = await fut
        self._counters.latencies.append(self._loop.time() - start)
        return reply

    def _op_failed(self, fut: asyncio.Future[Any]) -> None:
        self._counters.executed_with_error += 1
        if fut.done() and not fut.cancelled():
            fut.exception()  # retrieved: a cancelled caller must not leave it to the logs

    # -- waiting for a connection -----------------------------------------------------------

    async def _execute_waiting(
        self,
        request: Request[T],
        timeout: float | None,  # noqa: ASYNC109 - per request, not per call
        noreply: bool,
        key: Keys | None,
    ) -> T | ErrorReply:
        connector = self._connector
        if connector.backing_off and connector.last_error is not None:
            self._counters.executed_with_error += 1
            # Yield once: a caller retrying in a loop must not starve the event loop.
            await asyncio.sleep(0)
            raise _fresh(connector.last_error)
        fut: asyncio.Future[T | ErrorReply] = self._loop.create_future()
        dispatched_to: list[Connection] = []
        self._waiters.append((fut, request, noreply, dispatched_to))
        self._counters.waited += 1
        connector.ensure()
        if timeout is not None:
            self._deadlines.add(fut, timeout, dispatched_to)
        try:
            reply = await fut
        except BaseException:
            self._op_failed(fut)
            if key is not None and dispatched_to:
                self._pins.pin_given_up(key, dispatched_to[0], fut)
            raise
        if noreply and key is not None and dispatched_to:
            self._pins.pin_last(key, dispatched_to[0])
        self._counters.executed += 1
        return reply

    def _dispatch_waiters(self) -> None:
        waiters = self._waiters
        ready = self._ready
        while waiters and ready:
            fut, request, noreply, dispatched_to = waiters.popleft()
            if fut.done():
                continue  # timed out or cancelled while waiting: never sent
            conn = self._pick(ready)
            conn.enqueue(request, None if noreply else fut)
            dispatched_to.append(conn)
            if noreply:
                fut.set_result(None)

    def _fail_waiters(self, error_factory: Callable[[], BaseException]) -> bool:
        failed = False
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()[0]
            if not fut.done():
                fut.set_exception(error_factory())
                failed = True
        return failed

    # -- what the parts report --------------------------------------------------------------

    def _wants_connection(self) -> bool:
        if self._closed:
            return False
        if len(self._conns) >= self._config.max_connections:
            return False
        if self._waiters:
            return True
        if self._closing:
            return False
        # An unhealthy node is retried in the background (with backoff) until it answers,
        # so that it turns healthy again even if nobody sends it requests meanwhile.
        count = len(self._ready)
        return count < self._config.min_connections or self._grow or not self.healthy

    def _connected(self, conn: Connection) -> None:
        self._conns.add(conn)
        self._grow = False
        self._dispatch_waiters()
        self._peak = 0
        if self._shrink_handle is None and self._config.purge_unused_connections_after is not None:
            self._shrink_handle = self._loop.call_later(_SHRINK_CHECK, self._check_shrink)

    def _check_shrink(self) -> None:
        """Release the newest connection when the load did not need it since the last check."""
        self._shrink_handle = None
        ready = self._ready
        count = len(ready)
        if self._closing or count <= 1:
            return
        # Spread over one connection less, the deepest pipeline seen would still not have
        # asked for this one (see the module).
        if count > self._config.min_connections and self._peak * count < _capacity(count - 1):
            self._conns.set_aside(ready[-1], release=True)
        self._peak = 0
        if len(ready) > 1:
            self._shrink_handle = self._loop.call_later(_SHRINK_CHECK, self._check_shrink)

    def _attempt_failed(self, exc: BaseException) -> bool | None:
        if self._ready:
            return None  # the node still answers on the open connections
        return self._fail_waiters(lambda: _fresh(exc))

    def _connection_closed(self, conn: Connection) -> None:
        if self._wants_connection():
            self._connector.ensure()

    def _request_timed_out(self, holder: Connection | list[Connection]) -> None:
        """A request timed out on a connection: send nothing more there until it catches up."""
        if isinstance(holder, list):
            if not holder:
                return  # it timed out waiting for a connection
            holder = holder[0]
        if self._closed or not self._conns.set_aside(holder):
            return
        if self._wants_connection():
            self._connector.ensure()

    # -- metrics ----------------------------------------------------------------------------

    def metrics(self) -> ConnectionPoolMetrics:
        """Return a snapshot of the pool's counters and current load."""
        connector = self._connector
        counters = self._counters
        conns = self._conns
        created = list(connector.latencies)
        create_p50, create_p99 = percentiles(created, 0.5, 0.99)
        op_p50, op_p99 = percentiles(counters.latencies, 0.5, 0.99)
        live = conns.live
        return ConnectionPoolMetrics(
            cur_connections=len(live),
            connections_created=connector.created,
            connections_created_with_error=connector.created_with_error,
            connections_purged=conns.purged,
            connections_closed=conns.closed,
            operations_executed=counters.executed,
            operations_executed_with_error=counters.executed_with_error,
            operations_waited=counters.waited,
            create_connection_avg=sum(created) / len(created) if created else None,
            create_connection_p50=create_p50,
            create_connection_p99=create_p99,
            create_connection_upper=max(created) if created else None,
            requests_in_flight=sum(conn.in_flight for conn in live),
            requests_waiting=sum(1 for waiter in self._waiters if not waiter[0].done()),
            max_pipeline_depth=max([conns.max_depth, *(conn.max_depth for conn in live)]),
            operation_latency_p50=op_p50,
            operation_latency_p99=op_p99,
        )

    # -- closing ----------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the pool: stop background work and close every connection.

        Requests waiting for a connection and requests in flight fail with
        :class:`~emcache_pool.errors.PoolClosedError`; later requests too. Waits until every
        transport is closed. Safe to call more than once, and completable: everything that
        stops the pool happens before the first ``await``, and a call interrupted while it
        waits (cancelled by a shutdown deadline, say) leaves the waiting to the next call.
        """
        self._closing = True
        if not self._closed:
            self._closed = True
            self._connector.stop()
            if self._shrink_handle is not None:
                self._shrink_handle.cancel()
                self._shrink_handle = None
            label = self._label

            def closed() -> BaseException:
                return PoolClosedError(f"connection pool of {label} closed")

            self._fail_waiters(closed)
            self._conns.close_all(closed)
            self._deadlines.close()
            self._pins.clear()
        await self._connector.wait_stopped()
        await self._conns.wait_transports_closed()

    async def drain_and_close(self) -> None:
        """Stop taking requests, wait for those already taken to finish, then :meth:`close`.

        New requests fail with :class:`~emcache_pool.errors.PoolClosedError` at once. Requests
        without a timeout on a node that never answers keep this waiting: bound it with a
        timeout of your own and call :meth:`close` afterwards if needed.
        """
        self._closing = True
        # Replies of abandoned and noreply requests finish inside the connections, out of the
        # pool's sight: polling is the simple way to see the last one go.
        while not self._closed and self._has_work():  # noqa: ASYNC110
            await asyncio.sleep(_DRAIN_POLL)
        await self.close()

    def _has_work(self) -> bool:
        if any(not waiter[0].done() for waiter in self._waiters):
            return True
        return any(conn.in_flight for conn in self._conns.live)


def _capacity(count: int) -> int:
    """The requests in flight ``count`` connections take before the pool wants one more."""
    return count * _GROW_DEPTH << (count - 1)


def _fresh(exc: BaseException) -> BaseException:
    """Return a copy of ``exc`` to raise in one more caller (each raise owns its traceback)."""
    try:
        clone = copy.copy(exc)
    except Exception:
        return exc
    clone.__cause__ = exc.__cause__
    clone.__suppress_context__ = True
    return clone
