"""Autobatching: concurrent ``get``/``gets`` calls become multi-key requests.

Every call made during one loop iteration registers its key and a future; one
callback scheduled with ``call_soon`` then groups the keys by node, cuts each
group into requests of at most ``max_keys`` keys and sends them, one task per
request (not per caller). When a request finishes, each of its callers gets
its own :class:`~emcache.Item` (or None); when it fails, exactly the callers
in it get the error. A caller that is cancelled only drops its own future.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from emcache._item import Item
from emcache_cluster import Cluster
from emcache_pool import ConnectionPool
from emcache_protocol import Value, retrieval_command, validate_key

__all__ = ["AutoBatcher"]

FetchMany = Callable[[ConnectionPool, bytes, Sequence[bytes]], Awaitable[list[Value]]]
# key -> callers waiting for it: (future, return_flags)
Waiters = dict[bytes, list[tuple[asyncio.Future[Item | None], bool]]]


class AutoBatcher:
    """Collects get/gets calls of one loop iteration and sends them in batches."""

    def __init__(self, fetch_many: FetchMany, cluster: Cluster, max_keys: int) -> None:
        self._fetch_many = fetch_many
        self._loop = asyncio.get_running_loop()  # the pools below are bound to it too
        self._cluster = cluster
        self._max_keys = max_keys
        self._pending: dict[bool, Waiters] = {False: {}, True: {}}
        self._scheduled = False
        self._tasks: set[asyncio.Task[list[Value]]] = set()

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
                    self._start_batch(
                        pool, command, keys[start : start + step], waiters, return_cas
                    )

    def _start_batch(
        self,
        pool: ConnectionPool,
        command: bytes,
        keys: list[bytes],
        waiters: Waiters,
        return_cas: bool,
    ) -> None:
        batch = {key: waiters[key] for key in keys}
        request = retrieval_command(command, keys)
        task = asyncio.ensure_future(self._fetch_many(pool, request, keys))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finish(done, batch, return_cas))

    def _finish(self, task: asyncio.Task[list[Value]], batch: Waiters, return_cas: bool) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            _fail(batch, asyncio.CancelledError())
            return
        error = task.exception()
        if error is not None:
            _fail(batch, error)
            return
        for value in task.result():
            for future, return_flags in batch.pop(value.key, ()):
                if not future.done():
                    flags = value.flags if return_flags else None
                    future.set_result(Item(value.value, flags, value.cas if return_cas else None))
        for entries in batch.values():
            for future, _ in entries:
                if not future.done():
                    future.set_result(None)


def _fail(waiters: Waiters, error: BaseException) -> None:
    for entries in waiters.values():
        for future, _ in entries:
            if not future.done():
                future.set_exception(error)
