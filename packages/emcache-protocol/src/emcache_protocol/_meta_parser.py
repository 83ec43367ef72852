"""Reading meta replies: one per ``mg``/``ms``/``md``/``ma``/``mn``, or a quiet batch up to ``MN``.

Strategy. A meta reply is one line, ``<code> <flags>*``, plus for ``VA`` a data
block whose length follows the code (protocol.txt, "Meta Commands"). The line is
read with the parser's own line reader (bounded, ``\\r\\n`` only); a ``VA`` whose
data block has not fully arrived leaves the line unread and asks for exactly the
bytes missing, so a large value is copied once. Return flags may come in any order
and are read into a :class:`MetaResult`; a flag letter this client does not know
(one a newer server might add) is skipped, anything else that is not a flag raises.

Invariants. Every reply line is at most ``_MAX_META_LINE`` bytes of printable
bytes and spaces with at most ``_MAX_META_FLAGS`` flags; every number fits its
field (cas 64 bits, flags, sizes and times 32 bits); a ``k`` key (decoded when the
server marks it base64 with ``b``) must be the request's key; a code must be one
the command can answer. memcached before 1.6.18 wrote extra spaces in some meta
replies (``HD \\r\\n``); empty tokens are skipped.

Quiet batches. The reader reads every reply up to ``MN`` and hands each to the
batch's :class:`~emcache_protocol._meta_batch.BatchReplies`, which files it.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from emcache_protocol._grammar import error_reply, shown, unexpected
from emcache_protocol._keys import MAX_KEY_LENGTH, U32_MAX, U64_MAX
from emcache_protocol._meta_batch import BatchReplies
from emcache_protocol._meta_replies import MetaResult, MetaStatus
from emcache_protocol._replies import NEED_DATA, ErrorReply, ReplyKind
from emcache_protocol.errors import ProtocolError

if TYPE_CHECKING:
    from emcache_protocol._requests import Request

__all__ = ["MetaReaders"]

# memcached's longest meta reply line is about 450 bytes (a 250-byte key, a 31-byte
# opaque token and every numeric flag); this leaves room for flags to come.
_MAX_META_LINE: Final = 2048
_MAX_META_FLAGS: Final = 32
_MAX_OPAQUE: Final = 31
_PRINTABLE_LINE: Final = re.compile(rb"[!-~\x80-\xff ]*+").fullmatch
_CODES: Final = {status.value.encode(): status for status in MetaStatus}
_ALLOWED: Final = {
    ReplyKind.META_GET: frozenset((b"VA", b"HD", b"EN")),
    ReplyKind.META_SET: frozenset((b"HD", b"NS", b"EX", b"NF")),
    ReplyKind.META_DELETE: frozenset((b"HD", b"NF", b"EX")),
    ReplyKind.META_ARITHMETIC: frozenset((b"HD", b"VA", b"NF", b"NS", b"EX")),
}
_IN_BATCH: Final = frozenset((b"VA", b"HD", b"EN", b"NF", b"NS", b"EX"))
_META_BATCH: Final = ReplyKind.META_BATCH
_META_NOOP: Final = ReplyKind.META_NOOP
_new_result: Final = tuple.__new__
_NO_FLAGS: Final = (None, None, None, None, None, False, False, False, None, None, None)
_LETTERS: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class MetaReaders:
    """The meta part of :class:`~emcache_protocol.ResponseParser` (its buffer is the parser's)."""

    __slots__ = ("_batch",)

    # The parser's read position and bound, and its readers, which ResponseParser defines.
    _pos: int
    _max_value_size: int
    _batch: BatchReplies | None

    def _line(self) -> bytes | None:
        raise NotImplementedError

    def _block(self, start: int, size: int) -> bytes | None:
        raise NotImplementedError

    def _meta_reply(self, request: Request[Any]) -> Any:
        kind = request[1]
        if kind is _META_BATCH:
            return self._meta_batch(request[2] or ())
        if kind is _META_NOOP:
            return self._meta_noop()
        keys = request[2]
        return self._meta_single(_ALLOWED[kind], keys[0] if keys else None, kind)

    def _meta_single(self, allowed: frozenset[bytes], key: bytes | None, kind: ReplyKind) -> Any:
        start = self._pos
        line = self._line()
        if line is None:
            return NEED_DATA
        code = line[:2]
        if code not in allowed or (len(line) > 2 and line[2] != 32):  # 32 is a space
            return _other_line(line, kind.value)
        tokens = _tokens(line)
        if code == b"VA":
            value = self._data_block(tokens, start)
            if value is None:
                return NEED_DATA
            return _result(_CODES[code], value, tokens[2:], key)
        return _result(_CODES[code], None, tokens[1:], key)

    def _meta_noop(self) -> Any:
        line = self._line()
        if line is None:
            return NEED_DATA
        if line.rstrip(b" ") == b"MN":
            return MetaStatus.MN
        return _other_line(line, "mn")

    def _meta_batch(self, keys: Sequence[bytes]) -> Any:
        batch = self._batch
        if batch is None:
            batch = self._batch = BatchReplies(len(keys))
        while True:
            start = self._pos
            line = self._line()
            if line is None:
                return NEED_DATA
            code = line[:2]
            if code not in _IN_BATCH or (len(line) > 2 and line[2] != 32):
                if line.rstrip(b" ") == b"MN":
                    self._batch = None
                    return batch.finish()
                error = _other_line(line, "meta batch")
                if error.loses_pairing:
                    self._batch = None
                    return error  # the connection is lost: the whole batch gets it
                batch.add_error(error)
                continue
            tokens = _tokens(line)
            if code == b"VA":
                value = self._data_block(tokens, start)
                if value is None:
                    return NEED_DATA
                batch.add(_result(_CODES[code], value, tokens[2:], None), keys)
            else:
                batch.add(_result(_CODES[code], None, tokens[1:], None), keys)

    def _data_block(self, tokens: list[bytes], start: int) -> bytes | None:
        """The data block of a ``VA`` line, or ``None`` (line left unread) until it is all here."""
        size_token = tokens[1] if len(tokens) > 1 else b""
        if not size_token.isdigit() or len(size_token) > 10:
            raise ProtocolError(f"VA without a valid length: {shown(size_token)}")
        size = int(size_token)
        if size > self._max_value_size:
            raise ProtocolError(f"data block of {size} bytes exceeds max_value_size")
        return self._block(start, size)


def _other_line(line: bytes, what: str) -> ErrorReply:
    """An error line's :class:`ErrorReply`; any other line raises."""
    error = error_reply(line)
    if error is None:
        raise unexpected(line, what)
    return error


def _tokens(line: bytes) -> list[bytes]:
    if len(line) > _MAX_META_LINE:
        raise ProtocolError(f"meta reply line longer than {_MAX_META_LINE} bytes")
    if _PRINTABLE_LINE(line) is None:
        raise ProtocolError(f"control bytes in a meta reply line: {shown(line)}")
    tokens = line.split(b" ")
    if b"" in tokens:
        tokens = [token for token in tokens if token]
    if len(tokens) > _MAX_META_FLAGS + 2:
        raise ProtocolError(f"meta reply line with over {_MAX_META_FLAGS} flags")
    return tokens


def _number(current: int | None, token: bytes, high: int) -> int:
    digits = token[1:]
    if current is not None or not digits.isdigit() or len(digits) > 20:
        raise _bad_flag(token)
    number = int(digits)
    if number > high:
        raise _bad_flag(token)
    return number


def _bad_flag(token: bytes) -> ProtocolError:
    return ProtocolError(f"invalid or repeated flag in a meta reply: {shown(token)}")


def _result(
    status: MetaStatus, value: bytes | None, flags: list[bytes], expected: bytes | None
) -> MetaResult:
    """Build the result of a reply line from its return flags; check an echoed key."""
    if not flags:
        return _new_result(MetaResult, (status, value, *_NO_FLAGS))
    client_flags = cas = ttl = last_access = size = None
    echoed = opaque = key = None
    hit: bool | None = None
    won = stale = pending = binary = False
    for token in flags:
        letter = token[0]
        if letter == 79:  # O
            if opaque is not None or len(token) > _MAX_OPAQUE + 1 or len(token) < 2:
                raise _bad_flag(token)
            opaque = token[1:]
        elif letter == 107:  # k
            if echoed is not None or len(token) > MAX_KEY_LENGTH + 1 or len(token) < 2:
                raise _bad_flag(token)
            echoed = token[1:]
        elif letter == 99:  # c
            cas = _number(cas, token, U64_MAX)
        elif letter == 102:  # f
            client_flags = _number(client_flags, token, U32_MAX)
        elif letter == 116:  # t
            ttl = -1 if token == b"t-1" and ttl is None else _number(ttl, token, U32_MAX)
        elif letter == 115:  # s
            size = _number(size, token, U32_MAX)
        elif letter == 108:  # l
            last_access = _number(last_access, token, U32_MAX)
        elif letter == 104:  # h
            if hit is not None or token not in (b"h0", b"h1"):
                raise _bad_flag(token)
            hit = token == b"h1"
        elif letter in b"WXZb":
            if len(token) != 1:
                raise _bad_flag(token)
            if letter == 87:  # W
                won, repeated = True, won
            elif letter == 88:  # X
                stale, repeated = True, stale
            elif letter == 90:  # Z
                pending, repeated = True, pending
            else:
                binary, repeated = True, binary
            if repeated:
                raise _bad_flag(token)
        elif letter not in _LETTERS:
            raise _bad_flag(token)
    if echoed is not None:
        key = _echoed_key(echoed, binary, expected)
    fields = (status, value, client_flags, cas, ttl, key, opaque, won, stale, pending, hit)
    return _new_result(MetaResult, (*fields, last_access, size))


def _echoed_key(token: bytes, binary: bool, expected: bytes | None) -> bytes:
    """The key a reply names (decoded from base64 under ``b``); it must be ``expected``."""
    key = token
    if binary:
        try:
            key = binascii.a2b_base64(token, strict_mode=True)
        except binascii.Error:
            raise ProtocolError(f"invalid base64 key in a meta reply: {shown(token)}") from None
    if expected is None:
        return key
    if key != expected:
        msg = f"a meta reply for key {shown(key)} to a request for {shown(expected)}"
        raise ProtocolError(msg)
    return expected
