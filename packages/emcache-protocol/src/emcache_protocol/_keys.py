"""Validation of keys and numeric arguments, shared by every encoder.

The checks run on every request, so the common case is one C-level call:
a precompiled ``fullmatch`` for keys and a ``type(x) is int`` plus range test
for numbers. Only a failing argument reaches the slower helpers below, which
work out the precise reason and raise with a message naming the argument.

memcached's text protocol separates tokens with spaces and ends a command
with ``\\r\\n``; a key is a token of at most 250 bytes with no control
character (protocol.txt: "the key must not include control characters or
whitespace"). Bytes 0x80..0xff are allowed (UTF-8 keys work).
"""

from __future__ import annotations

import re
from typing import Final

from emcache_protocol.errors import ProtocolValidationError

__all__ = ["MAX_KEY_LENGTH", "validate_key"]

MAX_KEY_LENGTH: Final = 250
U32_MAX: Final = 2**32 - 1
U64_MAX: Final = 2**64 - 1
I32_MIN: Final = -(2**31)
I32_MAX: Final = 2**31 - 1

# A search for a forbidden byte is about twice as fast as a bounded fullmatch.
_BAD_KEY_BYTE: Final = re.compile(rb"[\x00-\x20\x7f]")
bad_key_byte: Final = _BAD_KEY_BYTE.search


def is_token(data: bytes) -> bool:
    """Whether ``data`` is a valid key-like token: 1..250 bytes, none <= 0x20 nor 0x7f."""
    return 0 < len(data) <= MAX_KEY_LENGTH and bad_key_byte(data) is None


def validate_key(key: bytes) -> None:
    """Check that ``key`` can be sent as a memcached key.

    Args:
        key: The key to check.

    Raises:
        TypeError: ``key`` is not ``bytes``.
        ProtocolValidationError: ``key`` is empty, longer than 250 bytes, or holds a
            byte <= 0x20 (whitespace, control) or 0x7f. A ``ValueError``.
    """
    if type(key) is not bytes or not 0 < len(key) <= MAX_KEY_LENGTH or bad_key_byte(key):
        check_key_slow(key)


def check_key_slow(key: object, name: str = "key") -> None:
    """Raise the precise error for a key that failed the fast check."""
    if not isinstance(key, bytes):
        msg = f"{name} must be bytes, not {type(key).__name__}"
        raise TypeError(msg)
    if not key:
        msg = f"{name} must not be empty"
        raise ProtocolValidationError(msg)
    if len(key) > MAX_KEY_LENGTH:
        msg = f"{name} must be at most {MAX_KEY_LENGTH} bytes, got {len(key)}"
        raise ProtocolValidationError(msg)
    bad = _BAD_KEY_BYTE.search(key)
    if bad is not None:
        msg = f"{name} must not contain whitespace or control bytes, found {bad.group()!r}"
        raise ProtocolValidationError(msg)


def check_int_slow(name: str, value: object, low: int, high: int) -> int:
    """Validate a number that failed the fast ``type(x) is int`` and range test.

    Returns:
        The value as a plain ``int`` (an ``int`` subclass such as an ``IntEnum`` passes).
    """
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"{name} must be an int, not {type(value).__name__}"
        raise TypeError(msg)
    if not low <= value <= high:
        msg = f"{name} must be in {low}..{high}, got {value}"
        raise ProtocolValidationError(msg)
    return int(value)


def check_int(name: str, value: object, low: int, high: int) -> int:
    """Validate an ``int`` argument in ``low..high`` (``bool`` is refused)."""
    if type(value) is int and low <= value <= high:
        return value
    return check_int_slow(name, value, low, high)


def as_value_bytes(value: object) -> bytes | bytearray:
    """Accept the bytes-like types a value may have; refuse text and anything else."""
    if isinstance(value, bytes | bytearray):
        return value
    if isinstance(value, memoryview):
        return value.tobytes()
    msg = f"value must be bytes, bytearray or memoryview, not {type(value).__name__}"
    raise TypeError(msg)
