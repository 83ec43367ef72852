"""Herd control: ``fetch`` (cache-aside with one loader per key) and ``invalidate``.

Strategy. Every ``fetch`` reads with ``mg <key> N<lease_ttl> R<window> v c t f``, and
memcached decides who recomputes: the one reader that gets ``W``.

* A miss creates an empty placeholder living ``lease_ttl`` seconds and gives its reader
  the win: that caller runs the loader and stores the value with ``C<cas>`` (an ``EX``
  there means the item was invalidated meanwhile: the value is returned, not stored).
  The others see ``Z`` on an empty value and poll with backoff, for ``wait`` seconds at
  most (then :class:`~emcache.FetchWaitTimeoutError`).
* A value that has less than ``window`` seconds to live, or one marked stale by
  ``invalidate``, is served to everybody; its ``W`` reader also starts one refresh in
  the background (the client keeps the task, and cancels it on close).

A lease never outlives a failure. A loader that raises or is cancelled gives its lease
back: the placeholder is deleted (``md C<cas>``), a served value is marked stale again
(``md C<cas> I``), which clears the win, so the next reader wins. A winner that dies
holds the lease until the placeholder's TTL, ``lease_ttl``, ends.

``stale_for`` and ``recompute_before`` both widen the window of ``R``: a value is stored
for ``ttl + stale_for`` seconds, and served flagged stale in its last ``stale_for``
seconds while one caller recomputes it; ``recompute_before`` starts that refresh so many
seconds earlier, while the value is still fresh.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from emcache._meta import MetaCommands
from emcache.errors import CacheUnavailableError, ClientClosedError, FetchWaitTimeoutError
from emcache_protocol import (
    MetaRequest,
    MetaResult,
    MetaStatus,
    meta_delete_command,
    meta_get_command,
    meta_set_command,
)

__all__ = ["FetchResult", "Herd", "Loader"]

Loader = Callable[[], Awaitable[bytes]]
"""A coroutine function computing a value: called without arguments, returns bytes."""

_LOG: Final = logging.getLogger("emcache.herd")
_FIRST_DELAY: Final = 0.005
_MAX_DELAY: Final = 0.05
_EN: Final = MetaStatus.EN


@dataclasses.dataclass(frozen=True, slots=True)
class FetchResult:
    """The value ``fetch`` returns, and where it came from.

    Attributes:
        value: The value.
        flags: The flags stored with it.
        stale: The value is an old one, served while one caller recomputes it: it was
            invalidated, or it is in the last ``stale_for`` seconds of its life.
        loaded: This call ran the loader (it won a miss).
        refreshing: This call started the one background refresh of the value.
    """

    value: bytes
    flags: int = 0
    stale: bool = False
    loaded: bool = False
    refreshing: bool = False


def _check_seconds(name: str, value: object, low: int) -> int:
    if type(value) is not int or value < low:
        msg = f"{name} must be an int >= {low}, got {value!r}"
        raise ValueError(msg)
    return value


class Herd:
    """The herd-control part of a client, and its background refreshes."""

    __slots__ = ("_meta", "_tasks")

    def __init__(self, meta: MetaCommands) -> None:
        self._meta = meta
        self._tasks: set[asyncio.Task[None]] = set()

    def close(self) -> None:
        """Cancel the background refreshes and lease releases still running."""
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    async def fetch(
        self,
        key: bytes,
        loader: Loader,
        *,
        ttl: int,
        flags: int,
        stale_for: int | None,
        recompute_before: int | None,
        wait: float,
        lease_ttl: int,
    ) -> FetchResult:
        _check_seconds("ttl", ttl, 0)
        _check_seconds("lease_ttl", lease_ttl, 1)
        stale = 0 if stale_for is None else _check_seconds("stale_for", stale_for, 1)
        early = (
            0
            if recompute_before is None
            else _check_seconds("recompute_before", recompute_before, 1)
        )
        if (stale or early) and ttl == 0:
            msg = "stale_for and recompute_before need a ttl > 0: such an item is never recomputed"
            raise ValueError(msg)
        if not wait > 0:
            msg = f"wait must be > 0 seconds, got {wait!r}"
            raise ValueError(msg)
        request = meta_get_command(
            key,
            vivify_ttl=lease_ttl,
            recache_below=(stale + early) or None,
            return_cas=True,
            return_ttl=True,
            return_flags=True,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        delay = _FIRST_DELAY
        while True:
            reply = await self._meta.run(request, key, False)
            value = reply.value or b""
            placeholder = not value and not reply.stale and reply.status is not _EN
            if (reply.won and placeholder) or reply.status is _EN:
                loaded = await self._load(key, loader, reply.cas, ttl + stale, flags)
                return FetchResult(loaded, flags, loaded=True)
            if not (placeholder and reply.winner_pending):
                is_stale = reply.stale or (
                    stale > 0 and reply.ttl is not None and 0 <= reply.ttl < stale
                )
                if reply.won:
                    self._spawn(self._refresh(key, loader, reply, ttl + stale, flags))
                return FetchResult(value, reply.flags or 0, is_stale, refreshing=reply.won)
            remaining = deadline - loop.time()
            if remaining <= 0:
                msg = f"fetch waited {wait} s for the value of {key!r} another caller computes"
                raise FetchWaitTimeoutError(msg)
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, _MAX_DELAY)

    async def invalidate(self, key: bytes, *, stale_for: int) -> bool:
        _check_seconds("stale_for", stale_for, 1)
        reply = await self._meta.run(
            meta_delete_command(key, invalidate=True, ttl=stale_for), key, True
        )
        return reply.status is MetaStatus.HD

    # -- the winner's work ---------------------------------------------------------------------
    async def _load(
        self, key: bytes, loader: Loader, cas: int | None, ttl: int, flags: int
    ) -> bytes:
        """Run the loader for a won placeholder, store its value, give the lease back on failure."""
        try:
            value = await loader()
        except BaseException:
            # Deleting the placeholder lets the next reader win at once.
            self._spawn(self._release(meta_delete_command(key, cas=cas), key))
            raise
        await self._store(key, value, cas, ttl, flags)
        return value

    async def _refresh(
        self, key: bytes, loader: Loader, reply: MetaResult, ttl: int, flags: int
    ) -> None:
        try:
            value = await loader()
        except BaseException as exc:
            # Marking the item stale again clears the win: the next reader refreshes.
            left = reply.ttl if reply.ttl is not None and reply.ttl > 0 else None
            release = meta_delete_command(key, cas=reply.cas, invalidate=True, ttl=left)
            self._spawn(self._release(release, key))
            if not isinstance(exc, Exception):
                raise
            _LOG.warning("a background refresh failed (keys are not logged)", exc_info=True)
            return
        try:
            await self._store(key, value, reply.cas, ttl, flags)
        except Exception:
            _LOG.warning("could not store a refreshed value (keys are not logged)", exc_info=True)

    async def _store(self, key: bytes, value: bytes, cas: int | None, ttl: int, flags: int) -> None:
        try:
            await self._meta.run(
                meta_set_command(key, value, ttl=ttl, flags=flags, cas=cas), key, True
            )
        except CacheUnavailableError:
            # The caller has its value; the lease ends with its TTL.
            _LOG.warning("could not store a loaded value (keys are not logged)", exc_info=True)

    async def _release(self, request: MetaRequest, key: bytes) -> None:
        try:
            await self._meta.run(request, key, True)
        except ClientClosedError:
            pass  # closing: the lease ends with its TTL
        except CacheUnavailableError:
            _LOG.warning("could not give back a lease (keys are not logged)", exc_info=True)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
