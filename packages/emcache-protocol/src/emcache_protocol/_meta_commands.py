"""Encoders of the meta commands: ``mg``, ``ms``, ``md``, ``ma``, ``mn``, and quiet batches.

Strategy. Each meta flag of memcached's protocol.txt ("Meta Commands") is a typed
keyword argument, checked like the arguments of the classic encoders before any byte
is produced; the encoder writes only the flags asked for. Every request carries its
key in :attr:`~emcache_protocol.Request.keys`, so that a key echoed by the server
(``k``) is checked against it: a reply is never taken for another key's.

Keys. A text key follows the rules of the classic commands (1..250 bytes, no
whitespace or control byte) and is sent as it is. With ``base64=True`` any bytes are
accepted as a key: one that is not a valid text key is sent base64-encoded with the
``b`` flag (memcached >= 1.6.10), and memcached stores the decoded bytes, so the
item is the same whichever way its key travelled. A binary key may hold at most
:data:`MAX_BINARY_KEY_LENGTH` bytes (its base64 form must fit in 250).

Quiet mode. A request in quiet mode (``q``) gets no reply at all when the outcome
is the nominal one (a miss of ``mg``, a stored ``ms``, a deleted ``md``, a done
``ma``), so a reader matching replies to requests in order would hand the next
reply to the wrong request. These encoders therefore never set ``q``: quiet
requests only travel inside a batch (:mod:`emcache_protocol._meta_batch`).

Limits (memcached 1.6.18, proto_text.c): at most 17 flags on an ``mg`` line and 16
on an ``ms`` line, which every combination of these arguments fits, ``q`` and ``O``
included; an opaque token of at most 31 bytes.
"""

from __future__ import annotations

import binascii
import enum
from itertools import compress
from typing import Final

from emcache_protocol._keys import (
    I32_MAX,
    I32_MIN,
    U32_MAX,
    U64_MAX,
    as_value_bytes,
    check_int,
    check_key_slow,
    is_token,
)
from emcache_protocol._replies import ReplyKind
from emcache_protocol._requests import MetaRequest, Request, new_request
from emcache_protocol.errors import ProtocolValidationError

__all__ = [
    "MAX_BINARY_KEY_LENGTH",
    "MAX_OPAQUE_LENGTH",
    "MetaArithmeticMode",
    "MetaSetMode",
    "meta_arithmetic_command",
    "meta_delete_command",
    "meta_get_command",
    "meta_set_command",
]

MAX_BINARY_KEY_LENGTH: Final = 186
"""The longest binary key (``base64=True``): its base64 form is at most 250 bytes."""
MAX_OPAQUE_LENGTH: Final = 31
"""The longest opaque token memcached echoes (it refuses a longer ``O`` token)."""

_META_GET: Final = ReplyKind.META_GET
_META_SET: Final = ReplyKind.META_SET
_META_DELETE: Final = ReplyKind.META_DELETE
_META_ARITHMETIC: Final = ReplyKind.META_ARITHMETIC


class MetaSetMode(enum.Enum):
    """The mode of ``ms`` (flag ``M``): which classic storage command it acts as."""

    SET = "S"
    ADD = "E"
    APPEND = "A"
    PREPEND = "P"
    REPLACE = "R"


class MetaArithmeticMode(enum.Enum):
    """The mode of ``ma`` (flag ``M``)."""

    INCREMENT = "I"
    DECREMENT = "D"


def _key_tokens(key: object, base64: bool) -> list[bytes]:
    """The command's key token, followed by ``b`` when the key travels in base64."""
    if type(key) is bytes and is_token(key):
        return [key]
    if not base64:
        check_key_slow(key)
    if not isinstance(key, bytes):
        msg = f"key must be bytes, not {type(key).__name__}"
        raise TypeError(msg)
    if not 0 < len(key) <= MAX_BINARY_KEY_LENGTH:
        msg = f"a binary key must be 1..{MAX_BINARY_KEY_LENGTH} bytes, got {len(key)}"
        raise ProtocolValidationError(msg)
    return [binascii.b2a_base64(key, newline=False), b"b"]


