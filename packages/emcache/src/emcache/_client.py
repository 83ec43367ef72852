"""The :class:`Client`: every memcached command over a cluster of nodes.

Each command follows the same short path: encode (which validates the key and
arguments, so bad input never reaches a socket), pick the node's pool, run the
request on it with the client's timeout, and turn the typed reply into the
value or error of the emcache 1.x API. Encoders return typed requests, so
each reply arrives typed (``Status``, ``list[Value]`` ... or the server's
``ErrorReply``); errors of the lower layers are translated in one place,
:mod:`emcache._translate`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

from emcache._batching import AutoBatcher
from emcache._client_meta import MetaMethods
from emcache._codecs import Codec
from emcache._format import CompressionName
from emcache._herd import Herd
from emcache._item import Item
from emcache._meta import MetaCommands
from emcache._translate import LOWER_ERRORS, batch_error, reply_error, translate
from emcache._view import CacheView
from emcache.errors import (
    ClientClosedError,
    NotFoundCommandError,
    NotStoredStorageCommandError,
    StorageCommandError,
)
from emcache_cluster import Cluster, ClusterManagement
from emcache_pool import (
    ConnectionPool,
    Endpoint,
    MemcachedHostAddress,
    MemcachedUnixSocketPath,
    endpoint_text,
)
from emcache_protocol import (
    ErrorReply,
    Request,
    RetrievalRequest,
    StatsReply,
    Status,
    StatusRequest,
    Value,
    VersionReply,
    cache_memlimit_command,
    delete_command,
    flush_all_command,
    incr_decr_command,
    retrieval_command,
    retrieval_commands,
    stats_command,
    storage_command,
    touch_command,
    verbosity_command,
    version_command,
)

__all__ = ["Client"]

T = TypeVar("T")

_STORED = Status.STORED
_CLOSED_MESSAGE = "the emcache client is closed"
_CAS_COMMANDS = (b"gets", b"gats")
# A bytes or str object is a sequence, but of ints or characters: never of keys.
_NOT_KEY_SEQUENCES = (bytes, bytearray, memoryview, str)
_KEYS_MESSAGE = "keys must be a sequence of bytes"


def _storage_error(command: bytes, reply: Status | ErrorReply) -> Exception:
    """The error of a storage command that did not answer STORED."""
    if reply is Status.NOT_STORED or (reply is Status.EXISTS and command == b"cas"):
        return NotStoredStorageCommandError(
            f"{command.decode()} did not store the value: {reply.name}"
        )
    return reply_error(reply.name if isinstance(reply, Status) else reply, StorageCommandError)


def _one_item(reply: list[Value] | ErrorReply, return_flags: bool, return_cas: bool) -> Item | None:
    """The item of a one-key retrieval reply, None for a miss."""
    if type(reply) is not list:
        raise reply_error(reply)
    if not reply:
        return None
    # Value is (key, flags, value, cas): indexing is the cheapest way to read it.
    value = reply[0]
    return Item(value[2], value[1] if return_flags else None, value[3] if return_cas else None)


class Client(MetaMethods):
    """A memcached client over one or many nodes. Create it with :func:`emcache.create_client`.

    It is an async context manager: ``async with client:`` closes it on the way out.
    """

    __slots__ = ("_batcher", "_closed", "_cluster", "_herd", "_meta", "_timeout")

    def __init__(
        self, cluster: Cluster, *, timeout: float | None, autobatching_max_keys: int | None
    ) -> None:
        self._cluster = cluster
        self._timeout = timeout
        self._closed = False
        self._batcher = (
            None
            if autobatching_max_keys is None
            else AutoBatcher(cluster, autobatching_max_keys, timeout, batch_error)
        )
        self._meta = MetaCommands(cluster, timeout, lambda: self._closed)
        self._herd = Herd(self._meta)

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called; every operation then raises ClientClosedError."""
        return self._closed

    async def close(self) -> None:
        """Stop background tasks and close every connection. Idempotent.

        Operations still in flight fail with :class:`ClientClosedError` or
        :class:`ConnectionFailedError`.
        """
        if not self._closed:
            self._closed = True
            if self._batcher is not None:
                self._batcher.close(ClientClosedError(_CLOSED_MESSAGE))
            self._herd.close()
        # Every call waits for the same shielded work: one cancelled midway leaves nothing.
        await self._cluster.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        management = self._cluster.management
        nodes = ", ".join(endpoint_text(endpoint) for endpoint in management.nodes())
        healthy = len(management.healthy_nodes())
        state = "closed" if self._closed else "open"
        return f"<emcache.Client {state} nodes=[{nodes}] healthy={healthy}>"

    def cluster_managment(self) -> ClusterManagement:
        """The view of the cluster: its nodes, their health and their pool metrics."""
        return self._cluster.management

    def view(
        self,
        *,
        codec: Codec[T],
        prefix: str | bytes = "",
        default_exptime: int = 0,
        compress_over: int | None = None,
        compression: CompressionName = "zlib",
    ) -> CacheView[T]:
        """A typed view of this client: ``str`` keys under ``prefix``, values through ``codec``.

        Args:
            codec: How values are stored, e.g. :class:`emcache.JsonCodec`; its id is
                written in each item's flags.
            prefix: Put before every key (``str`` as UTF-8); at most 185 bytes, no
                whitespace, control character or ``~``.
            default_exptime: The expiration time of writes that give none; 0 never expires.
            compress_over: Compress values whose encoded form is longer than this many
                bytes; None (the default) never compresses.
            compression: ``"zlib"``, or ``"zstd"`` with the ``emcache[zstd]`` extra.

        Raises:
            ValueError: An option is out of range.
            ImportError: ``compression="zstd"`` without the zstandard package.
        """
        return CacheView(
            self,
            codec=codec,
            prefix=prefix,
            default_exptime=default_exptime,
            compress_over=compress_over,
            compression=compression,
        )

    # -- plumbing ------------------------------------------------------------------------------
    async def _run(
        self, pool: ConnectionPool, request: Request[T], key: bytes | None = None
    ) -> T | ErrorReply:
        try:
            return await pool.execute(request, timeout=self._timeout, key=key)
        except LOWER_ERRORS as exc:
            raise translate(exc) from exc

    async def _run_noreply(
        self, pool: ConnectionPool, request: Request[object], key: bytes | None = None
    ) -> None:
        try:
            await pool.execute_noreply(request, key=key)
        except LOWER_ERRORS as exc:
            raise translate(exc) from exc

    def _pool(self, key: bytes) -> ConnectionPool:
        if self._closed:
            raise ClientClosedError(_CLOSED_MESSAGE)
        return self._cluster.pick_pool(key)

    def _node_pool(self, address: object) -> ConnectionPool:
        # Typed as object: the annotation of the public methods is not checked at run time.
        if not isinstance(address, MemcachedHostAddress | MemcachedUnixSocketPath):
            msg = (
                "the node address must be a MemcachedHostAddress or a MemcachedUnixSocketPath, "
                f"got {type(address).__name__}"
            )
            raise TypeError(msg)
        if self._closed:
            raise ClientClosedError(_CLOSED_MESSAGE)
        return self._cluster.pool_for(address)

    async def _fetch_many_on_pool(
        self, pool: ConnectionPool, request: RetrievalRequest
    ) -> list[Value]:
        reply = await self._run(pool, request)
        if type(reply) is not list:
            raise reply_error(reply)
        return reply

    # -- retrieval -----------------------------------------------------------------------------
    async def get(self, key: bytes, return_flags: bool = False) -> Item | None:
        """The item stored under ``key``, or None when it is missing.

        Args:
            key: The key (bytes, 1..250 bytes, no whitespace or control characters).
            return_flags: Fill :attr:`Item.flags` with the stored flags.

        Raises:
            asyncio.TimeoutError: The operation took longer than the client's timeout, or
                the node could not be reached (:class:`ConnectionFailedError`).
        """
        if self._batcher is not None:
            if self._closed:
                raise ClientClosedError(_CLOSED_MESSAGE)
            return await self._batcher.get(key, return_flags, False)
        request = retrieval_command(b"get", (key,))
        pool = self._pool(key)
        try:  # _run, inlined: one coroutine less on the most common call
            reply = await pool.execute(request, timeout=self._timeout)
        except LOWER_ERRORS as exc:
            raise translate(exc) from exc
        return _one_item(reply, return_flags, False)

    async def gets(self, key: bytes, return_flags: bool = False) -> Item | None:
        """Like :meth:`get`, with the item's cas token in :attr:`Item.cas`."""
        if self._batcher is not None:
            if self._closed:
                raise ClientClosedError(_CLOSED_MESSAGE)
            return await self._batcher.get(key, return_flags, True)
        request = retrieval_command(b"gets", (key,))
        reply = await self._run(self._pool(key), request)
        return _one_item(reply, return_flags, True)

    async def gat(self, exptime: int, key: bytes, return_flags: bool = False) -> Item | None:
        """Get the item and set its expiration time to ``exptime`` in one command."""
        request = retrieval_command(b"gat", (key,), exptime)
        reply = await self._run(self._pool(key), request)
        return _one_item(reply, return_flags, False)

    async def gats(self, exptime: int, key: bytes, return_flags: bool = False) -> Item | None:
        """Like :meth:`gat`, with the cas token."""
        request = retrieval_command(b"gats", (key,), exptime)
        reply = await self._run(self._pool(key), request)
        return _one_item(reply, return_flags, True)

    async def _fetch_many(
        self, command: bytes, keys: Sequence[bytes], exptime: int | None, return_flags: bool
    ) -> dict[bytes, Item]:
        if isinstance(keys, _NOT_KEY_SEQUENCES):
            raise TypeError(_KEYS_MESSAGE)
        if self._closed:
            raise ClientClosedError(_CLOSED_MESSAGE)
        try:
            unique = list(dict.fromkeys(keys))
        except TypeError:  # not iterable, or unhashable items
            raise TypeError(_KEYS_MESSAGE) from None
        if not unique:
            return {}
        by_pool = self._cluster.pick_pools(unique).items()
        # Every request is encoded (and so every key validated) before any is sent.
        requests: list[tuple[ConnectionPool, RetrievalRequest]]
        if exptime is None:  # get/gets: one request per node, whatever its length
            requests = [
                (pool, retrieval_command(command, pool_keys)) for pool, pool_keys in by_pool
            ]
        else:  # gat/gats: lines memcached accepts, so maybe several requests per node
            requests = [
                (pool, request)
                for pool, pool_keys in by_pool
                for request in retrieval_commands(command, pool_keys, exptime)
            ]
        if len(requests) == 1:
            parts = [await self._fetch_many_on_pool(*requests[0])]
        else:
            tasks = [asyncio.ensure_future(self._fetch_many_on_pool(*part)) for part in requests]
            try:
                parts = await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                raise
        # Value is (key, flags, value, cas): indexing is the cheapest way to read it.
        if command in _CAS_COMMANDS:
            if return_flags:
                return {v[0]: Item(v[2], v[1], v[3]) for part in parts for v in part}
            return {v[0]: Item(v[2], None, v[3]) for part in parts for v in part}
        if return_flags:
            return {v[0]: Item(v[2], v[1], None) for part in parts for v in part}
        return {v[0]: Item(v[2], None, None) for part in parts for v in part}

    async def get_many(
        self, keys: Sequence[bytes], return_flags: bool = False
    ) -> dict[bytes, Item]:
        """The items of the keys that exist, keyed by key.

        Keys are grouped by node and each node gets one request, all sent at
        once. If one node's request fails (timeout included), the others are
        cancelled and the error is raised.

        Raises:
            TypeError: ``keys`` is not a sequence of bytes (a single ``bytes`` or ``str``
                included); nothing is sent.
        """
        return await self._fetch_many(b"get", keys, None, return_flags)

    async def gets_many(
        self, keys: Sequence[bytes], return_flags: bool = False
    ) -> dict[bytes, Item]:
        """Like :meth:`get_many`, with cas tokens."""
        return await self._fetch_many(b"gets", keys, None, return_flags)

    async def gat_many(
        self, exptime: int, keys: Sequence[bytes], return_flags: bool = False
    ) -> dict[bytes, Item]:
        """Like :meth:`get_many`, setting each found item's expiration time to ``exptime``.

        memcached closes a connection that sends a gat line longer than 2048 bytes, so
        the keys of a node are sent in as many requests as needed (each line at most
        ``emcache_protocol.MAX_COMMAND_LINE`` bytes); the result is merged as one.
        """
        return await self._fetch_many(b"gat", keys, exptime, return_flags)

    async def gats_many(
        self, exptime: int, keys: Sequence[bytes], return_flags: bool = False
    ) -> dict[bytes, Item]:
        """Like :meth:`gat_many`, with cas tokens."""
        return await self._fetch_many(b"gats", keys, exptime, return_flags)

    # -- storage -------------------------------------------------------------------------------
    async def _store(
        self,
        command: bytes,
        key: bytes,
        value: bytes,
        flags: int,
        exptime: int,
        noreply: bool,
        cas: int | None = None,
    ) -> None:
        request = storage_command(command, key, value, flags, exptime, cas=cas)
        if noreply:
            await self._run_noreply(self._pool(key), request, key)
            return
        reply = await self._run(self._pool(key), request, key)
        if reply is not _STORED:
            raise _storage_error(command, reply)

    async def set(
        self, key: bytes, value: bytes, *, flags: int = 0, exptime: int = 0, noreply: bool = False
    ) -> None:
        """Store ``value`` under ``key``.

        Args:
            key: The key.
            value: The bytes to store.
            flags: An unsigned 32-bit number stored with the value.
            exptime: Seconds from now (up to 30 days) or a unix timestamp; 0 never expires.
            noreply: Return as soon as the request is queued, without waiting for the server.

        Raises:
            StorageCommandError: The server did not store the value (e.g. it is too large).
        """
        if noreply:
            await self._store(b"set", key, value, flags, exptime, noreply)
            return
        # _store and _run, inlined: two coroutines less on the most common call.
        request = storage_command(b"set", key, value, flags, exptime)
        pool = self._pool(key)
        try:
            reply = await pool.execute(request, timeout=self._timeout, key=key)
        except LOWER_ERRORS as exc:
            raise translate(exc) from exc
        if reply is not _STORED:
            raise _storage_error(b"set", reply)

    async def add(
        self, key: bytes, value: bytes, *, flags: int = 0, exptime: int = 0, noreply: bool = False
    ) -> None:
        """Store the value only if the key does not exist (else NotStoredStorageCommandError)."""
        await self._store(b"add", key, value, flags, exptime, noreply)

    async def replace(
        self, key: bytes, value: bytes, *, flags: int = 0, exptime: int = 0, noreply: bool = False
    ) -> None:
        """Store the value only if the key exists (else NotStoredStorageCommandError)."""
        await self._store(b"replace", key, value, flags, exptime, noreply)

    async def append(self, key: bytes, value: bytes, *, noreply: bool = False) -> None:
        """Add ``value`` after the existing value (NotStoredStorageCommandError if missing)."""
        await self._store(b"append", key, value, 0, 0, noreply)

    async def prepend(self, key: bytes, value: bytes, *, noreply: bool = False) -> None:
        """Add ``value`` before the existing value (NotStoredStorageCommandError if missing)."""
        await self._store(b"prepend", key, value, 0, 0, noreply)

    async def cas(
        self,
        key: bytes,
        value: bytes,
        cas: int,
        *,
        flags: int = 0,
        exptime: int = 0,
        noreply: bool = False,
    ) -> None:
        """Store the value only if the item's cas token is still ``cas``.

        Raises:
            NotStoredStorageCommandError: The item changed since the token was read.
            StorageCommandError: The item does not exist.
        """
        await self._store(b"cas", key, value, flags, exptime, noreply, cas)

    # -- other keyed commands ------------------------------------------------------------------
    async def _incr_decr(self, command: bytes, key: bytes, value: int, noreply: bool) -> int | None:
        request = incr_decr_command(command, key, value)
        if noreply:
            await self._run_noreply(self._pool(key), request, key)
            return None
        reply = await self._run(self._pool(key), request, key)
        if type(reply) is int:
            return reply
        if reply is Status.NOT_FOUND:
            raise NotFoundCommandError(f"{command.decode()}: the key does not exist")
        raise reply_error(reply)

    async def increment(self, key: bytes, value: int, *, noreply: bool = False) -> int | None:
        """Add ``value`` to the decimal number stored under ``key`` and return the new number.

        Raises:
            NotFoundCommandError: The key does not exist.
        """
        return await self._incr_decr(b"incr", key, value, noreply)

    async def decrement(self, key: bytes, value: int, *, noreply: bool = False) -> int | None:
        """Subtract ``value`` (memcached stops at 0) and return the new number."""
        return await self._incr_decr(b"decr", key, value, noreply)

    async def _keyed(
        self, request: StatusRequest, key: bytes, done: Status, noreply: bool, name: str
    ) -> None:
        if noreply:
            await self._run_noreply(self._pool(key), request, key)
            return
        reply = await self._run(self._pool(key), request, key)
        if reply is done:
            return
        if reply is Status.NOT_FOUND:
            raise NotFoundCommandError(f"{name}: the key does not exist")
        raise reply_error(reply)

    async def touch(self, key: bytes, exptime: int, *, noreply: bool = False) -> None:
        """Set a new expiration time on an existing item (NotFoundCommandError if missing)."""
        await self._keyed(touch_command(key, exptime), key, Status.TOUCHED, noreply, "touch")

    async def delete(self, key: bytes, *, noreply: bool = False) -> None:
        """Remove the item (NotFoundCommandError if missing)."""
        await self._keyed(delete_command(key), key, Status.DELETED, noreply, "delete")

    # -- node commands -------------------------------------------------------------------------
    async def _expect_ok(
        self, memcached_host_address: Endpoint, request: StatusRequest, noreply: bool
    ) -> None:
        pool = self._node_pool(memcached_host_address)
        if noreply:
            await self._run_noreply(pool, request)
            return
        reply = await self._run(pool, request)
        if reply is not Status.OK:
            raise reply_error(reply)

    async def flush_all(
        self, memcached_host_address: Endpoint, delay: int = 0, *, noreply: bool = False
    ) -> None:
        """Invalidate every item of one node, now or after ``delay`` seconds."""
        await self._expect_ok(memcached_host_address, flush_all_command(delay), noreply)

    async def verbosity(
        self, memcached_host_address: Endpoint, level: int, *, noreply: bool = False
    ) -> None:
        """Set the logging verbosity of one node."""
        await self._expect_ok(memcached_host_address, verbosity_command(level), noreply)

    async def cache_memlimit(
        self, memcached_host_address: Endpoint, value: int, *, noreply: bool = False
    ) -> None:
        """Change the memory limit of one node, in megabytes."""
        await self._expect_ok(memcached_host_address, cache_memlimit_command(value), noreply)

    async def version(self, memcached_host_address: Endpoint) -> str:
        """The version string of one node, e.g. ``"1.6.18"``."""
        pool = self._node_pool(memcached_host_address)
        reply = await self._run(pool, version_command())
        if not isinstance(reply, VersionReply):
            raise reply_error(reply)
        return reply.version

    async def stats(self, memcached_host_address: Endpoint, *args: str) -> dict[str, str]:
        """The ``stats`` of one node (``args`` picks a group, e.g. ``"slabs"``).

        Each line of the reply maps its name to the rest of the line: ``STAT <name>
        <value>`` gives ``name -> value``; ``stats cachedump <class> <limit>`` answers
        ``ITEM <key> [<size> b; <exptime> s]`` lines, giving ``key -> "[<size> b;
        <exptime> s]"``; ``stats detail dump`` answers ``PREFIX <prefix> get <n> hit <n>
        set <n> del <n>`` lines, giving ``prefix -> "get <n> hit <n> set <n> del <n>"``.
        ``stats reset`` and ``stats detail on|off`` give ``{}``.

        Raises:
            CommandError: The server refused the request, or its reply was over 65,536
                lines or 4 MiB (it is read and dropped; the connection stays in use).
            ValueError: An argument is empty, not ASCII, or holds whitespace.
        """
        pool = self._node_pool(memcached_host_address)
        reply = await self._run(pool, stats_command(*args))
        if not isinstance(reply, StatsReply):
            raise reply_error(reply)
        return dict(reply.stats)
