"""The open connections of a pool, each with its own bookkeeping, and their upkeep.

Strategy. Each open connection has one :class:`ConnectionHolder` (as asyncpg's pool has a
holder per connection) that owns what the pool knows about it: whether it is set aside, since
when it has been idle, since when it has been silent. :attr:`ConnectionSet.ready` lists the
connections that take new requests, in the order they opened: it is the dispatcher's index,
derived from the holders and kept as a plain list because the hot path scans it.

Upkeep runs on two timers, armed only while there is something to watch:

* A connection on which a request timed out is *set aside*: it takes no new request until every
  reply it owes has arrived, then serves again. One that receives nothing for
  ``_STALLED_ABANDON_AFTER`` is abandoned (aborted), which gives up connections silently
  dropped by the network.
* A connection that wrote nothing for ``purge_unused_connections_after`` is closed, never
  going below ``min_connections``.

A connection the pool no longer needs is *released*: set aside as above, and closed instead
of serving again once it has caught up.

Closed connections are *retired* until their transport has closed, so that closing the pool
can wait for every socket to be released.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from emcache_pool._config import PoolConfig
from emcache_pool._connection import Connection, ErrorFactory
from emcache_pool.errors import ConnectionLostError

__all__ = ["ConnectionHolder", "ConnectionSet"]

logger = logging.getLogger("emcache.pool")

_STALL_CHECK_EVERY = 0.25
_STALLED_ABANDON_AFTER = 5.0
_CLOSE_GRACE = 1.0


class ConnectionHolder:
    """What the pool knows about one open connection.

    Attributes:
        conn: The connection.
        stalled: Whether it is set aside until it has caught up.
        released: Whether, set aside, it is to be closed once it has caught up.
        flushes: Its write count when it was last seen busy; ``idle_since`` counts from then.
        idle_since: When it was last seen busy.
        reads: Its read count when ``silent_since`` was taken (while set aside).
        silent_since: Since when it has received nothing (while set aside).
    """

    __slots__ = ("conn", "flushes", "idle_since", "reads", "released", "silent_since", "stalled")

    def __init__(self, conn: Connection, now: float) -> None:
        self.conn = conn
        self.stalled = False
        self.released = False
        self.flushes = conn.flushes
        self.idle_since = now
        self.reads = conn.reads
        self.silent_since = now


class ConnectionSet:
    """The open connections of one pool: dispatch index, set-aside ones, idle purge, retiring.

    Args:
        config: The pool's settings (``min_connections``, ``purge_unused_connections_after``).
        label: The node, for messages.
        on_closed: Called after a connection stopped serving and left the set.
        on_ready: Called when a set-aside connection serves again.

    Attributes:
        ready: The connections that take new requests.
        purged: Connections closed for being idle or released.
        closed: Connections that stopped serving.
        max_depth: The deepest pipeline of the connections that left the set.
    """

    __slots__ = (
        "_config",
        "_holders",
        "_label",
        "_loop",
        "_on_closed",
        "_on_ready",
        "_purge_handle",
        "_retiring",
        "_stall_handle",
        "closed",
        "max_depth",
        "purged",
        "ready",
    )

    def __init__(
        self,
        config: PoolConfig,
        label: str,
        *,
        on_closed: Callable[[Connection], None],
        on_ready: Callable[[], None],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._config = config
        self._label = label
        self._on_closed = on_closed
        self._on_ready = on_ready
        self._holders: dict[Connection, ConnectionHolder] = {}
        self._retiring: set[Connection] = set()
        self._stall_handle: asyncio.TimerHandle | None = None
        self._purge_handle: asyncio.TimerHandle | None = None
        self.ready: list[Connection] = []
        self.purged = 0
        self.closed = 0
        self.max_depth = 0
        if config.purge_unused_connections_after is not None:
            self._schedule_purge(config.purge_unused_connections_after)

    def __len__(self) -> int:
        return len(self._holders)

    @property
    def live(self) -> list[Connection]:
        """Every connection that serves or will serve again (set-aside ones included)."""
        return list(self._holders)

    def add(self, conn: Connection) -> None:
        """Take a newly opened connection into service."""
        self._holders[conn] = ConnectionHolder(conn, self._loop.time())
        self.ready.append(conn)
        conn.set_close_callback(self._connection_closed)
        conn.watch_stalls()

    def retire(self, conn: Connection) -> None:
        """Remember a closing connection until its transport has closed."""
        retiring = self._retiring
        retiring.add(conn)
        for done in [c for c in retiring if c.transport_closed.done()]:
            retiring.discard(done)

    def close_all(self, error_factory: ErrorFactory) -> None:
        """Stop the timers and close every connection, failing what is in flight."""
        for handle in (self._purge_handle, self._stall_handle):
            if handle is not None:
                handle.cancel()
        self._purge_handle = self._stall_handle = None
        for conn in list(self._holders):
            conn.close(error_factory)

    async def wait_transports_closed(self) -> None:
        """Wait for the retired transports to close, aborting those that take too long."""
        waiting = {c.transport_closed: c for c in self._retiring if not c.transport_closed.done()}
        if waiting:
            _, still_open = await asyncio.wait(waiting, timeout=_CLOSE_GRACE)
            if still_open:
                for fut in still_open:
                    waiting[fut].abort()
                await asyncio.wait(still_open, timeout=_CLOSE_GRACE)
        self._retiring = {c for c in self._retiring if not c.transport_closed.done()}

    def _connection_closed(self, conn: Connection) -> None:
        if self._holders.pop(conn, None) is None:
            return
        if conn in self.ready:
            self.ready.remove(conn)
        self.closed += 1
        self.max_depth = max(self.max_depth, conn.max_depth)
        self.retire(conn)
        self._on_closed(conn)

    # -- set-aside connections ------------------------------------------------------------------

    def set_aside(self, conn: Connection, *, release: bool = False) -> bool:
        """Take no new request on ``conn`` until it has caught up; whether it was serving.

        With ``release``, ``conn`` is not needed any more: it is closed once it has caught
        up (at once if nothing is in flight), and counted as purged.
        """
        holder = self._holders.get(conn)
        if holder is None or holder.stalled:
            return False
        self.ready.remove(conn)
        if release:
            self.purged += 1
            logger.debug("%s: connection not needed by the load, closing it", conn)
            if not conn.in_flight:
                conn.close()
                return True
        holder.stalled = True
        holder.released = release
        holder.reads = conn.reads
        holder.silent_since = self._loop.time()
        conn.set_drained_callback(self._caught_up)
        if not release:
            logger.debug("%s: a request timed out, connection set aside until it catches up", conn)
        if self._stall_handle is None:
            self._stall_handle = self._loop.call_later(_STALL_CHECK_EVERY, self._check_stalled)
        return True

    def _caught_up(self, conn: Connection) -> None:
        holder = self._holders.get(conn)
        if holder is None or not holder.stalled or conn.is_closed:
            return
        if holder.released:
            conn.close()
            return
        holder.stalled = False
        holder.flushes = conn.flushes
        holder.idle_since = self._loop.time()
        self.ready.append(conn)
        self._on_ready()

    def _check_stalled(self) -> None:
        self._stall_handle = None
        now = self._loop.time()
        stalled = [holder for holder in self._holders.values() if holder.stalled]
        for holder in stalled:
            conn = holder.conn
            if conn.reads != holder.reads:
                holder.reads, holder.silent_since = conn.reads, now
            elif now - holder.silent_since >= _STALLED_ABANDON_AFTER:
                silent = now - holder.silent_since
                logger.warning("%s: abandoning a connection silent for %.1f s", conn, silent)
                conn.abort(self._silent_error)
        if any(holder.stalled for holder in self._holders.values()):
            self._stall_handle = self._loop.call_later(_STALL_CHECK_EVERY, self._check_stalled)

    def _silent_error(self) -> BaseException:
        msg = f"connection to {self._label} abandoned: no reply for {_STALLED_ABANDON_AFTER} s"
        return ConnectionLostError(msg)

    # -- idle purge -----------------------------------------------------------------------------

    def _schedule_purge(self, after: float) -> None:
        self._purge_handle = self._loop.call_later(after / 4, self._purge_idle, after)

    def _purge_idle(self, after: float) -> None:
        now = self._loop.time()
        ready = self.ready
        for conn in reversed(ready.copy()):
            holder = self._holders[conn]
            if conn.in_flight or conn.flushes != holder.flushes:
                holder.flushes, holder.idle_since = conn.flushes, now
            elif now - holder.idle_since >= after and len(ready) > self._config.min_connections:
                self.purged += 1
                idle = now - holder.idle_since
                logger.debug("%s: closing a connection idle for %.1f s", conn, idle)
                conn.close()
        self._schedule_purge(after)