# A flag with a number: its letter, the argument it comes from, and the argument's range.
_Number = tuple[bytes, str, int, int]
_VIVIFY_TTL: Final[_Number] = (b"N", "vivify_ttl", I32_MIN, I32_MAX)
_RECACHE_BELOW: Final[_Number] = (b"R", "recache_below", I32_MIN, I32_MAX)
_TTL: Final[_Number] = (b"T", "ttl", I32_MIN, I32_MAX)
_NEW_CAS: Final[_Number] = (b"E", "new_cas", 0, U64_MAX)
_CAS: Final[_Number] = (b"C", "cas", 0, U64_MAX)
_FLAGS: Final[_Number] = (b"F", "flags", 0, U32_MAX)
_DELTA: Final[_Number] = (b"D", "delta", 0, U64_MAX)
_INITIAL: Final[_Number] = (b"J", "initial", 0, U64_MAX)
_MG_NUMBERS: Final = (_VIVIFY_TTL, _RECACHE_BELOW, _TTL, _NEW_CAS, _CAS)
_MA_NUMBERS: Final = (_TTL, _CAS, _NEW_CAS)


def _number(tokens: list[bytes], flag: _Number, value: int) -> None:
    letter, name, low, high = flag
    tokens.append(letter + b"%d" % check_int(name, value, low, high))


def _numbers(
    tokens: list[bytes], flags: tuple[_Number, ...], values: tuple[int | None, ...]
) -> None:
    """Append each of ``flags`` whose value is not None, in that order."""
    for flag, value in zip(flags, values, strict=False):  # same length, by construction
        if value is not None:
            letter, name, low, high = flag
            tokens.append(letter + b"%d" % check_int(name, value, low, high))


class _Switches(dict[tuple[object, ...], tuple[bytes, ...]]):
    """The flags without a value (``v``, ``k``...), by which of them are asked for.

    ``table[asked]`` is the letters whose argument is true, in line order: one lookup
    in place of a test per flag. Each combination of bools is worked out once and kept
    (at most 2**9 for ``mg``); other true or false values are worked out each time.
    """

    def __init__(self, letters: bytes) -> None:
        super().__init__()
        self.letters = tuple(letters.split())

    def __missing__(self, asked: tuple[object, ...]) -> tuple[bytes, ...]:
        found = tuple(compress(self.letters, asked))
        if all(type(wanted) is bool for wanted in asked):
            self[asked] = found
        return found


_MG_SWITCHES: Final = _Switches(b"u v f c t k s h l")
_MS_SWITCHES: Final = _Switches(b"c k s")
_MD_SWITCHES: Final = _Switches(b"x k")
_MA_SWITCHES: Final = _Switches(b"v t c k")


def _opaque(flags: list[bytes], opaque: object) -> None:
    if not isinstance(opaque, bytes):
        msg = f"opaque must be bytes, not {type(opaque).__name__}"
        raise TypeError(msg)
    if not is_token(opaque) or len(opaque) > MAX_OPAQUE_LENGTH:
        msg = f"opaque must be 1..{MAX_OPAQUE_LENGTH} bytes without whitespace or control bytes"
        raise ProtocolValidationError(msg)
    flags.append(b"O" + opaque)


def _mode(mode: object, cls: type[MetaSetMode] | type[MetaArithmeticMode]) -> bytes:
    if not isinstance(mode, cls):
        msg = f"mode must be a {cls.__name__}, not {type(mode).__name__}"
        raise TypeError(msg)
    letter: str = mode.value
    return b"M" + letter.encode("ascii")


def _request(tokens: list[bytes], kind: ReplyKind, key: bytes) -> MetaRequest:
    return new_request(Request, (b" ".join(tokens) + b"\r\n", kind, (key,)))


