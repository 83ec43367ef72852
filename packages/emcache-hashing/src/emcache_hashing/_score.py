"""The emcache 1.x rendezvous score.

Take the 16-byte MurmurHash3 x64_128 digest (seed 0) of the scored bytes and
its first four bytes b0..b3. The C code of emcache 1.x reads them as
``signed char``, so each byte is sign-extended to 32 bits (``sx``) before
masking::

    score = (sx(b3) & 0xFF000000) | (sx(b2) & 0xFFFF0000)
          | (sx(b1) & 0xFFFFFF00) | sx(b0)                  (unsigned 32-bit)

The masks are not shifts: of b1..b3 they keep only the bits that sign
extension fills in, never the bytes' own bits. So only b0 and three sign bits
matter, and the score takes one of 640 values:

====================================  =====================
first four bytes                      score
====================================  =====================
b0 >= 0x80                            ``0xFFFFFF00 | b0``
b0 < 0x80, b1 >= 0x80                 ``0xFFFFFF00 | b0``
b0, b1 < 0x80, b2 >= 0x80             ``0xFFFF0000 | b0``
b0, b1, b2 < 0x80, b3 >= 0x80         ``0xFF000000 | b0``
all four < 0x80                       ``b0``
====================================  =====================
"""

from __future__ import annotations

from mmh3 import hash_bytes

__all__ = ["score"]


def score(data: bytes) -> int:
    """Return the emcache 1.x rendezvous score of ``data``, an unsigned 32-bit int.

    ``data`` is ``key + node_id`` when scoring a node for a key, and the node
    id alone for the tie-break. This is the table of the module docstring.

    Args:
        data: The bytes to score.

    Returns:
        The score, 0 <= score < 2**32.
    """
    digest = hash_bytes(data)
    b0 = digest[0]
    if b0 >= 0x80 or digest[1] >= 0x80:
        return 0xFFFFFF00 | b0
    if digest[2] >= 0x80:
        return 0xFFFF0000 | b0
    if digest[3] >= 0x80:
        return 0xFF000000 | b0
    return b0
