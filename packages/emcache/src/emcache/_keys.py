"""How a view turns an application's key into the key memcached stores.

Strategy: the view's prefix and the key (a ``str`` is encoded as UTF-8) are
joined into the *full key*. A full key that memcached accepts as it is, and
that holds no ``~``, is sent unchanged, so most keys stay readable in ``stats
cachedump`` and can be read with the 1.x bytes API. Any other full key (too
long, holding a byte <= 0x20 or 0x7f, or holding ``~``) is *mapped*::

    readable = full key, each byte <= 0x20, 0x7e ("~") and 0x7f replaced by "_",
               cut to its first 185 bytes
    mapped   = readable + b"~" + sha256(full key).hexdigest()   # at most 250 bytes

Invariants, which tests pin with known-answer vectors:

* The rule never changes: a key maps to the same memcached key in every version,
  so that services on different versions share one cache.
* No two full keys meet on one memcached key. Unchanged keys never hold ``~``
  and mapped keys always do, so the two sets are apart; two mapped keys are
  equal only if the SHA-256 digests of their full keys are. A key is never
  truncated onto another one.
* A prefix is sent unchanged at the head of every key, mapped or not: it must
  itself be a valid key without ``~`` and at most 185 bytes (checked once, when
  the view is made).
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

__all__ = ["MAX_PREFIX_LENGTH", "check_prefix", "map_key"]

MAX_KEY_LENGTH: Final = 250
HASH_MARK: Final = b"~"
# 185 readable bytes + "~" + 64 hex digits = 250, memcached's limit.
MAX_PREFIX_LENGTH: Final = MAX_KEY_LENGTH - len(HASH_MARK) - 2 * hashlib.sha256().digest_size
# Bytes memcached refuses in a key (control characters, space, DEL), and the hash mark.
_NOT_AS_IS: Final = re.compile(rb"[\x00-\x20\x7e\x7f]")
_REPLACEMENT: Final = b"_"


def check_prefix(prefix: str | bytes) -> bytes:
    """The prefix as bytes, once checked to be sent unchanged at the head of every key.

    Raises:
        TypeError: ``prefix`` is neither ``str`` nor ``bytes``.
        ValueError: It is longer than 185 bytes or holds a byte <= 0x20, 0x7f or ``~``.
    """
    raw = _as_bytes(prefix, "prefix")
    if len(raw) > MAX_PREFIX_LENGTH:
        msg = f"prefix must be at most {MAX_PREFIX_LENGTH} bytes, got {len(raw)}"
        raise ValueError(msg)
    if _NOT_AS_IS.search(raw):
        msg = f"prefix must hold no whitespace, control character or '~': {raw!r}"
        raise ValueError(msg)
    return raw


def map_key(prefix: bytes, key: str | bytes) -> bytes:
    """The memcached key of ``key`` under ``prefix`` (a prefix from :func:`check_prefix`).

    Raises:
        TypeError: ``key`` is neither ``str`` nor ``bytes``.
        ValueError: ``key`` is empty.
    """
    raw = _as_bytes(key, "key")
    if not raw:
        msg = "key must not be empty"
        raise ValueError(msg)
    full = prefix + raw
    if len(full) <= MAX_KEY_LENGTH and _NOT_AS_IS.search(full) is None:
        return full
    readable = _NOT_AS_IS.sub(_REPLACEMENT, full[:MAX_PREFIX_LENGTH])
    return readable + HASH_MARK + hashlib.sha256(full).hexdigest().encode("ascii")


def _as_bytes(text: object, name: str) -> bytes:
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, bytes):
        return bytes(text)
    msg = f"{name} must be str or bytes, not {type(text).__name__}"
    raise TypeError(msg)