def meta_get_command(
    key: bytes,
    *,
    return_value: bool = True,
    return_flags: bool = False,
    return_cas: bool = False,
    return_ttl: bool = False,
    return_key: bool = False,
    return_size: bool = False,
    return_hit: bool = False,
    return_last_access: bool = False,
    ttl: int | None = None,
    vivify_ttl: int | None = None,
    recache_below: int | None = None,
    new_cas: int | None = None,
    cas: int | None = None,
    no_bump: bool = False,
    opaque: bytes | None = None,
    base64: bool = False,
) -> MetaRequest:
    """Encode ``mg``: read an item, and optionally touch it or take the right to recompute it.

    Args:
        key: The key (see the module for ``base64``).
        return_value: ``v``: return the value (reply ``VA``); without it a hit is ``HD``.
        return_flags: ``f``: return the client flags.
        return_cas: ``c``: return the cas unique.
        return_ttl: ``t``: return the seconds of life left (-1: never expires).
        return_key: ``k``: return the key (checked against ``key`` by the parser).
        return_size: ``s``: return the value's size.
        return_hit: ``h``: return whether the item was fetched before.
        return_last_access: ``l``: return the seconds since its last access.
        ttl: ``T``: set a new TTL on a hit (as ``touch``/``gat``), a signed 32-bit int.
        vivify_ttl: ``N``: on a miss, create an empty item with this TTL and give this
            caller the win (``W``); later callers see ``Z`` until the item is stored.
        recache_below: ``R``: win the right to recompute (``W``) when the item has less
            than this many seconds to live.
        new_cas: ``E``: the cas unique to give the item if this request changes it
            (memcached >= 1.6.27).
        cas: ``C``: send the value only if the item's cas differs from this one; an
            unchanged item answers ``HD`` (memcached >= 1.6.40; older ones ignore it).
        no_bump: ``u``: do not bump the item in the LRU, nor mark it fetched.
        opaque: ``O``: a token of 1..31 bytes the reply echoes.
        base64: Accept binary keys (sent base64-encoded with ``b``).

    Returns:
        The request; its reply is a :class:`MetaResult` (``VA``, ``HD`` or ``EN``).

    Raises:
        TypeError: An argument has the wrong type.
        ProtocolValidationError: An argument is out of range (a ``ValueError``).
    """
    tokens = _key_tokens(key, base64)
    tokens.insert(0, b"mg")
    # memcached applies flags in line order: R sees the TTL before T changes it, and t
    # reports the TTL after N and T.
    numbers = (vivify_ttl, recache_below, ttl, new_cas, cas)
    if numbers != (None, None, None, None, None):
        _numbers(tokens, _MG_NUMBERS, numbers)
    tokens += _MG_SWITCHES[
        no_bump,
        return_value,
        return_flags,
        return_cas,
        return_ttl,
        return_key,
        return_size,
        return_hit,
        return_last_access,
    ]
    if opaque is not None:
        _opaque(tokens, opaque)
    return _request(tokens, _META_GET, key)


