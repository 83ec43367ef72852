"""The typed results of the meta commands of memcached >= 1.6 (mg, ms, md, ma, mn).

A meta reply is a two-letter return code, for ``VA`` a length and a data block, and
the return flags the request asked for (protocol.txt, "Meta Commands"). Every meta
request gets one :class:`MetaResult`; its fields are ``None`` (or ``False``) unless
the request asked for them, or unless the server added them on its own (``W``, ``X``
and ``Z``, the herd-control flags).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = ["MetaResult", "MetaStatus"]


class MetaStatus(enum.Enum):
    """The return code of a meta reply.

    Attributes:
        HD: Success without a value: stored (``ms``), deleted (``md``), a hit of an ``mg``
            that asked for no value, a done ``ma`` that asked for none.
        VA: Success with a value: a hit of ``mg`` (or the new number of ``ma``) with the
            data block.
        EN: ``mg`` missed: the item is not there.
        NF: Not found: ``md``, ``ma``, or an ``ms`` with a cas or in append mode, on a
            missing item.
        NS: Not stored: ``ms`` in add or replace mode whose condition failed, or an ``ma``
            that could not create its item.
        EX: Exists: the cas given with ``C`` does not match the item's.
        MN: The answer to ``mn`` (the end of a pipeline).
    """

    HD = "HD"
    VA = "VA"
    EN = "EN"
    NF = "NF"
    NS = "NS"
    EX = "EX"
    MN = "MN"


class MetaResult(NamedTuple):
    """The reply to one meta request.

    A ``NamedTuple`` because the parser builds one per reply on the hot path.

    Attributes:
        status: The return code.
        value: The data block of a ``VA`` reply (for ``ma``, the new number in decimal
            digits), ``None`` otherwise.
        flags: The client flags (return flag ``f``).
        cas: The item's cas unique (``c``).
        ttl: Seconds of life left (``t``); ``-1`` when the item never expires.
        key: The key (``k``), as the request named it; a base64 key (reply flag ``b``)
            is decoded, so this is always the real key.
        opaque: The opaque token echoed back (``O``).
        won: ``W``: this caller won the right to recompute the item (a vivified miss, a
            recache window, or a stale item nobody else won yet).
        stale: ``X``: the item was marked stale (``md`` with ``I``, or an ``ms`` with an
            older cas and ``I``); its value may still be served while it is recomputed.
        winner_pending: ``Z``: another caller already won and is recomputing the item.
        hit_before: Whether the item had been fetched before this request (``h``).
        last_access: Seconds since the item was last accessed, before this request (``l``).
        size: The size of the item's value in bytes (``s``).
    """

    status: MetaStatus
    value: bytes | None = None
    flags: int | None = None
    cas: int | None = None
    ttl: int | None = None
    key: bytes | None = None
    opaque: bytes | None = None
    won: bool = False
    stale: bool = False
    winner_pending: bool = False
    hit_before: bool | None = None
    last_access: int | None = None
    size: int | None = None
