"""The meta commands in the facade: the support check, single commands and quiet batches.

Strategy. Each method encodes its request first (so bad input never reaches a socket),
makes sure the node speaks the meta commands (``require_meta``, asked once per node and
kept by its pool), runs the request with the client's timeout and reads the
:class:`~emcache_protocol.MetaResult` into a facade type (:mod:`emcache._meta_results`).
Nothing of the lower layers leaks: their errors go through :mod:`emcache._translate`,
and a node without the meta commands raises :class:`~emcache.MetaNotSupportedError`.

Multi-key writes. The keys are grouped by node and each node gets one quiet batch
(``q`` on every request, closed by ``mn``), all nodes at once. memcached answers only
what is not the nominal outcome, so the reply of a batch says which keys failed; error
lines carry no opaque token, so an error may be filed under every silent request around
it ("may have failed"): those keys are reported as failed, never as done.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from emcache._meta_results import MetaCounter, MetaItem, MetaWriteResult, item_of
from emcache._translate import LOWER_ERRORS, reply_error, translate
from emcache.errors import (
    ClientClosedError,
    CommandError,
    MetaNotSupportedError,
    MultiKeyCommandError,
    MultiKeyStorageError,
)
from emcache_cluster import Cluster
from emcache_pool import ConnectionPool
from emcache_pool.errors import MetaNotSupportedError as PoolMetaNotSupportedError
from emcache_protocol import (
    ErrorReply,
    MetaArithmeticMode,
    MetaRequest,
    MetaResult,
    MetaSetMode,
    MetaStatus,
    meta_arithmetic_command,
    meta_batch_command,
    meta_delete_command,
    meta_get_command,
    meta_set_command,
)

__all__ = [
    "MetaArithmeticMode",
    "MetaCommands",
    "MetaCounter",
    "MetaItem",
    "MetaSetMode",
    "MetaStatus",
    "MetaWriteResult",
]

_CLOSED_MESSAGE: Final = "the emcache client is closed"
_VA: Final = MetaStatus.VA
_HD: Final = MetaStatus.HD
_EN: Final = MetaStatus.EN
_NOT_KEY_SEQUENCES: Final = (bytes, bytearray, memoryview, str)
_KEYS_MESSAGE: Final = "keys must be a sequence of bytes"


def _unique_keys(keys: object) -> list[bytes]:
    if isinstance(keys, _NOT_KEY_SEQUENCES):
        raise TypeError(_KEYS_MESSAGE)
    try:
        return list(dict.fromkeys(keys))  # type: ignore[call-overload]
    except TypeError:  # not iterable, or unhashable items
        raise TypeError(_KEYS_MESSAGE) from None


def _failure(reply: MetaResult | ErrorReply) -> str:
    if isinstance(reply, ErrorReply):
        return f"{reply.kind} {reply.message}".rstrip()
    return reply.status.value


class MetaCommands:
    """The meta commands of one client: ``Client`` delegates its meta methods here."""

    __slots__ = ("_cluster", "_is_closed", "_timeout")

    def __init__(
        self, cluster: Cluster, timeout: float | None, is_closed: Callable[[], bool]
    ) -> None:
        self._cluster = cluster
        self._timeout = timeout
        self._is_closed = is_closed

    # -- plumbing ------------------------------------------------------------------------------
    async def _ready(self, pool: ConnectionPool) -> ConnectionPool:
        if pool.meta_supported is not True:
            try:
                await pool.require_meta(timeout=self._timeout)
            except PoolMetaNotSupportedError as exc:
                raise MetaNotSupportedError(str(exc), exc.version) from exc
            except LOWER_ERRORS as exc:
                raise translate(exc) from exc
        return pool

    def _pool(self, key: bytes) -> ConnectionPool:
        if self._is_closed():
            raise ClientClosedError(_CLOSED_MESSAGE)
        return self._cluster.pick_pool(key)

    async def run(self, request: MetaRequest, key: bytes, write: bool) -> MetaResult:
        """Run one meta request on the node of ``key``; an error reply raises CommandError."""
        pool = self._pool(key)
        if pool.meta_supported is not True:
            await self._ready(pool)
        try:
            reply = await pool.execute(request, timeout=self._timeout, key=key if write else None)
        except LOWER_ERRORS as exc:
            raise translate(exc) from exc
        if type(reply) is not MetaResult:
            raise reply_error(reply)
        return reply

    async def _batch_on(
        self, pool: ConnectionPool, requests: list[MetaRequest], keys: list[bytes], write: bool
    ) -> list[MetaResult | ErrorReply | None]:
        await self._ready(pool)
        try:
            reply = await pool.execute(
                meta_batch_command(requests), timeout=self._timeout, key=keys if write else None
            )
        except LOWER_ERRORS as exc:
            raise translate(exc) from exc
        if isinstance(reply, ErrorReply):
            raise reply_error(reply)
        return reply

    async def batch(
        self, keys: list[bytes], encode: Callable[[bytes], MetaRequest], write: bool
    ) -> list[tuple[bytes, MetaResult | ErrorReply | None]]:
        """Send one quiet batch per node, all at once; each key with its reply (None: silent).

        Every request is encoded (so every key validated) before any is sent. If one
        node's batch fails (timeout included), the others are cancelled and it raises.
        """
        if self._is_closed():
            raise ClientClosedError(_CLOSED_MESSAGE)
        if not keys:
            return []
        parts = [
            (pool, [encode(key) for key in pool_keys], pool_keys)
            for pool, pool_keys in self._cluster.pick_pools(keys).items()
        ]
        if len(parts) == 1:
            pool, requests, pool_keys = parts[0]
            return list(
                zip(pool_keys, await self._batch_on(pool, requests, pool_keys, write), strict=True)
            )
        tasks = [asyncio.ensure_future(self._batch_on(p, r, k, write)) for p, r, k in parts]
        try:
            replies = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        return [
            pair
            for (_, _, pool_keys), part in zip(parts, replies, strict=True)
            for pair in zip(pool_keys, part, strict=True)
        ]

    # -- single keys ---------------------------------------------------------------------------
    async def get(
        self,
        key: bytes,
        *,
        return_flags: bool,
        return_cas: bool,
        return_ttl: bool,
        touch_ttl: int | None,
        vivify_ttl: int | None,
        recache_below: int | None,
        no_bump: bool,
    ) -> MetaItem | None:
        request = meta_get_command(
            key,
            return_flags=return_flags,
            return_cas=return_cas,
            return_ttl=return_ttl,
            ttl=touch_ttl,
            vivify_ttl=vivify_ttl,
            recache_below=recache_below,
            no_bump=no_bump,
        )
        reply = await self.run(request, key, touch_ttl is not None or vivify_ttl is not None)
        if reply.status is _EN:
            return None
        return item_of(reply)

    async def set(
        self,
        key: bytes,
        value: bytes,
        *,
        flags: int,
        ttl: int,
        mode: MetaSetMode,
        cas: int | None,
        invalidate: bool,
        return_cas: bool,
    ) -> MetaWriteResult:
        request = meta_set_command(
            key,
            value,
            flags=flags,
            ttl=ttl,
            mode=mode,
            cas=cas,
            invalidate=invalidate,
            return_cas=return_cas,
        )
        reply = await self.run(request, key, True)
        return MetaWriteResult(reply.status, reply.cas)

    async def delete(
        self, key: bytes, *, cas: int | None, invalidate: bool, stale_ttl: int | None
    ) -> MetaWriteResult:
        request = meta_delete_command(key, cas=cas, invalidate=invalidate, ttl=stale_ttl)
        reply = await self.run(request, key, True)
        return MetaWriteResult(reply.status)

    async def arithmetic(
        self,
        key: bytes,
        *,
        delta: int,
        decrement: bool,
        initial: int | None,
        vivify_ttl: int | None,
        ttl: int | None,
        cas: int | None,
        return_cas: bool,
        return_ttl: bool,
    ) -> MetaCounter:
        mode = MetaArithmeticMode.DECREMENT if decrement else MetaArithmeticMode.INCREMENT
        request = meta_arithmetic_command(
            key,
            mode=mode,
            delta=delta,
            initial=initial,
            vivify_ttl=vivify_ttl,
            ttl=ttl,
            cas=cas,
            return_value=True,
            return_cas=return_cas,
            return_ttl=return_ttl,
        )
        reply = await self.run(request, key, True)
        number = None if reply.value is None else int(reply.value)
        return MetaCounter(reply.status, number, reply.cas, reply.ttl)

    # -- many keys -----------------------------------------------------------------------------
    async def set_many(self, items: Mapping[bytes, bytes], *, flags: int, ttl: int) -> None:
        given: object = items  # callers without type checking may pass anything
        if not isinstance(given, Mapping):
            msg = "items must be a mapping of bytes keys to bytes values"
            raise TypeError(msg)
        keys = list(items)
        replies = await self.batch(
            keys, lambda key: meta_set_command(key, items[key], flags=flags, ttl=ttl), True
        )
        failed = {key: _failure(reply) for key, reply in replies if reply is not None}
        if failed:
            raise _many_error(MultiKeyStorageError, "set_many did not store", failed)

    async def delete_many(self, keys: Sequence[bytes]) -> builtins.set[bytes]:
        unique = _unique_keys(keys)
        replies = await self.batch(unique, meta_delete_command, True)
        missing, failed = _sorted_replies(replies, MetaStatus.NF)
        if failed:
            raise _many_error(MultiKeyCommandError, "delete_many failed", failed)
        return {key for key in unique if key not in missing}

    async def touch_many(self, keys: Sequence[bytes], ttl: int) -> builtins.set[bytes]:
        unique = _unique_keys(keys)
        replies = await self.batch(
            unique, lambda key: meta_get_command(key, return_value=False, ttl=ttl), True
        )
        touched, failed = _sorted_replies(replies, _HD)
        if failed:
            raise _many_error(MultiKeyCommandError, "touch_many failed", failed)
        return touched

    async def get_many(
        self, keys: Sequence[bytes], *, return_flags: bool, return_cas: bool
    ) -> dict[bytes, MetaItem]:
        unique = _unique_keys(keys)
        replies = await self.batch(
            unique,
            lambda key: meta_get_command(key, return_flags=return_flags, return_cas=return_cas),
            False,
        )
        found: dict[bytes, MetaItem] = {}
        failed: dict[bytes, str] = {}
        for key, reply in replies:
            if type(reply) is MetaResult and reply.status is _VA:
                found[key] = item_of(reply)
            elif reply is not None:
                failed[key] = _failure(reply)
        if failed:
            raise _many_error(MultiKeyCommandError, "meta_get_many failed", failed)
        return found


def _sorted_replies(
    replies: Iterable[tuple[bytes, MetaResult | ErrorReply | None]], expected: MetaStatus
) -> tuple[builtins.set[bytes], dict[bytes, str]]:
    """The keys whose reply has the ``expected`` status, and the keys that failed."""
    matched: builtins.set[bytes] = builtins.set()
    failed: dict[bytes, str] = {}
    for key, reply in replies:
        if reply is None:
            continue
        if type(reply) is MetaResult and reply.status is expected:
            matched.add(key)
        else:
            failed[key] = _failure(reply)
    return matched, failed


def _many_error(
    cls: type[MultiKeyCommandError], what: str, failed: dict[bytes, str]
) -> CommandError:
    shown = ", ".join(f"{key!r}: {reason}" for key, reason in list(failed.items())[:5])
    more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
    return cls(f"{what} {len(failed)} key(s): {shown}{more}", failed)
