"""An in-memory stand-in for the cluster and its pools, for fast tests of the Client.

:class:`MemoryPool` answers typed requests the way one memcached node would, from a
dict, without sockets or an event loop of its own: a test of the facade runs in
milliseconds. A test can also script the next replies of a pool, or make its next
calls raise, to check how the facade reads error replies and lower errors.
:class:`FakeCluster` routes keys to its pools by a stable hash and offers the part
of :class:`emcache_cluster.Cluster` that the client uses.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from typing import Any

from emcache_pool import MemcachedHostAddress
from emcache_protocol import ReplyKind, Request, StatsReply, Status, Value, VersionReply


class MemoryPool:
    """One fake node: a dict of ``key -> (value, flags, cas)`` behind ``execute``."""

    def __init__(self, endpoint: MemcachedHostAddress) -> None:
        self.endpoint = endpoint
        self.items: dict[bytes, tuple[bytes, int, int]] = {}
        self.sent: list[Request[Any]] = []
        self.noreply: list[tuple[Request[Any], bytes | None]] = []
        self.scripted: list[object] = []
        self.keys_given: list[bytes | None] = []
        self._cas = 0

    def script(self, *outcomes: object) -> None:
        """Answer the next calls with these replies, or raise them if they are exceptions."""
        self.scripted.extend(outcomes)

    async def execute(
        self,
        request: Request[Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the pool's signature
        key: bytes | None = None,
    ) -> Any:
        self.sent.append(request)
        self.keys_given.append(key)
        await asyncio.sleep(0)
        if self.scripted:
            outcome = self.scripted.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return self._answer(request)

    async def execute_noreply(self, request: Request[Any], *, key: bytes | None = None) -> None:
        self.noreply.append((request, key))
        self._answer(request)

    def submit(self, request: Request[Any], *, timeout: float | None = None) -> Any:
        return asyncio.ensure_future(self.execute(request, timeout=timeout))

    def _answer(self, request: Request[Any]) -> Any:
        line, _, block = request.data.partition(b"\r\n")
        command, *args = line.split()
        kind = request.kind
        if kind in (ReplyKind.RETRIEVAL, ReplyKind.RETRIEVAL_CAS):
            keys = args[1:] if command in (b"gat", b"gats") else args
            cas = kind is ReplyKind.RETRIEVAL_CAS
            return [
                Value(k, self.items[k][1], self.items[k][0], self.items[k][2] if cas else None)
                for k in keys
                if k in self.items
            ]
        if kind is ReplyKind.STORAGE:
            return self._store(command, args, block[:-2])
        if kind is ReplyKind.INCR_DECR:
            return self._incr_decr(command, args[0], int(args[1]))
        if kind is ReplyKind.TOUCH:
            return Status.TOUCHED if args[0] in self.items else Status.NOT_FOUND
        if kind is ReplyKind.DELETE:
            return Status.DELETED if self.items.pop(args[0], None) else Status.NOT_FOUND
        if kind is ReplyKind.OK:
            if command == b"flush_all":
                self.items.clear()
            return Status.OK
        if kind is ReplyKind.VERSION:
            return VersionReply("1.6.18")
        if kind is ReplyKind.STATS:
            return StatsReply({"curr_items": str(len(self.items))})
        raise AssertionError(f"unexpected request {request!r}")

    def _store(self, command: bytes, args: Sequence[bytes], data: bytes) -> Status:
        key, flags = args[0], int(args[1])
        exists = key in self.items
        if command == b"cas":
            if not exists:
                return Status.NOT_FOUND
            if self.items[key][2] != int(args[4]):
                return Status.EXISTS
        elif (command == b"add" and exists) or (
            command in (b"replace", b"append", b"prepend") and not exists
        ):
            return Status.NOT_STORED
        if command == b"append":
            data, flags = self.items[key][0] + data, self.items[key][1]
        elif command == b"prepend":
            data, flags = data + self.items[key][0], self.items[key][1]
        self._cas += 1
        self.items[key] = (data, flags, self._cas)
        return Status.STORED

    def _incr_decr(self, command: bytes, key: bytes, delta: int) -> int | Status:
        if key not in self.items:
            return Status.NOT_FOUND
        value, flags, cas = self.items[key]
        number = int(value) + delta if command == b"incr" else max(0, int(value) - delta)
        self.items[key] = (b"%d" % number, flags, cas + 1)
        return number


class FakeManagement:
    """The node view of a fake cluster: every node is healthy."""

    def __init__(self, pools: list[MemoryPool]) -> None:
        self._pools = pools

    def nodes(self) -> list[MemcachedHostAddress]:
        return [pool.endpoint for pool in self._pools]

    def healthy_nodes(self) -> list[MemcachedHostAddress]:
        return self.nodes()


class FakeCluster:
    """The part of ``emcache_cluster.Cluster`` the client uses, over memory pools."""

    def __init__(self, count: int = 3) -> None:
        self.pools = [MemoryPool(MemcachedHostAddress("fake", 11211 + n)) for n in range(count)]
        self.management = FakeManagement(self.pools)
        self.closed = 0

    def pick_pool(self, key: bytes) -> MemoryPool:
        return self.pools[zlib.crc32(key) % len(self.pools)]

    def pick_pools(self, keys: Sequence[bytes]) -> dict[MemoryPool, list[bytes]]:
        groups: dict[MemoryPool, list[bytes]] = {}
        for key in keys:
            groups.setdefault(self.pick_pool(key), []).append(key)
        return groups

    def pool_for(self, endpoint: MemcachedHostAddress) -> MemoryPool:
        return next(pool for pool in self.pools if pool.endpoint == endpoint)

    async def close(self) -> None:
        self.closed += 1
