"""Request encoders: validate every argument, then build the request bytes.

Each encoder returns one complete :class:`~emcache_protocol.Request` (command
line, plus the data block for storage commands, with the kind of reply it
expects). Nothing is produced for invalid input, so a key holding
``\\r\\n`` or a flag out of range can never reach a socket. The fast path of
each number check is inlined (``type(x) is int`` and a range test); the helpers in
:mod:`emcache_protocol._keys` only run for a failing argument.

Keys. Every encoder checks its keys with :func:`~emcache_protocol.validate_key`,
except :func:`storage_command`, which inlines it. The call costs about 40 ns
per encode (``tools/bench/protocol.py``: 790 against 760 ns a set request),
yet end to end (32 tasks of ``set`` through ``emcache.create_client`` against
one memcached, 2 s runs, CPU time per operation, the two versions alternating)
the median per set was 5.9-6.0 us inlined against 6.7-7.9 us with the call in
four series of five (the fifth: 7.35 against 7.24, on a busy machine), over the
5% a fast path must pay, so the inlined check stays there. For a get of one key
the call cost 1.4% (9.58 against 9.45 us), so the other encoders call it.

Widths, following memcached 1.6 (protocol.txt): flags are 32-bit unsigned,
exptime a signed 32-bit number of seconds (or a unix time; negative means
"expired at once"), cas unique and incr/decr delta 64-bit unsigned.

Line length. memcached closes a connection as soon as it holds more than 2048
bytes of a command line without its newline, unless the line starts with
``get `` or ``gets `` (proto_text.c, ``try_read_command_ascii``). A request may
reach the server in segments of any size, so every other command line must be
short enough on its own: no encoder produces one longer than
:data:`MAX_COMMAND_LINE`, and :func:`retrieval_commands` splits a gat/gats of
many keys into several requests that fit.

No ``noreply`` token. memcached still answers some errors of a ``noreply``
request (a bad command line, a value too large), so a pipelining client that
sends the token can no longer tell which reply belongs to which request. The
encoders never produce it: a caller that does not want to wait for a reply
sends a normal request and lets its reader drop the reply (the pool's
``execute_noreply``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from emcache_protocol._keys import (
    I32_MAX,
    I32_MIN,
    MAX_KEY_LENGTH,
    U32_MAX,
    U64_MAX,
    as_value_bytes,
    bad_key_byte,
    check_int,
    check_int_slow,
    check_key_slow,
    is_token,
    validate_key,
)
from emcache_protocol._replies import ReplyKind
from emcache_protocol._requests import (
    ConfigRequest,
    IncrDecrRequest,
    Request,
    RetrievalRequest,
    StatsRequest,
    StatusRequest,
    VersionRequest,
    new_request,
)
from emcache_protocol.errors import ProtocolValidationError

__all__ = [
    "MAX_COMMAND_LINE",
    "auth_command",
    "cache_memlimit_command",
    "config_get_cluster_command",
    "delete_command",
    "flush_all_command",
    "incr_decr_command",
    "retrieval_command",
    "retrieval_commands",
    "stats_command",
    "storage_command",
    "touch_command",
    "verbosity_command",
    "version_command",
]

_STORAGE_COMMANDS: Final = frozenset((b"set", b"add", b"replace", b"append", b"prepend"))
_RETRIEVAL_COMMANDS: Final = frozenset((b"get", b"gets"))
_RETRIEVAL_TOUCH_COMMANDS: Final = frozenset((b"gat", b"gats"))
_INCR_DECR_COMMANDS: Final = frozenset((b"incr", b"decr"))
# memcached refuses less than 8 MB and anything above 10**9 (it assumes bytes were meant).
_MEMLIMIT_MIN: Final = 8
_MEMLIMIT_MAX: Final = 1_000_000_000
_STORAGE: Final = ReplyKind.STORAGE
_RETRIEVAL: Final = ReplyKind.RETRIEVAL
_RETRIEVAL_CAS: Final = ReplyKind.RETRIEVAL_CAS
_CAS_RETRIEVALS: Final = frozenset((b"gets", b"gats"))
_SINGLE_KEY: Final = (bytes, bytearray, str)
# Values at least this long are joined to their command line instead of formatted in: bytes
# formatting grows its result as it goes, which for a 1 MB value cost 643 us against 23.5 us
# for a join (timeit, CPython 3.11); below this, formatting is the faster of the two.
_JOIN_VALUE_FROM: Final = 64 * 1024

MAX_COMMAND_LINE: Final = 2000
"""The longest command line, ``\\r\\n`` included, sent for any command but get/gets.

