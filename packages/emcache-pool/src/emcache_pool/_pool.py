"""A pool of pipelined connections to one memcached node.

Fairness. A request never waits for a connection to become free: it is queued at once on the
open connection with the fewest requests in flight, and each connection answers in order. So
a request only ever waits behind requests made before it, whatever the number of callers.
When even the least loaded connection has ``_GROW_DEPTH`` requests in flight, one more
connection is opened in the background (up to ``max_connections``); requests keep flowing to
the open ones meanwhile. Only when no connection is open do requests wait, in a FIFO that is
served in order as soon as one opens.

Connecting. One background task (the connector) opens connections one at a time while the pool
wants more: fewer than ``min_connections``, requests waiting, or growth asked for. A failed
attempt is retried after a backoff doubling from 50 ms to 1 s. While no connection is open,
a failed attempt fails the waiting requests with the error at once, and requests made during
the backoff fail at once too: an unreachable node answers fast instead of at each caller's
timeout. The pool turns unhealthy after a failed attempt while requests wait, or after three
failed attempts in a row, when no connection is open; the first successful attempt after that
makes it healthy again. An unhealthy node is retried in the background until it answers.

Timeouts run in a :class:`~emcache_pool._timeouts.DeadlineQueue`; a timed-out or cancelled
request stays in flight on its connection, whose reply is read and dropped. A connection on
which a request timed out is set aside (no new request) until every reply it owes arrived,
then serves again; one that stays silent for ``_STALLED_ABANDON_AFTER`` is abandoned, which
gives up connections silently dropped by the network.

Order of writes to one key. A request whose caller gave up (timeout, cancellation, or
``noreply``) may still be applied by the node. If the caller's next write to the same key
went out on another connection, it could be applied first and then be overwritten by the
older one. So a request made with a ``key`` whose caller gave up *pins* that key to its
connection until the reply arrives: later requests with the same key go to that connection,
behind it, even while the connection is set aside. memcached applies the requests of one
connection in order, so an acknowledged write is never overtaken by an earlier one.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeAlias

from emcache_pool._config import PoolConfig
from emcache_pool._connection import Connection, open_connection
from emcache_pool._endpoints import Endpoint, MemcachedHostAddress, endpoint_text
from emcache_pool._metrics import LATENCY_SAMPLE_EVERY, ConnectionPoolMetrics, percentiles
from emcache_pool._timeouts import DeadlineQueue
from emcache_pool.errors import ConnectError, ConnectionLostError, PoolClosedError
from emcache_protocol import ReplyKind

__all__ = ["ConnectionPool"]

logger = logging.getLogger("emcache_pool")

_GROW_DEPTH = 4
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 1.0
_UNHEALTHY_AFTER_FAILURES = 3
_CLOSE_GRACE = 1.0
_STALL_CHECK_EVERY = 0.25
_STALLED_ABANDON_AFTER = 5.0
_DRAIN_POLL = 0.005
_SAMPLE_MASK = LATENCY_SAMPLE_EVERY - 1
# The pins are swept of those whose reply arrived when they grow past this many (or twice
# as many as the last sweep left): pins cost O(1) each, amortized.
_PIN_SWEEP_AT = 1024

# The last item is filled with the connection the request is dispatched to, for timeouts.
_Waiter: TypeAlias = tuple[
    "asyncio.Future[object]", bytes, ReplyKind, "Sequence[bytes] | None", bool, list["Connection"]
]


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
        self._on_health_change = on_health_change
        self._label = endpoint_text(endpoint)
        self._server_hostname = config.server_hostname
        if self._server_hostname is None and isinstance(endpoint, MemcachedHostAddress):
            self._server_hostname = endpoint.address
        self._ready: list[Connection] = []
        # connection -> (its write count, when that count was first seen): idle since then
        self._idle: dict[Connection, tuple[int, float]] = {}
        self._retiring: set[Connection] = set()
        # connection -> [its read count, since when that count has not moved]
        self._stalled: dict[Connection, list[float]] = {}
        self._stall_handle: asyncio.TimerHandle | None = None
        self._waiters: deque[_Waiter] = deque()
        self._deadlines = DeadlineQueue(self._loop, self._request_timed_out)
        self._connector: asyncio.Task[None] | None = None
        self._backing_off = False
        self._grow = False
        self._failures = 0
        self._last_error: BaseException | None = None
        self._healthy = True
        self._closing = False
        self._closed = False
        self._purge_handle: asyncio.TimerHandle | None = None
        # key -> (connection, position) of a request to that key whose caller gave up
        self._pins: dict[bytes, tuple[Connection, int]] = {}
        self._pin_sweep_at = _PIN_SWEEP_AT
        # metrics
        self._started = 0
        self._executed = 0
        self._executed_with_error = 0
        self._waited = 0
        self._created = 0
        self._created_with_error = 0
        self._purged = 0
        self._closed_count = 0
        self._max_depth = 0
        self._connect_latencies: deque[float] = deque(maxlen=100)
        self._latencies: deque[float] = deque(maxlen=1024)
        if config.min_connections > 0:
            self._ensure_connector()
        if config.purge_unused_connections_after is not None:
            self._schedule_purge()

    def __repr__(self) -> str:
        return (
            f"<ConnectionPool {self._label} connections={len(self._ready)}"
            f" healthy={self._healthy} closed={self._closed}>"
        )

    @property
    def healthy(self) -> bool:
        """Whether the node is considered reachable."""
        return self._healthy

    # -- requests ---------------------------------------------------------------------------

    async def execute(
        self,
        request: bytes,
        kind: ReplyKind,
        keys: Sequence[bytes] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - per request, not per call
        noreply: bool = False,
        key: bytes | None = None,
    ) -> object:
        """Send one encoded request to the node and return its reply.

        Args:
            request: The request bytes, as produced by an ``emcache_protocol`` encoder.
            kind: The kind of reply the request expects.
            keys: For retrieval requests, the requested keys in request order.
            timeout: Seconds to wait for the reply, waiting for a connection included;
                ``None`` waits forever.
            noreply: Return ``None`` as soon as the request is queued on a connection; the
                request must expect a reply on the wire, which is read and dropped. The
                caller still waits while the connection has too much queued to write.
            key: The key a write applies to. Requests given the same key are never
                reordered on the wire after their caller gave up on them (see the module).

        Returns:
            The reply object of the parser (an ``ErrorReply`` included).

        Raises:
            TimeoutError: No reply within ``timeout``.
            ConnectError: No connection is open and none could be opened.
            ConnectionLostError: The connection closed before the reply arrived.
            ServerProtocolError: The node sent bytes that do not fit; the connection closed.
            PoolClosedError: The pool is closed or draining.
        """
        if self._closing:
            raise PoolClosedError(f"connection pool of {self._label} is closed")
        ready = self._ready
        pinned = None if key is None or not self._pins else self._pinned(key)
        if pinned is not None:
            conn = pinned
        elif not ready:
            return await self._execute_waiting(request, kind, keys, timeout, noreply, key)
        else:
            # The least loaded connection, inlined: this is the hot path.
            conn = ready[0]
            depth = len(conn._pending)
            if depth:
                for other in ready:
                    other_depth = len(other._pending)
                    if other_depth < depth:
                        conn, depth = other, other_depth
                        if not depth:
                            break
                if depth >= _GROW_DEPTH and self._connector is None:
                    self._maybe_grow()
        if noreply:
            conn.enqueue(None, request, kind, keys)
            if key is not None:
                self._pin(key, conn, conn.replied + len(conn._pending) - 1)
            self._executed += 1
            if conn.needs_drain:
                await conn.drain()
            return None
        fut = conn.send(request, kind, keys)
        if timeout is not None:
            self._deadlines.add(fut, timeout, conn)
        self._started = started = self._started + 1
        try:
            if started & _SAMPLE_MASK:
                reply = await fut
            else:
                reply = await self._timed(fut)
        except BaseException:
            self._op_failed(fut)
            if key is not None:
                self._pin_given_up(key, conn, fut)
            raise
        self._executed += 1
        return reply

    def submit(
        self,
        request: bytes,
        kind: ReplyKind,
        keys: Sequence[bytes] | None = None,
        *,
        timeout: float | None = None,
    ) -> asyncio.Future[object]:
        """Send one encoded request and return the future of its reply, without a coroutine.

        For callers that already run in a loop callback and want the reply in a done
        callback (the facade's autobatching): no task is created when a connection is
        open, which saves the loop iterations a task needs to start and to finish. The
        future fails like :meth:`execute` does; with no open connection the request
        goes through :meth:`execute` in a task, which is returned.
        """
        ready = self._ready
        if self._closing or not ready:
            return self._loop.create_task(self.execute(request, kind, keys, timeout=timeout))
        conn = self._pick(ready)
        fut = conn.send(request, kind, keys)
        if timeout is not None:
            self._deadlines.add(fut, timeout, conn)
        fut.add_done_callback(self._count_submitted)
        return fut

    def _count_submitted(self, fut: asyncio.Future[object]) -> None:
        if fut.cancelled() or fut.exception() is not None:
            self._executed_with_error += 1
        else:
            self._executed += 1

    def _pick(self, ready: list[Connection]) -> Connection:
        best = ready[0]
        depth = len(best._pending)
        if depth:
            for conn in ready:
                conn_depth = len(conn._pending)
                if conn_depth < depth:
                    best, depth = conn, conn_depth
                    if not depth:
                        return best
            if depth >= _GROW_DEPTH:
                self._maybe_grow()  # also from inside the connector: it then goes on
        return best

    # -- order of writes to one key -------------------------------------------------------------

    def _pin_given_up(self, key: bytes, conn: Connection, fut: asyncio.Future[object]) -> None:
        """Pin ``key`` behind the request of ``fut`` if it is still in flight on ``conn``."""
        position = conn.position_of(fut)
        if position is not None:
            self._pin(key, conn, position)

    def _pin(self, key: bytes, conn: Connection, position: int) -> None:
        """Send later requests for ``key`` to ``conn`` until its request at ``position`` ends."""
        if conn.is_closed or conn.replied > position:
            return  # its reply arrived, or it can never arrive: nothing left to overtake
        pins = self._pins
        pins[key] = (conn, position)
        if len(pins) >= self._pin_sweep_at:
            for stale in [k for k, (c, p) in pins.items() if c.is_closed or c.replied > p]:
                del pins[stale]
            self._pin_sweep_at = max(_PIN_SWEEP_AT, 2 * len(pins))

    def _pinned(self, key: bytes) -> Connection | None:
        """The connection that still owes the reply of a given-up request for ``key``."""
        pin = self._pins.get(key)
        if pin is None:
            return None
        conn, position = pin
        if conn.is_closed or conn.replied > position:
            del self._pins[key]
            return None
        return conn

    def _maybe_grow(self) -> None:
        count = len(self._ready) + len(self._stalled)
        if count < self._config.max_connections and not self._closing:
            self._grow = True
            self._ensure_connector()

    async def _timed(self, fut: asyncio.Future[object]) -> object:
        start = self._loop.time()
        reply = await fut
        self._latencies.append(self._loop.time() - start)
        return reply

    def _op_failed(self, fut: asyncio.Future[object]) -> None:
        self._executed_with_error += 1
        if fut.done() and not fut.cancelled():
            fut.exception()  # retrieved: a cancelled caller must not leave it to the logs

    async def _execute_waiting(
        self,
        request: bytes,
        kind: ReplyKind,
        keys: Sequence[bytes] | None,
        timeout: float | None,  # noqa: ASYNC109 - per request, not per call
        noreply: bool,
        key: bytes | None,
    ) -> object:
        if self._backing_off and self._last_error is not None:
            self._executed_with_error += 1
            # Yield once: a caller retrying in a loop must not starve the event loop.
            await asyncio.sleep(0)
            raise _fresh(self._last_error)
        fut: asyncio.Future[object] = self._loop.create_future()
        dispatched_to: list[Connection] = []
        self._waiters.append((fut, request, kind, keys, noreply, dispatched_to))
        self._waited += 1
        self._ensure_connector()
        if timeout is not None:
            self._deadlines.add(fut, timeout, dispatched_to)
        try:
            reply = await fut
        except BaseException:
            self._op_failed(fut)
            if key is not None and dispatched_to:
                self._pin_given_up(key, dispatched_to[0], fut)
            raise
        if noreply and key is not None and dispatched_to:
            conn = dispatched_to[0]
            self._pin(key, conn, conn.replied + len(conn._pending) - 1)
        self._executed += 1
        return reply

    def _dispatch_waiters(self) -> None:
        waiters = self._waiters
        ready = self._ready
        while waiters and ready:
            fut, request, kind, keys, noreply, dispatched_to = waiters.popleft()
            if fut.done():
                continue  # timed out or cancelled while waiting: never sent
            conn = self._pick(ready)
            conn.enqueue(None if noreply else fut, request, kind, keys)
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

    # -- connecting -------------------------------------------------------------------------

    def _wants_connection(self) -> bool:
        if self._closed:
            return False
        count = len(self._ready)
        if count + len(self._stalled) >= self._config.max_connections:
            return False
        if self._waiters:
            return True
        if self._closing:
            return False
        # An unhealthy node is retried in the background (with backoff) until it answers,
        # so that it turns healthy again even if nobody sends it requests meanwhile.
        return count < self._config.min_connections or self._grow or not self._healthy

    def _ensure_connector(self) -> None:
        if self._connector is None and not self._closed:
            self._connector = self._loop.create_task(
                self._connect_loop(), name=f"emcache-pool connector {self._label}"
            )

    async def _connect_loop(self) -> None:
        delay = 0.0
        try:
            while self._wants_connection():
                try:
                    conn = await self._open()
                except Exception as exc:
                    self._connect_failed(exc)
                    delay = min(_MAX_BACKOFF, delay * 2) if delay else _FIRST_BACKOFF
                    self._backing_off = True
                    try:
                        await asyncio.sleep(delay)
                    finally:
                        self._backing_off = False
                    continue
                delay = 0.0
                self._connected(conn)
        finally:
            self._connector = None

    async def _open(self) -> Connection:
        config = self._config
        started = self._loop.time()
        conn: Connection | None = None
        try:
            async with asyncio.timeout(config.connection_timeout):
                try:
                    conn = await open_connection(
                        self.endpoint,
                        ssl_context=config.ssl_context,
                        server_hostname=self._server_hostname,
                    )
                except Exception as exc:  # OSError, ssl.SSLError, but also a bad port or name
                    msg = f"cannot connect to {self._label}: {type(exc).__name__}: {exc}"
                    raise ConnectError(msg) from exc
                if config.on_connect is not None:
                    await config.on_connect(conn)
        except TimeoutError as exc:
            self._discard(conn)
            msg = f"timed out after {config.connection_timeout} s connecting to {self._label}"
            raise ConnectError(msg) from exc
        except BaseException:
            self._discard(conn)
            raise
        self._connect_latencies.append(self._loop.time() - started)
        return conn

    def _discard(self, conn: Connection | None) -> None:
        if conn is not None:
            conn.abort()
            self._retire(conn)

    def _connected(self, conn: Connection) -> None:
        self._created += 1
        self._failures = 0
        self._idle[conn] = (conn.flushes, self._loop.time())
        self._ready.append(conn)
        conn.set_close_callback(self._connection_closed)
        self._grow = False
        logger.debug("%r: connection opened", self)
        if not self._healthy:
            self._set_healthy(True)
        self._dispatch_waiters()

    def _connect_failed(self, exc: BaseException) -> None:
        self._created_with_error += 1
        self._failures += 1
        self._last_error = exc
        logger.debug("%r: connection attempt failed: %s", self, exc)
        if self._ready:
            return  # the node still answers on the open connections
        had_waiters = self._fail_waiters(lambda: _fresh(exc))
        if self._healthy and (had_waiters or self._failures >= _UNHEALTHY_AFTER_FAILURES):
            self._set_healthy(False)

    def _connection_closed(self, conn: Connection) -> None:
        if conn in self._ready:
            self._ready.remove(conn)
        self._idle.pop(conn, None)
        self._stalled.pop(conn, None)
        self._closed_count += 1
        self._max_depth = max(self._max_depth, conn.max_depth)
        self._retire(conn)
        if self._wants_connection():
            self._ensure_connector()

    def _retire(self, conn: Connection) -> None:
        retiring = self._retiring
        retiring.add(conn)
        for done in [c for c in retiring if c.transport_closed.done()]:
            retiring.discard(done)

    def _set_healthy(self, healthy: bool) -> None:
        self._healthy = healthy
        if healthy:
            logger.info("%r: node reachable again", self)
        else:
            logger.warning("%r: node unreachable: %s", self, self._last_error)
        if self._on_health_change is not None:
            try:
                self._on_health_change(healthy)
            except Exception:
                logger.exception("%r: health callback failed", self)

    # -- stalled connections ----------------------------------------------------------------

    def _request_timed_out(self, holder: Connection | list[Connection]) -> None:
        """A request timed out on a connection: send nothing more there until it catches up."""
        if isinstance(holder, list):
            if not holder:
                return  # it timed out waiting for a connection
            holder = holder[0]
        conn = holder
        if conn not in self._ready or self._closed:
            return
        self._ready.remove(conn)
        self._stalled[conn] = [conn.reads, self._loop.time()]
        conn.set_drained_callback(self._caught_up)
        logger.debug("%r: a request timed out, connection set aside until it catches up", self)
        if self._stall_handle is None:
            self._stall_handle = self._loop.call_later(_STALL_CHECK_EVERY, self._check_stalled)
        if self._wants_connection():
            self._ensure_connector()

    def _caught_up(self, conn: Connection) -> None:
        """Every reply owed by a stalled connection arrived: it serves requests again."""
        if self._stalled.pop(conn, None) is None or conn.is_closed:
            return
        self._idle[conn] = (conn.flushes, self._loop.time())
        self._ready.append(conn)
        self._dispatch_waiters()

    def _check_stalled(self) -> None:
        """Abandon stalled connections that received nothing for a long time."""
        self._stall_handle = None
        now = self._loop.time()
        for conn, state in list(self._stalled.items()):
            if conn.reads != state[0]:
                state[0], state[1] = conn.reads, now
            elif now - state[1] >= _STALLED_ABANDON_AFTER:
                logger.warning(
                    "%r: abandoning a connection silent for %.1f s", self, now - state[1]
                )
                conn.abort(self._silent_error)
        if self._stalled and not self._closed:
            self._stall_handle = self._loop.call_later(_STALL_CHECK_EVERY, self._check_stalled)

    def _silent_error(self) -> BaseException:
        msg = f"connection to {self._label} abandoned: no reply for {_STALLED_ABANDON_AFTER} s"
        return ConnectionLostError(msg)

    # -- trimming ---------------------------------------------------------------------------

    def _schedule_purge(self) -> None:
        after = self._config.purge_unused_connections_after
        assert after is not None
        self._purge_handle = self._loop.call_later(after / 4, self._purge_idle)

    def _purge_idle(self) -> None:
        after = self._config.purge_unused_connections_after
        assert after is not None
        now = self._loop.time()
        ready = self._ready
        idle = self._idle
        for conn in reversed(ready.copy()):
            flushes, since = idle.get(conn, (-1, now))
            if conn._pending or conn.flushes != flushes:
                idle[conn] = (conn.flushes, now)
            elif now - since >= after and len(ready) > self._config.min_connections:
                self._purged += 1
                logger.debug("%r: closing a connection idle for %.1f s", self, now - since)
                conn.close()
        self._schedule_purge()

    # -- metrics ----------------------------------------------------------------------------

    def metrics(self) -> ConnectionPoolMetrics:
        """Return a snapshot of the pool's counters and current load."""
        created = list(self._connect_latencies)
        create_p50, create_p99 = percentiles(created, 0.5, 0.99)
        op_p50, op_p99 = percentiles(self._latencies, 0.5, 0.99)
        live = [*self._ready, *self._stalled]
        depths = [conn.max_depth for conn in live]
        return ConnectionPoolMetrics(
            cur_connections=len(live),
            connections_created=self._created,
            connections_created_with_error=self._created_with_error,
            connections_purged=self._purged,
            connections_closed=self._closed_count,
            operations_executed=self._executed,
            operations_executed_with_error=self._executed_with_error,
            operations_waited=self._waited,
            create_connection_avg=sum(created) / len(created) if created else None,
            create_connection_p50=create_p50,
            create_connection_p99=create_p99,
            create_connection_upper=max(created) if created else None,
            requests_in_flight=sum(len(conn._pending) for conn in live),
            requests_waiting=sum(1 for waiter in self._waiters if not waiter[0].done()),
            max_pipeline_depth=max([self._max_depth, *depths]),
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
            self._stop()
        connector = self._connector
        if connector is not None and not connector.done():
            await asyncio.wait([connector])
        await self._wait_transports_closed()

    def _stop(self) -> None:
        """Everything :meth:`close` does that needs no waiting."""
        for handle in (self._purge_handle, self._stall_handle):
            if handle is not None:
                handle.cancel()
        self._purge_handle = self._stall_handle = None
        if self._connector is not None:
            self._connector.cancel()
        label = self._label

        def closed() -> BaseException:
            return PoolClosedError(f"connection pool of {label} closed")

        self._fail_waiters(closed)
        for conn in [*self._ready, *self._stalled]:
            conn.close(closed)
        self._deadlines.close()
        self._pins.clear()

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
        return any(conn._pending for conn in [*self._ready, *self._stalled])

    async def _wait_transports_closed(self) -> None:
        waiting = {c.transport_closed: c for c in self._retiring if not c.transport_closed.done()}
        if waiting:
            _, still_open = await asyncio.wait(waiting, timeout=_CLOSE_GRACE)
            if still_open:
                for fut in still_open:
                    waiting[fut].abort()
                await asyncio.wait(still_open, timeout=_CLOSE_GRACE)
        self._retiring = {c for c in self._retiring if not c.transport_closed.done()}


def _fresh(exc: BaseException) -> BaseException:
    """Return a copy of ``exc`` to raise in one more caller (each raise owns its traceback)."""
    try:
        clone = copy.copy(exc)
    except Exception:
        return exc
    clone.__cause__ = exc.__cause__
    clone.__suppress_context__ = True
    return clone
