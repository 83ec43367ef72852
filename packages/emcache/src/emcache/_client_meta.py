"""The meta-protocol and herd-control methods of :class:`~emcache.Client`.

They sit in their own class, which ``Client`` inherits, so that ``_client.py``
holds the emcache 1.x commands and this module the commands built on ``mg``,
``ms``, ``md`` and ``ma`` (memcached >= 1.6.10). Each method is a typed front
for :class:`~emcache._meta.MetaCommands` or :class:`~emcache._herd.Herd`, which
do the work; the keyword arguments are spelled out so that type checkers and
the reference documentation see every one.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence

from emcache._herd import FetchResult, Herd, Loader
from emcache._meta import MetaCommands, MetaSetMode
from emcache._meta_results import MetaCounter, MetaItem, MetaWriteResult

__all__ = ["MetaMethods"]


class MetaMethods:
    """The meta and herd-control commands; mixed into :class:`~emcache.Client`."""

    __slots__ = ()

    _meta: MetaCommands
    _herd: Herd

    # -- meta commands (memcached >= 1.6.10) ---------------------------------------------------
    async def meta_get(
        self,
        key: bytes,
        *,
        return_flags: bool = False,
        return_cas: bool = False,
        return_ttl: bool = False,
        touch_ttl: int | None = None,
        vivify_ttl: int | None = None,
        recache_below: int | None = None,
        no_bump: bool = False,
    ) -> MetaItem | None:
        """Read an item with ``mg``; None for a miss. See :doc:`/herd-control`.

        Args:
            key: The key.
            return_flags: Fill :attr:`MetaItem.flags`.
            return_cas: Fill :attr:`MetaItem.cas`.
            return_ttl: Fill :attr:`MetaItem.ttl` (seconds left, -1 never expires).
            touch_ttl: Set a new TTL on a hit (``T``).
            vivify_ttl: On a miss, create an empty item living this long and win it
                (``N``): :attr:`MetaItem.won` for this caller, ``winner_pending`` for the next.
            recache_below: Win the right to recompute a hit with less TTL left (``R``).
            no_bump: Leave the item's LRU position and fetched state alone (``u``).

        Raises:
            MetaNotSupportedError: The key's node does not speak the meta commands.
        """
        return await self._meta.get(
            key,
            return_flags=return_flags,
            return_cas=return_cas,
            return_ttl=return_ttl,
            touch_ttl=touch_ttl,
            vivify_ttl=vivify_ttl,
            recache_below=recache_below,
            no_bump=no_bump,
        )

    async def meta_set(
        self,
        key: bytes,
        value: bytes,
        *,
        flags: int = 0,
        ttl: int = 0,
        mode: MetaSetMode = MetaSetMode.SET,
        cas: int | None = None,
        invalidate: bool = False,
        return_cas: bool = False,
    ) -> MetaWriteResult:
        """Store a value with ``ms``; the result's status says what happened (no error for NS/EX).

        Args:
            mode: Set, add, replace, append or prepend (:class:`MetaSetMode`).
            cas: Store only if the item's cas token is this one (``EX`` otherwise).
            invalidate: With ``cas``, accept an older cas but mark the item stale (``I``).
            return_cas: Fill :attr:`MetaWriteResult.cas` with the stored item's token.

        Raises:
            MetaNotSupportedError: The key's node does not speak the meta commands.
        """
        return await self._meta.set(
            key,
            value,
            flags=flags,
            ttl=ttl,
            mode=mode,
            cas=cas,
            invalidate=invalidate,
            return_cas=return_cas,
        )

    async def meta_delete(
        self,
        key: bytes,
        *,
        cas: int | None = None,
        invalidate: bool = False,
        ttl: int | None = None,
    ) -> MetaWriteResult:
        """Delete with ``md``, or with ``invalidate`` mark the item stale, keeping it ``ttl`` s."""
        return await self._meta.delete(key, cas=cas, invalidate=invalidate, stale_ttl=ttl)

    async def meta_arithmetic(
        self,
        key: bytes,
        *,
        delta: int = 1,
        decrement: bool = False,
        initial: int | None = None,
        vivify_ttl: int | None = None,
        ttl: int | None = None,
        cas: int | None = None,
        return_cas: bool = False,
        return_ttl: bool = False,
    ) -> MetaCounter:
        """Add (or subtract) ``delta`` with ``ma``; with ``vivify_ttl`` a missing counter
        is created at ``initial``. The result holds the new number."""
        return await self._meta.arithmetic(
            key,
            delta=delta,
            decrement=decrement,
            initial=initial,
            vivify_ttl=vivify_ttl,
            ttl=ttl,
            cas=cas,
            return_cas=return_cas,
            return_ttl=return_ttl,
        )

    async def meta_get_many(
        self, keys: Sequence[bytes], *, return_flags: bool = False, return_cas: bool = False
    ) -> dict[bytes, MetaItem]:
        """:meth:`get_many` over meta: one quiet ``mg`` batch per node; the hits, by key.

        Raises:
            MultiKeyCommandError: Some keys failed (``failed`` names them).
        """
        return await self._meta.get_many(keys, return_flags=return_flags, return_cas=return_cas)

    async def set_many(
        self, items: Mapping[bytes, bytes], *, flags: int = 0, exptime: int = 0
    ) -> None:
        """Store many values: one quiet ``ms`` batch per node, all nodes at once.

        Raises:
            MultiKeyStorageError: Some values were not stored (``failed`` names their
                keys); every other one was.
        """
        await self._meta.set_many(items, flags=flags, ttl=exptime)

    async def delete_many(self, keys: Sequence[bytes]) -> builtins.set[bytes]:
        """Delete many keys in one quiet ``md`` batch per node; returns the keys deleted.

        Raises:
            MultiKeyCommandError: Some keys failed (``failed`` names them).
        """
        return await self._meta.delete_many(keys)

    async def touch_many(self, keys: Sequence[bytes], exptime: int) -> builtins.set[bytes]:
        """Set a new expiration time on many keys (quiet ``mg`` batches); returns the keys touched.

        Raises:
            MultiKeyCommandError: Some keys failed (``failed`` names them).
        """
        return await self._meta.touch_many(keys, exptime)

    # -- herd control --------------------------------------------------------------------------
    async def fetch(
        self,
        key: bytes,
        loader: Loader,
        *,
        ttl: int,
        flags: int = 0,
        stale_for: int | None = None,
        recompute_before: int | None = None,
        wait: float = 3.0,
        lease_ttl: int = 10,
    ) -> FetchResult:
        """Read ``key``; on a miss exactly one caller runs ``loader`` and stores its value.

        The others wait for that value, polling for ``wait`` seconds at most, or are served
        the old value when there is one (flagged :attr:`FetchResult.stale`). See
        :doc:`/herd-control`.

        Args:
            key: The key.
            loader: A coroutine function computing the value (bytes).
            ttl: Seconds the value is fresh (0: never expires).
            flags: The flags stored with the value.
            stale_for: Keep the value this many seconds after ``ttl``, served flagged
                stale while one caller recomputes it in the background.
            recompute_before: Recompute this many seconds before ``ttl`` ends, in the
                background, while everybody gets the current value.
            wait: Seconds a caller waits for the value another caller computes.
            lease_ttl: Seconds the right to compute lasts when its holder dies.

        Raises:
            FetchWaitTimeoutError: No value came within ``wait`` seconds.
            MetaNotSupportedError: The key's node does not speak the meta commands.
            ValueError: A duration is out of range.
            Exception: Whatever ``loader`` raised, for the caller that ran it.
        """
        return await self._herd.fetch(
            key,
            loader,
            ttl=ttl,
            flags=flags,
            stale_for=stale_for,
            recompute_before=recompute_before,
            wait=wait,
            lease_ttl=lease_ttl,
        )

    async def invalidate(self, key: bytes, *, stale_for: int) -> bool:
        """Mark the value stale instead of deleting it (``md I``): for ``stale_for`` seconds
        :meth:`fetch` serves it flagged stale while exactly one caller recomputes it.

        Returns:
            True if the key existed.
        """
        return await self._herd.invalidate(key, stale_for=stale_for)
