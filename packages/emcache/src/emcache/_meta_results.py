"""What the meta commands of the facade return: items, write outcomes and counters.

Frozen value classes, so that a result can be shared and cached safely; each is
read from a :class:`~emcache_protocol.MetaResult` and holds only what the caller
asked the server to return.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from emcache_protocol import MetaResult, MetaStatus

__all__ = ["MetaCounter", "MetaItem", "MetaWriteResult", "item_of"]

_VA: Final = MetaStatus.VA
_HD: Final = MetaStatus.HD


@dataclasses.dataclass(frozen=True, slots=True)
class MetaItem:
    """An item read by ``meta_get``.

    Attributes:
        value: The value; ``b""`` for the placeholder a vivifying read created.
        flags: The client flags, if asked for (``return_flags``).
        cas: The cas token, if asked for (``return_cas``).
        ttl: Seconds of life left, if asked for (``return_ttl``); -1 never expires.
        won: This caller won the right to recompute the item (``W``): a vivified miss,
            the recache window, or a stale item nobody won yet.
        stale: The item was invalidated (``X``): its value is the old one.
        winner_pending: Another caller already won and is recomputing the item (``Z``).
    """

    value: bytes
    flags: int | None = None
    cas: int | None = None
    ttl: int | None = None
    won: bool = False
    stale: bool = False
    winner_pending: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class MetaWriteResult:
    """The outcome of ``meta_set`` or ``meta_delete``.

    Attributes:
        status: ``HD`` done; ``NS`` not stored (the mode's condition failed); ``EX`` the
            cas did not match; ``NF`` the item does not exist.
        cas: The cas token of the stored item, if asked for (``return_cas``).
    """

    status: MetaStatus
    cas: int | None = None

    @property
    def ok(self) -> bool:
        """True when the write was done (``HD``)."""
        return self.status is _HD


@dataclasses.dataclass(frozen=True, slots=True)
class MetaCounter:
    """The outcome of ``meta_arithmetic``.

    Attributes:
        status: ``HD``/``VA`` done; ``NF`` the item does not exist; ``NS`` it could not
            be created; ``EX`` the cas did not match.
        value: The new number, when the counter changed (or was created).
        cas: The cas token, if asked for.
        ttl: Seconds of life left, if asked for.
    """

    status: MetaStatus
    value: int | None = None
    cas: int | None = None
    ttl: int | None = None

    @property
    def ok(self) -> bool:
        """True when the counter changed (or was created)."""
        return self.status is _VA or self.status is _HD


def item_of(reply: MetaResult) -> MetaItem:
    """The facade item of a ``VA`` (or ``HD``) reply of ``mg``."""
    value = reply.value
    return MetaItem(
        b"" if value is None else value,
        reply.flags,
        reply.cas,
        reply.ttl,
        reply.won,
        reply.stale,
        reply.winner_pending,
    )