memcached drops the connection once it holds more than 2048 bytes of such a line
without its newline; 48 bytes stay in hand as a margin.
"""


def _bad_command(command: object, allowed: frozenset[bytes]) -> ProtocolValidationError:
    if not isinstance(command, bytes):
        msg = f"command must be bytes, not {type(command).__name__}"
        raise TypeError(msg)
    names = ", ".join(sorted(c.decode() for c in allowed))
    return ProtocolValidationError(f"command must be one of {names}, got {command!r}")


def storage_command(
    command: bytes,
    key: bytes,
    value: bytes | bytearray | memoryview,
    flags: int = 0,
    exptime: int = 0,
    *,
    cas: int | None = None,
) -> StatusRequest:
    """Encode set, add, replace, append, prepend or cas.

    Args:
        command: ``b"set"``, ``b"add"``, ``b"replace"``, ``b"append"``, ``b"prepend"`` or
            ``b"cas"``.
        key: The key (see :func:`validate_key`).
        value: The data block: ``bytes``, ``bytearray`` or ``memoryview``.
        flags: Client flags, 0..2**32-1.
        exptime: Expiration, a signed 32-bit int (seconds, or a unix time; negative
            expires the item at once).
        cas: The CAS unique, 0..2**64-1; required for ``b"cas"`` and refused otherwise.

    Returns:
        The request: the command line and the data block; its reply is a :class:`Status`.

    Raises:
        TypeError: An argument has the wrong type.
        ProtocolValidationError: An argument is out of range (a ``ValueError``).
    """
    # validate_key inlined: the one encoder where the call showed end to end (module doc).
    if type(key) is not bytes or not 0 < len(key) <= MAX_KEY_LENGTH or bad_key_byte(key):
        check_key_slow(key)
    if type(value) is not bytes:
        value = as_value_bytes(value)
    if type(flags) is not int or flags < 0 or flags > U32_MAX:
        flags = check_int_slow("flags", flags, 0, U32_MAX)
    if type(exptime) is not int or exptime < I32_MIN or exptime > I32_MAX:
        exptime = check_int_slow("exptime", exptime, I32_MIN, I32_MAX)
    if cas is None:
        if command not in _STORAGE_COMMANDS:
            if command == b"cas":
                msg = "cas is required for the cas command"
                raise ProtocolValidationError(msg)
            raise _bad_command(command, _STORAGE_COMMANDS | {b"cas"})
        size = len(value)
        if size < _JOIN_VALUE_FROM:
            data = b"%s %s %d %d %d\r\n%s\r\n" % (command, key, flags, exptime, size, value)
        else:
            line = b"%s %s %d %d %d\r\n" % (command, key, flags, exptime, size)
            data = b"".join((line, value, b"\r\n"))
        return new_request(Request, (data, _STORAGE, None))
    if command != b"cas":
        if command in _STORAGE_COMMANDS:
            msg = f"cas is only accepted by the cas command, not {command!r}"
            raise ProtocolValidationError(msg)
        raise _bad_command(command, _STORAGE_COMMANDS | {b"cas"})
    cas = check_int("cas", cas, 0, U64_MAX)
    # Not the hot path: always joined, whatever the length of the value.
    line = b"cas %s %d %d %d %d\r\n" % (key, flags, exptime, len(value), cas)
    return new_request(Request, (b"".join((line, value, b"\r\n")), _STORAGE, None))


def retrieval_command(
    command: bytes, keys: Sequence[bytes], exptime: int | None = None
) -> RetrievalRequest:
    """Encode get, gets, gat or gats for one or many keys.

    Args:
        command: ``b"get"``, ``b"gets"``, ``b"gat"`` or ``b"gats"``.
        keys: The keys, at least one; replies come back in this order (misses skipped).
        exptime: The new expiration for gat/gats (signed 32-bit); refused for get/gets.

    Returns:
        The request; its reply is the list of :class:`Value` found. gets and gats expect
        a cas unique on every value.

    Raises:
        TypeError: An argument has the wrong type (a single key passed as ``keys`` too).
        ProtocolValidationError: An argument is out of range (a ``ValueError``), or a
            gat/gats line would be longer than :data:`MAX_COMMAND_LINE` (use
            :func:`retrieval_commands`).
    """
    if exptime is None and command in _RETRIEVAL_COMMANDS:
        head = command  # get and gets, the usual case: checked first
    elif command in _RETRIEVAL_COMMANDS:
        msg = f"exptime is only accepted by gat and gats, not {command!r}"
        raise ProtocolValidationError(msg)
    elif command in _RETRIEVAL_TOUCH_COMMANDS:
        if exptime is None:
            msg = f"exptime is required for {command!r}"
            raise ProtocolValidationError(msg)
        head = b"%s %d" % (command, check_int("exptime", exptime, I32_MIN, I32_MAX))
    else:
        raise _bad_command(command, _RETRIEVAL_COMMANDS | _RETRIEVAL_TOUCH_COMMANDS)
    given: object = keys  # callers without type checking pass a single key by mistake
    # A tuple or list is never a single key; isinstance over a tuple of types, not a union,
    # which costs several times more (a third of a one-key get's encoding).
    if type(given) is not tuple and type(given) is not list and isinstance(given, _SINGLE_KEY):
        msg = "keys must be a sequence of keys, not a single key"
        raise TypeError(msg)
    for key in keys:
        validate_key(key)
    if not keys:
        msg = "keys must hold at least one key"
        raise ProtocolValidationError(msg)
    line = b"%s %s\r\n" % (head, b" ".join(keys))
    if len(line) > MAX_COMMAND_LINE and command in _RETRIEVAL_TOUCH_COMMANDS:
        msg = (
            f"a {command.decode()} line of {len(line)} bytes is longer than MAX_COMMAND_LINE "
            f"({MAX_COMMAND_LINE}); split the keys with retrieval_commands"
        )
        raise ProtocolValidationError(msg)
    kind = _RETRIEVAL_CAS if command in _CAS_RETRIEVALS else _RETRIEVAL
    return new_request(Request, (line, kind, keys))


def retrieval_commands(
    command: bytes, keys: Sequence[bytes], exptime: int | None = None
) -> list[RetrievalRequest]:
    """Encode get, gets, gat or gats for any number of keys, as few requests as can be sent.

    get and gets take one request whatever its length. A gat or gats line longer
    than :data:`MAX_COMMAND_LINE` is split: the keys are cut, in order, into
    groups whose lines fit, one request per group.

    Args:
        command: ``b"get"``, ``b"gets"``, ``b"gat"`` or ``b"gats"``.
        keys: The keys, at least one.
        exptime: The new expiration for gat/gats (signed 32-bit); refused for get/gets.

    Returns:
        The requests, in key order (each carries its own keys); every request is encoded
        (and so every key validated) before the list is returned.

    Raises:
        TypeError: An argument has the wrong type (a single key passed as ``keys`` too).
        ProtocolValidationError: An argument is out of range (a ``ValueError``).
    """
    if command not in _RETRIEVAL_TOUCH_COMMANDS or exptime is None:
        return [retrieval_command(command, keys, exptime)]
    exptime = check_int("exptime", exptime, I32_MIN, I32_MAX)
    given: object = keys
    if isinstance(given, _SINGLE_KEY):
        msg = "keys must be a sequence of keys, not a single key"
        raise TypeError(msg)
    if type(keys) is not list and type(keys) is not tuple:
        keys = list(keys)
    # Each key costs its length plus a space; the head and "\r\n" are fixed.
    room = MAX_COMMAND_LINE - len(b"%s %d\r\n" % (command, exptime))
    groups = []
    start = used = 0
    for index, key in enumerate(keys):
        size = len(key) + 1 if type(key) is bytes else 1  # a bad key is refused below
        if used + size > room and index > start:
            groups.append(keys[start:index])
            start, used = index, 0
        used += size
    groups.append(keys[start:])
    return [retrieval_command(command, group, exptime) for group in groups]


def incr_decr_command(command: bytes, key: bytes, delta: int) -> IncrDecrRequest:
    """Encode incr or decr.

    Args:
        command: ``b"incr"`` or ``b"decr"``.
        key: The key.
        delta: The amount, 0..2**64-1.

    Returns:
        The request; its reply is the new value, or ``Status.NOT_FOUND``.

    Raises:
        TypeError: An argument has the wrong type.
        ProtocolValidationError: An argument is out of range (a ``ValueError``).
    """
    if command not in _INCR_DECR_COMMANDS:
        raise _bad_command(command, _INCR_DECR_COMMANDS)
    validate_key(key)
    delta = check_int("delta", delta, 0, U64_MAX)
    return new_request(
        Request, (b"%s %s %d\r\n" % (command, key, delta), ReplyKind.INCR_DECR, None)
    )


def touch_command(key: bytes, exptime: int) -> StatusRequest:
    """Encode touch: set a new expiration on an existing item.

    Args:
        key: The key.
        exptime: The new expiration, a signed 32-bit int.

    Returns:
        The request; its reply is ``Status.TOUCHED`` or ``Status.NOT_FOUND``.

    Raises:
        TypeError: An argument has the wrong type.
        ProtocolValidationError: An argument is out of range (a ``ValueError``).
    """
    validate_key(key)
    exptime = check_int("exptime", exptime, I32_MIN, I32_MAX)
    return new_request(Request, (b"touch %s %d\r\n" % (key, exptime), ReplyKind.TOUCH, None))


def delete_command(key: bytes) -> StatusRequest:
    """Encode delete.

    Args:
        key: The key.

    Returns:
        The request; its reply is ``Status.DELETED`` or ``Status.NOT_FOUND``.

    Raises:
        TypeError: ``key`` is not ``bytes``.
        ProtocolValidationError: ``key`` is not a valid key (a ``ValueError``).
    """
    validate_key(key)
    return new_request(Request, (b"delete %s\r\n" % key, ReplyKind.DELETE, None))


def flush_all_command(delay: int = 0) -> StatusRequest:
    """Encode flush_all: invalidate every item, now or after ``delay`` seconds.

    Args:
        delay: Seconds to wait before flushing, 0..2**31-1.

    Returns:
        The request; its reply is ``Status.OK``.

    Raises:
        TypeError: ``delay`` is not an ``int``.
        ProtocolValidationError: ``delay`` is out of range (a ``ValueError``).
    """
    delay = check_int("delay", delay, 0, I32_MAX)
    line = b"flush_all\r\n" if delay == 0 else b"flush_all %d\r\n" % delay
    return new_request(Request, (line, ReplyKind.OK, None))


def version_command() -> VersionRequest:
    """Encode version; its reply is a :class:`VersionReply`."""
    return new_request(Request, (b"version\r\n", ReplyKind.VERSION, None))


def stats_command(*args: str | bytes) -> StatsRequest:
    """Encode stats, with optional arguments (``"settings"``, ``"slabs"``, ``"items"`` ...).

    Args:
        *args: Tokens appended to the command; ASCII text or bytes without whitespace.

    Returns:
        The request; its reply is a :class:`StatsReply`.

    Raises:
        TypeError: An argument is neither ``str`` nor ``bytes``.
        ProtocolValidationError: An argument is empty, not ASCII, or holds whitespace
            or control characters, or the line would be longer than
            :data:`MAX_COMMAND_LINE` (a ``ValueError``).
    """
    tokens = [b"stats"]
    for arg in args:
        given: object = arg  # callers without type checking may pass anything
        if not isinstance(given, str | bytes):
            msg = f"stats argument must be str or bytes, not {type(given).__name__}"
            raise TypeError(msg)
        if not arg.isascii():
            msg = f"stats argument must be ASCII, got {arg!r}"
            raise ProtocolValidationError(msg)
        token = arg.encode("ascii") if isinstance(arg, str) else arg
        if not is_token(token):
            check_key_slow(token, "stats argument")
        tokens.append(token)
    line = b" ".join(tokens) + b"\r\n"
    if len(line) > MAX_COMMAND_LINE:
        msg = f"a stats line of {len(line)} bytes is longer than MAX_COMMAND_LINE"
        raise ProtocolValidationError(msg)
    return new_request(Request, (line, ReplyKind.STATS, None))


def verbosity_command(level: int) -> StatusRequest:
    """Encode verbosity: set the server's logging level.

    Args:
        level: The level, 0..2**32-1 (the server caps it at its maximum).

    Returns:
        The request; its reply is ``Status.OK``.

    Raises:
        TypeError: ``level`` is not an ``int``.
        ProtocolValidationError: ``level`` is out of range (a ``ValueError``).
    """
    level = check_int("level", level, 0, U32_MAX)
    return new_request(Request, (b"verbosity %d\r\n" % level, ReplyKind.OK, None))


def cache_memlimit_command(megabytes: int) -> StatusRequest:
    """Encode cache_memlimit: change the server's memory limit at run time.

    Args:
        megabytes: The new limit in megabytes, 8..1_000_000_000 (what memcached accepts).

    Returns:
        The request; its reply is ``Status.OK`` (or an :class:`ErrorReply` for
        ``MEMLIMIT_TOO_SMALL`` and ``MEMLIMIT_ADJUST_FAILED``).

    Raises:
        TypeError: ``megabytes`` is not an ``int``.
        ProtocolValidationError: ``megabytes`` is out of range (a ``ValueError``).
    """
    megabytes = check_int("megabytes", megabytes, _MEMLIMIT_MIN, _MEMLIMIT_MAX)
    return new_request(Request, (b"cache_memlimit %d\r\n" % megabytes, ReplyKind.OK, None))


def config_get_cluster_command() -> ConfigRequest:
    """Encode ``config get cluster`` (the autodiscovery request of ElastiCache/Memorystore).

    Its reply is a :class:`ClusterConfig`, or ``None`` when the server answers a bare ``END``.
    """
    return new_request(Request, (b"config get cluster\r\n", ReplyKind.CONFIG, None))


def _credential(name: str, value: object) -> bytes:
    # Messages never repeat the credential itself: it must not reach logs.
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        msg = f"{name} must be str or bytes, not {type(value).__name__}"
        raise TypeError(msg)
    if not value:
        msg = f"{name} must not be empty"
        raise ProtocolValidationError(msg)
    if b"\r" in value or b"\n" in value or b"\x00" in value:
        msg = f"{name} must not contain CR, LF or NUL"
        raise ProtocolValidationError(msg)
    return value


def auth_command(username: str | bytes, password: str | bytes) -> StatusRequest:
    """Encode the ascii authentication request of memcached started with ``-Y authfile``.

    The server takes a ``set`` whose data block is ``<username> <password>``;
    the key, flags and exptime tokens are ignored. The reply is a storage
    reply: ``STORED`` when authenticated.

    Args:
        username: The user name (text is UTF-8 encoded); no whitespace or control bytes.
        password: The password; no CR, LF or NUL.

    Returns:
        The request; its reply is ``Status.STORED`` when authenticated.

    Raises:
        TypeError: An argument is neither ``str`` nor ``bytes``.
        ProtocolValidationError: An argument is empty or holds forbidden bytes (a
            ``ValueError``). Messages never include the credentials.
    """
    user = _credential("username", username)
    if not is_token(user):
        msg = "username must be at most 250 bytes, without whitespace or control bytes"
        raise ProtocolValidationError(msg)
    secret = _credential("password", password)
    data = user + b" " + secret
    request = b"set _ _ _ %d\r\n%s\r\n" % (len(data), data)
    return new_request(Request, (request, _STORAGE, None))