def meta_set_command(
    key: bytes,
    value: bytes | bytearray | memoryview,
    *,
    flags: int = 0,
    ttl: int = 0,
    mode: MetaSetMode = MetaSetMode.SET,
    cas: int | None = None,
    new_cas: int | None = None,
    invalidate: bool = False,
    vivify_ttl: int | None = None,
    return_cas: bool = False,
    return_key: bool = False,
    return_size: bool = False,
    opaque: bytes | None = None,
    base64: bool = False,
) -> MetaRequest:
    """Encode ``ms``: store a value, as set, add, replace, append, prepend or cas.

    Args:
        key: The key (see the module for ``base64``).
        value: The data block: ``bytes``, ``bytearray`` or ``memoryview``.
        flags: ``F``: the client flags, 0..2**32-1.
        ttl: ``T``: the item's TTL, a signed 32-bit int (0: never expires).
        mode: ``M``: set (the default), add, replace, append or prepend.
        cas: ``C``: store only if the item's cas unique is this one (``EX`` otherwise,
            ``NF`` for a missing item).
        new_cas: ``E``: the cas unique to give the stored item (memcached >= 1.6.27).
        invalidate: ``I``: with ``cas``, a cas older than the item's is accepted but the
            item is marked stale (readers see ``X``). Needs ``cas`` and the set or
            replace mode.
        vivify_ttl: ``N``: in append or prepend mode, create a missing item with this TTL
            (memcached >= 1.6.20).
        return_cas: ``c``: return the cas unique of the stored item.
        return_key: ``k``: return the key.
        return_size: ``s``: return the stored value's size (memcached >= 1.6.20).
        opaque: ``O``: a token of 1..31 bytes the reply echoes.
        base64: Accept binary keys (sent base64-encoded with ``b``).

    Returns:
        The request; its reply is a :class:`MetaResult` (``HD``, ``NS``, ``EX`` or ``NF``).

    Raises:
        TypeError: An argument has the wrong type.
        ProtocolValidationError: An argument is out of range, or flags that do not go
            together were asked for (a ``ValueError``).
    """
    tokens = _key_tokens(key, base64)
    if type(value) is not bytes:
        value = as_value_bytes(value)
    tokens.insert(0, b"ms")
    tokens.insert(2, b"%d" % len(value))
    if flags != 0 or type(flags) is not int:
        _number(tokens, _FLAGS, flags)
    if ttl != 0 or type(ttl) is not int:
        _number(tokens, _TTL, ttl)
    if mode is not MetaSetMode.SET:
        tokens.append(_mode(mode, MetaSetMode))
    if cas is not None:
        _number(tokens, _CAS, cas)
    if new_cas is not None:
        _number(tokens, _NEW_CAS, new_cas)
    if invalidate:
        if cas is None or mode not in (MetaSetMode.SET, MetaSetMode.REPLACE):
            msg = "invalidate needs cas, in the set or replace mode"
            raise ProtocolValidationError(msg)
        tokens.append(b"I")
    if vivify_ttl is not None:
        if mode not in (MetaSetMode.APPEND, MetaSetMode.PREPEND):
            msg = "vivify_ttl is only accepted in the append and prepend modes"
            raise ProtocolValidationError(msg)
        _number(tokens, _VIVIFY_TTL, vivify_ttl)
    tokens += _MS_SWITCHES[return_cas, return_key, return_size]
    if opaque is not None:
        _opaque(tokens, opaque)
    data = b"%s\r\n%s\r\n" % (b" ".join(tokens), value)
    return new_request(Request, (data, _META_SET, (key,)))


def meta_delete_command(
    key: bytes,
    *,
    cas: int | None = None,
    new_cas: int | None = None,
    invalidate: bool = False,
    ttl: int | None = None,
    remove_value: bool = False,
    return_key: bool = False,
    opaque: bytes | None = None,
    base64: bool = False,
) -> MetaRequest:
    """Encode ``md``: delete an item, or mark it stale so that one caller recomputes it.

    Args:
        key: The key (see the module for ``base64``).
        cas: ``C``: delete (or invalidate) only if the item's cas unique is this one.
        new_cas: ``E``: the cas unique to give an invalidated item (memcached >= 1.6.27).
        invalidate: ``I``: instead of deleting, mark the item stale and bump its cas:
            readers get the old value with ``X``, and the next ``mg`` wins (``W``).
        ttl: ``T``: with ``invalidate``, the TTL the stale item keeps.
        remove_value: ``x``: empty the value but keep the item (memcached >= 1.6.27).
        return_key: ``k``: return the key.
        opaque: ``O``: a token of 1..31 bytes the reply echoes.
        base64: Accept binary keys (sent base64-encoded with ``b``).

    Returns:
        The request; its reply is a :class:`MetaResult` (``HD``, ``NF`` or ``EX``).

    Raises:
        TypeError: An argument has the wrong type.
        ProtocolValidationError: An argument is out of range, or ``ttl`` was given
            without ``invalidate`` (a ``ValueError``).
    """
    tokens = _key_tokens(key, base64)
    tokens.insert(0, b"md")
    if cas is not None:
        _number(tokens, _CAS, cas)
    if new_cas is not None:
        _number(tokens, _NEW_CAS, new_cas)
    if invalidate:
        tokens.append(b"I")
    if ttl is not None:
        if not invalidate:
            msg = "ttl is only accepted with invalidate"
            raise ProtocolValidationError(msg)
        _number(tokens, _TTL, ttl)
    tokens += _MD_SWITCHES[remove_value, return_key]
    if opaque is not None:
        _opaque(tokens, opaque)
    return _request(tokens, _META_DELETE, key)


