"""The value class returned by the retrieval commands."""

from __future__ import annotations

import attrs

__all__ = ["Item"]


@attrs.define(slots=True)
class Item:
    """A value read from memcached.

    Attributes:
        value: The bytes stored.
        flags: The flags stored with the value, or None unless ``return_flags=True``.
        cas: The cas token, or None unless the command was a ``gets``/``gats`` variant.
    """

    value: bytes
    flags: int | None
    cas: int | None
