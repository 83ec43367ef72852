"""Autobatching: concurrent ``get``/``gets`` calls become multi-key requests.

Every call made during one loop iteration registers its key and a future; one
callback scheduled with ``call_soon`` then groups the keys by node, cuts each
group into requests of at most ``max_keys`` keys and hands them to the pools
with :meth:`~emcache_pool.ConnectionPool.submit`. The reply resolves the
callers from a done callback: no task per batch, so a round trip costs as few
loop iterations as the pipeline allows, which is what bounds the throughput of
callers that all wait on the same batch. Each caller gets its own
:class:`~emcache.Item` (or None); when a batch fails, exactly its callers get
the error. A caller that is cancelled only drops its own future.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from emcache._item import Item
from emcache_cluster import Cluster
from emcache_pool import ConnectionPool
from emcache_protocol import ErrorReply, Value, retrieval_command, validate_key

__all__ = ["AutoBatcher"]

# key -> callers waiting for it: (future, return_flags)
Waiters = dict[bytes, list[tuple[asyncio.Future[Item | None], bool]]]
# Turns a failed batch (an exception, or the server's error reply) into the error its
# callers get.
ToError = Callable[[BaseException | ErrorReply], BaseException]


class AutoBatcher:
    """Collects get/gets calls of one loop iteration and sends them in batches."""

    def __init__(
        self, cluster: Cluster, max_keys: int, timeout: float | None, to_error: ToError
    ) -> None:
        self._loop = asyncio.get_running_loop()  # the pools below are bound to it too
        self._cluster = cluster
        self._max_keys = max_keys
        self._timeout = timeout
        self._to_error = to_error
        self._pending: dict[bool, Waiters] = {False: {}, True: {}}
        self._scheduled = False
        self._in_flight: set[asyncio.Future[list[Value] | ErrorReply]] = set()

    def get(self, key: bytes, return_flags: bool, return_cas: bool) -> asyncio.Future[Item | None]:
        """A future of the key's item, fetched with the other keys of this loop iteration."""
        validate_key(key)
        future: asyncio.Future[Item | None] = self._loop.create_future()
        waiters = self._pending[return_cas]
        entry = waiters.get(key)
        if entry is None:
            waiters[key] = [(future, return_flags)]
        else:
            entry.append((future, return_flags))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._send)
        return future

    def close(self, error: BaseException) -> None:
        """Fail the calls not sent yet; batches in flight fail with their connections."""
        for waiters in self._pending.values():
            _fail(waiters, error)
            waiters.clear()

    def _send(self) -> None:
        self._scheduled = False
        for return_cas, waiters in self._pending.items():
            if not waiters:
                continue
            self._pending[return_cas] = {}
            try:
                by_pool = self._cluster.pick_pools(list(waiters))
            except Exception as exc:
                _fail(waiters, exc)
                continue
            command = b"gets" if return_cas else b"get"
            step = self._max_keys
            for pool, keys in by_pool.items():
                for start in range(0, len(keys), step):
                    chunk = keys[start : start + step]
                    self._start_batch(pool, command, chunk, waiters, return_cas)

    def _start_batch(
        self,
        pool: ConnectionPool,
        command: bytes,
        keys: list[bytes],
        waiters: Waiters,
        return_cas: bool,
    ) -> None:
        batch = {key: waiters[key] for key in keys}
        reply = pool.submit(retrieval_command(command, keys), timeout=self._timeout)
        self._in_flight.add(reply)
        reply.add_done_callback(functools.partial(self._finish, batch, return_cas))

    def _finish(
        self,
        batch: Waiters,
        return_cas: bool,
        reply: asyncio.Future[list[Value] | ErrorReply],
    ) -> None:
        self._in_flight.discard(reply)
        if reply.cancelled():
            _fail(batch, asyncio.CancelledError())
            return
        error = reply.exception()
        if error is not None:
            _fail(batch, self._to_error(error))
            return
        values = reply.result()
        if isinstance(values, ErrorReply):
            _fail(batch, self._to_error(values))
            return
        # Value is (key, flags, value, cas).
        for value in values:
            for future, return_flags in batch.pop(value[0], ()):
                if not future.done():
                    flags = value[1] if return_flags else None
                    future.set_result(Item(value[2], flags, value[3] if return_cas else None))
        for entries in batch.values():
            for future, _ in entries:
                if not future.done():
                    future.set_result(None)


def _fail(waiters: Waiters, error: BaseException) -> None:
    for entries in waiters.values():
        for future, _ in entries:
            if not future.done():
                future.set_exception(error)