def meta_arithmetic_command(
    key: bytes,
    *,
    mode: MetaArithmeticMode = MetaArithmeticMode.INCREMENT,
    delta: int = 1,
    initial: int | None = None,
    vivify_ttl: int | None = None,
    ttl: int | None = None,
    cas: int | None = None,
    new_cas: int | None = None,
    return_value: bool = False,
    return_ttl: bool = False,
    return_cas: bool = False,
    return_key: bool = False,
    opaque: bytes | None = None,
    base64: bool = False,
) -> MetaRequest:
    """Encode ``ma``: increment or decrement a number stored as decimal digits.

    Args:
        key: The key (see the module for ``base64``).
        mode: ``M``: increment (the default) or decrement (which stops at 0).
        delta: ``D``: the amount, 0..2**64-1 (default 1).
        initial: ``J``: the number a missing item is created with; needs ``vivify_ttl``.
        vivify_ttl: ``N``: create a missing item with this TTL (and ``initial``, default 0).
        ttl: ``T``: set a new TTL on success.
        cas: ``C``: apply only if the item's cas unique is this one.
        new_cas: ``E``: the cas unique to give the item (memcached >= 1.6.27).
        return_value: ``v``: return the new number (reply ``VA``, its digits as the value).
        return_ttl: ``t``: return the seconds of life left.
        return_cas: ``c``: return the new cas unique.
        return_key: ``k``: return the key.
        opaque: ``O``: a token of 1..31 bytes the reply echoes.
        base64: Accept binary keys (sent base64-encoded with ``b``).

    Returns:
        The request; its reply is a :class:`MetaResult` (``HD``, ``VA``, ``NF``, ``NS`` or
        ``EX``).

    Raises:
        TypeError: An argument has the wrong type.
        ProtocolValidationError: An argument is out of range, or ``initial`` was given
            without ``vivify_ttl`` (a ``ValueError``).
    """
    tokens = _key_tokens(key, base64)
    tokens.insert(0, b"ma")
    if mode is not MetaArithmeticMode.INCREMENT:
        tokens.append(_mode(mode, MetaArithmeticMode))
    if delta != 1 or type(delta) is not int:
        _number(tokens, _DELTA, delta)
    if vivify_ttl is not None:
        _number(tokens, _VIVIFY_TTL, vivify_ttl)
    if initial is not None:
        if vivify_ttl is None:
            msg = "initial is only accepted with vivify_ttl"
            raise ProtocolValidationError(msg)
        _number(tokens, _INITIAL, initial)
    numbers = (ttl, cas, new_cas)
    if numbers != (None, None, None):
        _numbers(tokens, _MA_NUMBERS, numbers)
    tokens += _MA_SWITCHES[return_value, return_ttl, return_cas, return_key]
    if opaque is not None:
        _opaque(tokens, opaque)
    return _request(tokens, _META_ARITHMETIC, key)
