"""Whole multi-value retrieval replies, read column by column.

A reply to a get of many keys is a run of ``VALUE`` lines and data blocks
closed by ``END``. Reading it one value at a time costs a regex match and a
handful of Python operations per value. When the whole reply is already
buffered and no data block holds ``\\r\\n`` (the usual case), one ``split``
cuts it into header and data pieces, and every check and conversion runs
over a whole column at once, in C (``map``, ``zip``, ``join``).

Correctness does not rest on the guess. The result is the one the
value-at-a-time reader would give only if each data piece has exactly the
length its header announces: then reading by length, the way the protocol
defines it, meets the same ``\\r\\n`` boundaries. Whenever a check fails (a
data block containing ``\\r\\n``, a malformed header, a miss pattern that
needs skipping), :func:`read_whole_reply` returns ``None`` and the caller
falls back to the general reader, which either parses the reply or raises.

What it pays end to end: a ``get_many`` of 100 keys on one node (32 tasks
through ``emcache.create_client``, 2 s runs, client CPU time per call, median
of 6 alternating runs) cost 151.7 us with this reader and 167.8 us without it
(+10.6%), so it stays. The general reader remains the reference:
``test_bulk.py`` holds this one to its results.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Final

from emcache_protocol._keys import MAX_KEY_LENGTH, U32_MAX, U64_MAX, bad_key_byte
from emcache_protocol._replies import Value

__all__ = ["read_whole_reply"]

_END: Final = b"\r\nEND\r\n"
_new_value: Final = tuple.__new__
_split: Final = bytes.split


def _numbers(column: tuple[bytes, ...], digits: int, limit: int) -> list[int] | None:
    """The column as ints if every entry is 1..``digits`` ASCII digits and at most ``limit``."""
    if not b"".join(column).isdigit() or min(map(len, column)) < 1:
        return None
    if max(map(len, column)) > digits:
        return None
    numbers = list(map(int, column))
    if max(numbers) > limit:
        return None
    return numbers


def read_whole_reply(
    buf: bytes, pos: int, keys: Sequence[bytes] | None, max_value_size: int
) -> tuple[list[Value], int] | None:
    """Read a complete multi-value reply starting at ``pos``.

    Returns:
        The values and the offset just past ``END``, or ``None`` when the fast
        reading does not apply (the caller then uses the general reader).
    """
    stop = buf.find(_END, pos)
    if stop < 0:
        return None
    pieces = buf[pos:stop].split(b"\r\n")
    count = len(pieces) // 2
    if len(pieces) != 2 * count or count < 2:
        return None
    datas = pieces[1::2]
    fields = list(map(_split, pieces[0::2], repeat(b" ", count)))
    width = len(fields[0])
    if width not in (4, 5) or min(map(len, fields)) != max(map(len, fields)):
        return None
    columns = list(zip(*fields, strict=True))
    if columns[0].count(b"VALUE") != count:
        return None
    sizes = _numbers(columns[3], 20, max_value_size)
    if sizes is None or sizes != list(map(len, datas)):
        return None
    flags: Sequence[int] | repeat[int] | None
    if columns[2].count(b"0") == count:
        flags = repeat(0, count)  # the usual case: no flags at all
    else:
        flags = _numbers(columns[2], 10, U32_MAX)
        if flags is None:
            return None
    if width == 5:
        cas: Sequence[int | None] | repeat[None] | None = _numbers(columns[4], 20, U64_MAX)
        if cas is None:
            return None
    else:
        cas = repeat(None, count)
    found: Sequence[bytes] = columns[1]
    if keys is None:
        if max(map(len, found)) > MAX_KEY_LENGTH or bad_key_byte(b"".join(found)):
            return None
        if min(map(len, found)) < 1:
            return None
    elif len(keys) == count and found == tuple(keys):
        found = keys
    else:
        return None  # misses to skip: the general reader checks the order
    values = zip(found, flags, datas, cas, strict=False)  # every column has count entries
    return list(map(_new_value, repeat(Value, count), values)), stop + len(_END)
