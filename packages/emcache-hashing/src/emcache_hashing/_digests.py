"""The 32-bit key hashes of libmemcached that ketama routing needs.

- ``one_at_a_time``: Bob Jenkins' one-at-a-time hash, libmemcached's default
  (``MEMCACHED_HASH_DEFAULT``, pylibmc's ``"hash": "default"``). libmemcached
  reads the key through a C ``char``, which is signed on the platforms it is
  built for, so a byte >= 0x80 enters the sum sign-extended to 32 bits
  (0xFFFFFF80 for 0x80), not as itself. ASCII keys are unaffected.
- ``md5``: the first four bytes of the key's MD5 digest, read little-endian
  (``MEMCACHED_HASH_MD5``, pylibmc's ``"hash": "md5"``).

Both return unsigned 32-bit ints. one-at-a-time runs a Python loop per key
byte, about 40 ns a byte; md5 runs in C (hashlib) and costs the same for any
key up to 55 bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from hashlib import md5 as _md5
from typing import Literal

__all__ = ["KEY_HASHES", "Digest", "KeyHash", "md5", "md5_words", "one_at_a_time"]

KeyHash = Literal["one_at_a_time", "md5"]
"""The names of the key hashes, as :class:`~emcache_hashing.Ketama` takes them."""
Digest = Callable[[bytes], int]
"""A 32-bit hash of bytes."""

_MASK = 0xFFFFFFFF
# A byte as libmemcached adds it: through a signed char, widened to uint32_t.
_SIGNED = tuple(byte | 0xFFFFFF00 if byte >= 0x80 else byte for byte in range(256))
_FIRST_WORD = struct.Struct("<I").unpack_from
_FOUR_WORDS = struct.Struct("<4I").unpack


def one_at_a_time(data: bytes) -> int:
    """Return libmemcached's one-at-a-time hash of ``data``.

    Per byte ``b`` (sign-extended as above): ``h += b; h += h << 10; h ^= h >> 6``;
    then ``h += h << 3; h ^= h >> 11; h += h << 15``, all modulo 2**32.
    """
    h = 0
    if data.isascii():
        for byte in data:
            h = ((h + byte) * 1025) & _MASK
            h ^= h >> 6
    else:
        for byte in data:
            h = ((h + _SIGNED[byte]) * 1025) & _MASK
            h ^= h >> 6
    h = (h * 9) & _MASK
    h ^= h >> 11
    return (h * 32769) & _MASK


def md5(data: bytes) -> int:
    """Return the first four bytes of the MD5 digest of ``data``, little-endian."""
    word: int = _FIRST_WORD(_md5(data).digest())[0]
    return word


def md5_words(data: bytes) -> tuple[int, int, int, int]:
    """Return the four little-endian 32-bit words of the MD5 digest of ``data``.

    libmemcached's weighted ketama places four continuum points per digest.
    """
    words: tuple[int, int, int, int] = _FOUR_WORDS(_md5(data).digest())
    return words


KEY_HASHES: dict[str, Digest] = {"one_at_a_time": one_at_a_time, "md5": md5}
"""The key hash functions by name."""
