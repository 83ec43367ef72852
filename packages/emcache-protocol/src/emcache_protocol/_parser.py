"""The incremental reply parser.

Strategy. The caller keeps a queue of requests in flight and asks for the
reply of the one at its head with :meth:`ResponseParser.next_reply`, telling
the parser what kind of reply to expect. The parser answers with the typed
result, or ``NEED_DATA`` until the reply is complete.

Buffering. The unread bytes live in ``_buf`` (an immutable ``bytes``) from
offset ``_pos``. A chunk that arrives when everything has been read *becomes*
the buffer, without a copy: the usual case of a whole reply per chunk never
copies. A chunk that arrives behind unread bytes is parked in ``_chunks``;
parked chunks are joined to the unread tail only once enough bytes are there
for the parse to progress (``_need``, set when a parse stops for lack of
data), so a reply that trickles in is copied once, not once per chunk.

Large values. A data block of at least ``_LARGE_VALUE`` bytes that has not fully
arrived is read into a buffer of its own length, held about once
(:mod:`emcache_protocol._large_values`).

Invariants. A result is returned only once its last byte has arrived; a
retrieval reply keeps the values it has already read between calls, so a
partial multi-get is never parsed twice. Every length and number is bounded
(``max_value_size``, 20 digits, 250-byte keys, ``_MAX_LINE`` for a line
without its terminator), so a malformed stream raises :class:`ProtocolError`
instead of waiting forever. A line ends with ``\\r\\n``: a bare ``\\n`` raises
as soon as it is seen (data blocks are read by length, so a ``\\n`` inside
one is never taken for a line end). A ``VALUE`` whose key is not among the
keys still expected raises too: a value is never handed out under the wrong
key, and a gets/gats reply (``RETRIEVAL_CAS``) whose ``VALUE`` carries no cas
unique raises.

A stats reply over ``_MAX_STATS_LINES`` lines or ``_MAX_STATS_SIZE`` bytes is
not held in memory: its remaining lines are read and dropped up to ``END``,
and the request gets an :class:`ErrorReply` instead, so the stream stays in
step and only that request fails. One four times over the bound raises
:class:`ProtocolError`: no memcached writes it, it is a stream without end.

Reply grammar (memcached protocol.txt)::

    VALUE <key> <flags> <bytes> [<cas unique>]\\r\\n<data block>\\r\\n ... END\\r\\n
    STORED | NOT_STORED | EXISTS | NOT_FOUND | TOUCHED | DELETED | OK \\r\\n
    <decimal value>\\r\\n                          (incr/decr)
    VERSION <version>\\r\\n
    STAT <name> <value>\\r\\n ... END\\r\\n
    ITEM <key> [<size> b; <exptime> s]\\r\\n ... END\\r\\n    (stats cachedump)
    PREFIX <prefix> get <n> hit <n> set <n> del <n>\\r\\n ... END\\r\\n    (stats detail dump)
    CONFIG cluster 0 <bytes>\\r\\n<version>\\n<host>|<ip>|<port> ...\\n\\r\\nEND\\r\\n
    ERROR\\r\\n | CLIENT_ERROR <message>\\r\\n | SERVER_ERROR <message>\\r\\n
    VA <size> <flags>*\\r\\n<data block>\\r\\n | HD|EN|NF|NS|EX <flags>*\\r\\n | MN\\r\\n
                                        (meta commands: emcache_protocol._meta_parser)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from io import BytesIO
from operator import itemgetter
from typing import Any, Final, TypeVar

from emcache_protocol._bulk import read_whole_reply
from emcache_protocol._grammar import (
    DELETE_LINES,
    MEMLIMIT_ERRORS,
    STORAGE_LINES,
    TOUCH_LINES,
    cluster_config,
    error_reply,
    expected_key,
    shown,
    unexpected,
)
from emcache_protocol._keys import U32_MAX, U64_MAX
from emcache_protocol._large_values import _LARGE_VALUE, LargeValueReader, _value_of
from emcache_protocol._meta_replies import MetaResult, MetaStatus
from emcache_protocol._replies import (
    NEED_DATA,
    ErrorReply,
    NeedData,
    ReplyKind,
    StatsReply,
    Status,
    Value,
    VersionReply,
)
from emcache_protocol._requests import Request
from emcache_protocol._scan import COMPILED, scan_whole_reply
from emcache_protocol.errors import ProtocolError

T = TypeVar("T")

__all__ = ["ResponseParser"]

# A reply line longer than this without its terminator cannot be valid.
_MAX_LINE: Final = 64 * 1024
# The largest stats reply accepted (memcached's biggest groups, such as "stats
# items" on a full server, have a few thousand lines); a longer one comes from a
# hostile or broken server and would otherwise be held in memory line by line.
_MAX_STATS_SIZE: Final = 4 * 1024 * 1024
_MAX_STATS_LINES: Final = 65536
# The line heads of a stats reply: STAT (every group), ITEM (stats cachedump),
# PREFIX (stats detail dump). Each is followed by a name and the rest of the line.
_STATS_HEADS: Final = frozenset((b"STAT", b"ITEM", b"PREFIX"))
# A reply over the bound is read to its END and dropped, but not forever: memcached
# writes none this long (stats cachedump stops at 2 MB, about 110,000 of its shortest
# lines; stats detail dump at 65536 prefixes), so a longer one is an endless stream.
_MAX_STATS_DRAIN_SIZE: Final = 4 * _MAX_STATS_SIZE
_MAX_STATS_DRAIN_LINES: Final = 4 * _MAX_STATS_LINES

# A VALUE line: key (1..250 bytes, no control byte, space or DEL), flags, length, cas.
# Possessive repeats: a field never gives back bytes, which saves backtracking work.
_VALUE_HEADER: Final = (
    rb"VALUE ([!-~\x80-\xff]{1,250}+) ([0-9]{1,10}+) ([0-9]{1,20}+)(?: ([0-9]{1,20}+))?\r\n"
)
_VALUE_LINE: Final = re.compile(_VALUE_HEADER).match
# The next item of a retrieval reply: a VALUE line or END (groups are None for END).
_ITEM: Final = re.compile(rb"(?:" + _VALUE_HEADER + rb"|END\r\n)").match
# The terminator of a data block and the item after it, in one match.
_NEXT_ITEM: Final = re.compile(rb"\r\n(?:" + _VALUE_HEADER + rb"|END\r\n)").match
_new_value: Final = tuple.__new__  # builds a Value without the Python-level __new__
# Reading an enum member through its class costs a lookup each time; the hot
# path compares against module constants instead.
_RETRIEVAL: Final = ReplyKind.RETRIEVAL
_RETRIEVAL_CAS: Final = ReplyKind.RETRIEVAL_CAS
_STORAGE: Final = ReplyKind.STORAGE
_cas_of: Final = itemgetter(3)
_STORED: Final = Status.STORED
# A whole mg hit that asked for the value and maybe the client flags: VA <n>[ f<flags>].
_META_VALUE: Final = re.compile(rb"VA ([0-9]{1,10}+)(?: f([0-9]{1,10}+))?\r\n").match
_META_GET: Final = ReplyKind.META_GET
_VA: Final = MetaStatus.VA
# The fields of a MetaResult after status, value and flags, when no other flag came back.
_META_REST: Final = (None, None, None, None, False, False, False, None, None, None)
_CONFIG_TRAILER: Final = b"\r\nEND\r\n"
_CONFIG_LINE: Final = re.compile(rb"CONFIG cluster ([0-9]{1,10}) ([0-9]{1,20})\r\n").match
# A whole multi-value reply: read by columns in the interpreter, by a byte scanner compiled.
_read_whole_reply: Final = scan_whole_reply if COMPILED else read_whole_reply


class ResponseParser(LargeValueReader):
    """Turn the bytes of a memcached connection into typed replies, in request order.

    Feed every chunk read from the connection to :meth:`receive_data`, then call
    :meth:`next_reply` with the reply kind of the request at the head of the
    queue until it returns ``NEED_DATA``.
    """

    __slots__ = (
        "_chunks",
        "_key_index",
        "_line_wait",
        "_max_value_size",
        "_need",
        "_pending",
        "_readers",
        "_stats",
        "_stats_lines",
        "_stats_size",
        "_values",
    )

    def __init__(self, *, max_value_size: int = 1 << 30) -> None:
        """Create a parser.

        Args:
            max_value_size: The largest data block accepted; a longer announced length
                raises :class:`ProtocolError` before any of it is buffered.
        """
        if type(max_value_size) is not int or max_value_size < 0:
            msg = f"max_value_size must be a non-negative int, got {max_value_size!r}"
            raise ValueError(msg)
        self._max_value_size = max_value_size
        self._buf = b""
        self._pos = 0
        self._chunks: list[bytes | memoryview] = []
        self._pending = 0
        self._need = 0
        self._line_wait = False
        self._stats_size = 0
        self._stats_lines = 0
        self._values: list[Value] = []
        self._key_index = 0
        self._large: BytesIO | None = None
        self._large_left = 0
        self._large_view: memoryview | None = None
        self._stats: dict[str, str] = {}
        self._batch = None
        self._readers: dict[ReplyKind, Callable[[], Any]] = {
            ReplyKind.INCR_DECR: self._incr_decr,
            ReplyKind.TOUCH: self._touch,
            ReplyKind.DELETE: self._delete,
            ReplyKind.OK: self._ok,
            ReplyKind.VERSION: self._version,
            ReplyKind.STATS: self._stats_reply,
            ReplyKind.CONFIG: self._config,
        }

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append a chunk read from the connection.

        Args:
            data: The bytes received; any split of the stream is fine. A ``bytearray`` or
                ``memoryview`` is copied.
        """
        if self._large_left and data:
            data = self._fill(data)
        if type(data) is not bytes:
            data = bytes(data)  # never keep a view on a buffer the caller may reuse
        if self._pos >= len(self._buf) and not self._chunks:
            self._buf = data
            self._pos = 0
            self._need = 0
            self._line_wait = False
        elif data:
            self._chunks.append(data)
            self._pending += len(data)
            if self._line_wait and b"\n" in data:
                # The line being waited for may be complete now. Scanning only the
                # new chunk keeps a line that trickles in byte by byte linear.
                self._need = 0

    def has_buffered_data(self) -> bool:
        """Whether bytes arrived that no reply has consumed yet."""
        return self._pos < len(self._buf) or bool(self._chunks) or self._large is not None

    def next_reply(self, request: Request[T]) -> T | ErrorReply | NeedData:
        """Parse the reply of the request at the head of the caller's queue.

        Args:
            request: That request. Its kind says what to expect; for retrievals, its
                keys are the requested keys in request order: each ``VALUE`` must carry
                the next expected key (misses may be skipped), and ``None`` accepts any
                valid key.

        Returns:
            The typed reply (see :class:`ReplyKind`), an :class:`ErrorReply`, or
            ``NEED_DATA`` until the whole reply has arrived; call again with the
            same request after more data.

        Raises:
            ProtocolError: The bytes cannot be a reply of that kind. The stream is
                then out of sync and the connection must be closed.
        """
        if self._chunks and not self._join():
            return NEED_DATA
        kind = request[1]
        # Each branch builds what ``kind`` promises, a T; the readers return it as Any.
        reply: T
        found: Any
        if kind is _RETRIEVAL or kind is _RETRIEVAL_CAS:
            keys = request[2]
            # Fast path: a whole single-value reply, VALUE <k> <f> <n>\r\n<data>\r\nEND\r\n.
            # End to end, a get of one key (32 tasks) cost 3-13% more CPU without it
            # (9.44-9.99 against 10.33-10.67 us, two series); a get_many never notices it.
            if not self._values:
                buf = self._buf
                pos = self._pos
                match = _VALUE_LINE(buf, pos)
                if match is not None:
                    key, flags, size, cas = match.groups()
                    if cas is None and kind is _RETRIEVAL_CAS:
                        raise _no_cas(key)  # refused before its data block arrives
                    start = match.end()
                    end = start + int(size)
                    if (
                        buf.startswith(b"\r\nEND\r\n", end)
                        and end - start <= self._max_value_size
                        and (keys is None or (keys and keys[0] == key))
                    ):
                        flags_value = 0 if flags == b"0" else int(flags)
                        cas_value = None if cas is None else int(cas)
                        if flags_value <= U32_MAX and (cas_value is None or cas_value <= U64_MAX):
                            self._pos = end + 7
                            if keys is not None:
                                key = keys[0]
                            found = [
                                _new_value(Value, (key, flags_value, buf[start:end], cas_value))
                            ]
                            reply = found
                            return reply
                    if end > len(buf):  # still arriving: no whole reply for the bulk reader
                        if kind is _RETRIEVAL:
                            reply = self._retrieval(keys, bulk=False)
                            return reply
                        reply = self._retrieval_cas(keys, bulk=False)
                        return reply
                elif buf.startswith(b"END\r\n", pos):
                    self._pos = pos + 5
                    found = []
                    reply = found
                    return reply
            if kind is _RETRIEVAL:
                reply = self._retrieval(keys)
                return reply
            reply = self._retrieval_cas(keys)
            return reply
        if kind is _STORAGE:
            buf = self._buf
            pos = self._pos
            if buf.startswith(b"STORED\r\n", pos):
                self._pos = pos + 8
                found = _STORED
                reply = found
                return reply
            reply = self._status(STORAGE_LINES, "storage")
            return reply
        if kind is _META_GET:
            # Fast path: a whole VA <n>[ f<flags>]\r\n<data>\r\n reply.
            buf = self._buf
            match = _META_VALUE(buf, self._pos)
            if match is not None:
                size, flags = match.groups()
                start = match.end()
                end = start + int(size)
                if buf.startswith(b"\r\n", end) and end - start <= self._max_value_size:
                    client_flags = None if flags is None else int(flags)
                    if client_flags is None or client_flags <= U32_MAX:
                        self._pos = end + 2
                        meta = (_VA, buf[start:end], client_flags, *_META_REST)
                        found = _new_value(MetaResult, meta)
                        reply = found
                        return reply
        reader = self._readers.get(kind)
        if reader is None:  # the meta commands
            reply = self._meta_reply(request)
            return reply
        reply = reader()
        return reply

    # -- buffer ---------------------------------------------------------------

    def _join(self) -> bool:
        """Join parked chunks to the unread tail once the parse can progress."""
        unread = len(self._buf) - self._pos
        if unread + self._pending < self._need:
            return False
        chunks = self._chunks
        if unread:
            tail = self._buf if self._pos == 0 else memoryview(self._buf)[self._pos :]
            chunks.insert(0, tail)
        self._buf = b"".join(chunks)
        self._pos = 0
        chunks.clear()
        self._pending = 0
        self._need = 0
        self._line_wait = False
        return True

    def _wait(self, need: int) -> Any:
        """Record how many unread bytes the parse needs and ask for more data."""
        self._need = need
        return NEED_DATA

    def _line(self) -> bytes | None:
        """Consume and return the next line without its terminator, or ``None``."""
        buf = self._buf
        pos = self._pos
        eol = buf.find(b"\n", pos)
        if eol < 0:
            unread = len(buf) - pos
            if unread > _MAX_LINE:
                msg = f"reply line longer than {_MAX_LINE} bytes: {shown(buf[pos:])}"
                raise ProtocolError(msg)
            # Join again only when a newline arrives or the line grows past the limit.
            self._need = _MAX_LINE + 3
            self._line_wait = True
            return None
        if eol == pos or buf[eol - 1] != 13:  # 13 is \r
            msg = f"reply line ending in a bare \\n: {shown(buf[pos : eol + 1])}"
            raise ProtocolError(msg)
        self._pos = eol + 1
        return buf[pos : eol - 1]

    def _block(self, start: int, size: int) -> bytes | None:
        """Consume a data block of ``size`` bytes and its ``\\r\\n`` at the read position.

        Until all of it has arrived, return ``None`` and move back to ``start`` (the
        beginning of the reply), asking for the bytes missing from there.
        """
        buf = self._buf
        begin = self._pos
        end = begin + size
        if end + 2 > len(buf):
            self._pos = start
            self._wait(end + 2 - start)
            return None
        if not buf.startswith(b"\r\n", end):
            msg = f"data block not followed by \\r\\n: {shown(buf[end : end + 2])}"
            raise ProtocolError(msg)
        self._pos = end + 2
        return buf[begin:end]

    # -- one-line replies -------------------------------------------------------

    def _status(self, table: dict[bytes, Status], what: str) -> Any:
        line = self._line()
        if line is None:
            return NEED_DATA
        status = table.get(line)
        if status is not None:
            return status
        error = error_reply(line)
        if error is None:
            raise unexpected(line, what)
        return error

    def _touch(self) -> Any:
        return self._status(TOUCH_LINES, "touch")

    def _delete(self) -> Any:
        return self._status(DELETE_LINES, "delete")

    def _ok(self) -> Any:
        line = self._line()
        if line is None:
            return NEED_DATA
        if line == b"OK":
            return Status.OK
        head = line.partition(b" ")[0]
        if head in MEMLIMIT_ERRORS:
            return ErrorReply(MEMLIMIT_ERRORS[head], line.decode("utf-8", "replace"))
        error = error_reply(line)
        if error is None:
            raise unexpected(line, "OK")
        return error

    def _incr_decr(self) -> Any:
        line = self._line()
        if line is None:
            return NEED_DATA
        if line.isdigit() and len(line) <= 20:
            number = int(line)
            if number <= U64_MAX:
                return number
        if line == b"NOT_FOUND":
            return Status.NOT_FOUND
        error = error_reply(line)
        if error is None:
            raise unexpected(line, "incr/decr")
        return error

    def _version(self) -> Any:
        line = self._line()
        if line is None:
            return NEED_DATA
        if line.startswith(b"VERSION "):
            return VersionReply(line[8:].decode("utf-8", "replace"))
        error = error_reply(line)
        if error is None:
            raise unexpected(line, "version")
        return error

    # -- multi-line replies -----------------------------------------------------

    def _stats_reply(self) -> Any:
        stats = self._stats
        while True:
            line = self._line()
            if line is None:
                return NEED_DATA
            head, _, rest = line.partition(b" ")
            if head in _STATS_HEADS:
                name, _, value = rest.partition(b" ")
                if not name:
                    raise unexpected(line, "stats")
                self._stats_lines += 1
                self._stats_size += len(line)
                if self._stats_size > _MAX_STATS_SIZE or self._stats_lines > _MAX_STATS_LINES:
                    # Over the bound: drop what was kept, read the rest without keeping it.
                    stats.clear()
                    if (
                        self._stats_size > _MAX_STATS_DRAIN_SIZE
                        or self._stats_lines > _MAX_STATS_DRAIN_LINES
                    ):
                        msg = f"stats reply of over {self._stats_lines} lines without its END"
                        raise ProtocolError(msg)
                    continue
                stats[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
                continue
            lines = self._stats_lines
            skipped = self._stats_size > _MAX_STATS_SIZE or lines > _MAX_STATS_LINES
            self._stats = {}
            self._stats_size = 0
            self._stats_lines = 0
            if line == b"END":
                if skipped:
                    msg = (
                        f"stats reply of {lines} lines is over the client's bound of "
                        f"{_MAX_STATS_LINES} lines or {_MAX_STATS_SIZE} bytes; it was dropped"
                    )
                    return ErrorReply("SERVER_ERROR", msg)
                return StatsReply(stats)
            if not lines and line in (b"RESET", b"OK"):
                # "stats reset" and "stats detail on|off" acknowledge with one line.
                return StatsReply({})
            error = error_reply(line)
            if error is None:
                raise unexpected(line, "stats")
            return error

    def _retrieval(self, keys: Sequence[bytes] | None, *, bulk: bool = True) -> Any:
        """The general retrieval path: any number of values, possibly split anywhere.

        Values already read stay in ``_values`` (and the next expected key in
        ``_key_index``) while the rest of the reply has not arrived.
        """
        buf = self._buf
        pos = self._pos
        values = self._values
        max_size = self._max_value_size
        if self._large is not None:
            if self._large_left or len(buf) - pos < 2:
                return self._wait(2)
            if not buf.startswith(b"\r\n", pos):
                msg = f"data block not followed by \\r\\n: {shown(buf[pos : pos + 2])}"
                raise ProtocolError(msg)
            # The value's place, kept since its VALUE line. Names of their own: compiled, a
            # local keeps the type of its first assignment, and ``key`` is None at END below.
            held_key, held_flags, _, held_cas = values[-1]
            values[-1] = _new_value(Value, (held_key, held_flags, _value_of(self._large), held_cas))
            self._large = None
            pos += 2
        elif bulk and not values:
            whole = _read_whole_reply(buf, pos, keys, max_size)
            if whole is not None:
                self._pos = whole[1]
                return whole[0]
        index = self._key_index
        match = _ITEM(buf, pos)
        while match is not None:
            key, flags, size, cas = match.groups()
            if key is None:  # END
                self._pos = match.end()
                self._values = []
                self._key_index = 0
                return values
            start = match.end()
            end = start + int(size)
            if end - start > max_size:
                raise self._too_large(end - start)
            whole_block = end + 2 <= len(buf)
            if not whole_block and end - start < _LARGE_VALUE:
                self._pos = pos
                self._key_index = index
                return self._wait(end + 2 - pos)
            if keys is not None:
                if index < len(keys) and keys[index] == key:
                    key = keys[index]
                    index += 1
                else:
                    key, index = expected_key(keys, index, key)
            if flags == b"0":
                flags_value = 0
            else:
                flags_value = int(flags)
                if flags_value > U32_MAX:
                    raise ProtocolError(f"flags out of range in a VALUE line: {flags_value}")
            if cas is None:
                cas_value = None
            else:
                cas_value = int(cas)
                if cas_value > U64_MAX:
                    raise ProtocolError(f"cas out of range in a VALUE line: {cas_value}")
            if not whole_block:
                # The value keeps its place, with its data to come: the reply is no longer
                # empty, so the single-value fast path leaves it to this reader.
                values.append(_new_value(Value, (key, flags_value, b"", cas_value)))
                self._key_index = index
                return self._read_large(start, end)
            values.append(_new_value(Value, (key, flags_value, buf[start:end], cas_value)))
            pos = end + 2
            match = _NEXT_ITEM(buf, end)
            if match is None and not buf.startswith(b"\r\n", end):
                msg = f"data block of {key!r} not followed by \\r\\n: {shown(buf[end:pos])}"
                raise ProtocolError(msg)
        self._pos = pos
        self._key_index = index
        return self._retrieval_other()

    def _retrieval_cas(self, keys: Sequence[bytes] | None, *, bulk: bool = True) -> Any:
        """A gets/gats reply: a retrieval reply whose every value carries its cas unique."""
        reply = self._retrieval(keys, bulk=bulk)
        if type(reply) is list and None in map(_cas_of, reply):
            raise _no_cas(next(value.key for value in reply if value.cas is None))
        return reply

    def _too_large(self, size: int) -> ProtocolError:
        return ProtocolError(f"data block of {size} bytes exceeds max_value_size")

    def _retrieval_other(self) -> Any:
        """A retrieval reply line that is neither END nor a well-formed VALUE line."""
        line = self._line()
        if line is None:
            return NEED_DATA
        error = error_reply(line)
        if error is None:
            raise unexpected(line, "retrieval")
        self._values = []
        self._key_index = 0
        return error

    def _config(self) -> Any:
        buf = self._buf
        pos = self._pos
        if buf.startswith(b"END\r\n", pos):
            self._pos = pos + 5
            return None
        match = _CONFIG_LINE(buf, pos)
        if match is None:
            line = self._line()
            if line is None:
                return NEED_DATA
            error = error_reply(line)
            if error is None:
                raise unexpected(line, "config")
            return error
        start = match.end()
        size = int(match.group(2))
        if size > self._max_value_size:
            raise self._too_large(size)
        end = start + size
        trailer = buf[end : end + 7]
        if not _CONFIG_TRAILER.startswith(trailer):
            raise ProtocolError(f"config block not followed by END: {shown(trailer)}")
        if len(trailer) < 7:
            return self._wait(end + 7 - pos)
        self._pos = end + 7
        return cluster_config(buf[start:end])


def _no_cas(key: bytes) -> ProtocolError:
    return ProtocolError(f"VALUE without a cas unique in a gets/gats reply: {shown(key)}")
