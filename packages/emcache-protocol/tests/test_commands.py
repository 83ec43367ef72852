"""Request encoders: the bytes they produce and the input they refuse."""

import itertools
import random
from enum import IntEnum

import pytest

from emcache_protocol import (
    MAX_COMMAND_LINE,
    MAX_KEY_LENGTH,
    ProtocolValidationError,
    ReplyKind,
    auth_command,
    cache_memlimit_command,
    config_get_cluster_command,
    delete_command,
    flush_all_command,
    incr_decr_command,
    retrieval_command,
    retrieval_commands,
    stats_command,
    storage_command,
    touch_command,
    verbosity_command,
    version_command,
)

U32 = 2**32 - 1
U64 = 2**64 - 1


@pytest.mark.parametrize("command", [b"set", b"add", b"replace", b"append", b"prepend"])
def test_storage_command_encodes_line_and_data(command: bytes) -> None:
    """A storage request is the command line then the data block, both CRLF-terminated."""
    assert (
        storage_command(command, b"k", b"v\r\n", 3, 60).data == command + b" k 3 60 3\r\nv\r\n\r\n"
    )


def test_storage_command_encodes_cas() -> None:
    """cas puts the unique after the length."""
    request = storage_command(b"cas", b"k", b"abc", 1, 2, cas=99)
    assert request.data == b"cas k 1 2 3 99\r\nabc\r\n"
    assert request.kind is ReplyKind.STORAGE


@pytest.mark.parametrize("size", [64 * 1024 - 1, 64 * 1024, 1_000_000])
def test_storage_command_encodes_large_values_the_same(size: int) -> None:
    """Long values are joined to their line rather than formatted in: same bytes."""
    value = bytes(range(256)) * (size // 256) + b"\r\n" * (size % 256 // 2) + b"!" * (size % 2)
    assert len(value) == size
    assert storage_command(b"set", b"k", value, 5, 6).data == b"set k 5 6 %d\r\n%s\r\n" % (
        size,
        value,
    )
    request = storage_command(b"cas", b"k", memoryview(value), 5, 6, cas=7)
    assert request.data == b"cas k 5 6 %d 7\r\n%s\r\n" % (size, value)


def test_encoders_never_send_the_noreply_token() -> None:
    """No encoder takes noreply: a pipelined stream must get one reply per request."""
    with pytest.raises(TypeError):
        storage_command(b"set", b"k", b"v", noreply=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        delete_command(b"k", noreply=True)  # type: ignore[call-arg]


@pytest.mark.parametrize("value", [bytearray(b"abc"), memoryview(b"abc"), b"abc"])
def test_storage_command_accepts_bytes_like_values(value: object) -> None:
    """bytes, bytearray and memoryview values encode the same."""
    assert storage_command(b"set", b"k", value).data == b"set k 0 0 3\r\nabc\r\n"  # type: ignore[arg-type]


def test_storage_command_accepts_range_limits() -> None:
    """Flags 2**32-1 and both ends of the signed 32-bit exptime are accepted."""
    request = storage_command(b"set", b"k", b"", U32, -(2**31)).data
    assert request == b"set k %d -2147483648 0\r\n\r\n" % U32
    assert storage_command(b"set", b"k", b"", 0, 2**31 - 1).data.startswith(b"set k 0 2147483647 0")
    assert storage_command(b"cas", b"k", b"", cas=U64).data.startswith(b"cas k 0 0 0 %d" % U64)


def test_storage_command_accepts_int_subclasses() -> None:
    """An IntEnum flag is encoded as its number."""

    class Flag(IntEnum):
        PICKLED = 2

    assert storage_command(b"set", b"k", b"", Flag.PICKLED).data == b"set k 2 0 0\r\n\r\n"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"key": "k"}, TypeError, "key must be bytes"),
        ({"key": b"a b"}, ProtocolValidationError, "key"),
        ({"value": "text"}, TypeError, "value must be bytes"),
        ({"flags": -1}, ProtocolValidationError, "flags"),
        ({"flags": U32 + 1}, ProtocolValidationError, "flags"),
        ({"flags": True}, TypeError, "flags must be an int"),
        ({"flags": 1.0}, TypeError, "flags must be an int"),
        ({"exptime": 2**31}, ProtocolValidationError, "exptime"),
        ({"exptime": -(2**31) - 1}, ProtocolValidationError, "exptime"),
        ({"exptime": False}, TypeError, "exptime must be an int"),
        ({"command": b"cas"}, ProtocolValidationError, "cas is required"),
        ({"cas": 1}, ProtocolValidationError, "only accepted by the cas command"),
        ({"command": b"get"}, ProtocolValidationError, "command must be one of"),
        ({"command": "set"}, TypeError, "command must be bytes"),
        ({"command": b"cas", "cas": U64 + 1}, ProtocolValidationError, "cas"),
        ({"command": b"cas", "cas": -1}, ProtocolValidationError, "cas"),
        ({"command": b"cas", "cas": True}, TypeError, "cas must be an int"),
    ],
)
def test_storage_command_refuses_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    """Each bad argument raises before anything is encoded, naming the argument."""
    arguments: dict[str, object] = {"command": b"set", "key": b"k", "value": b"v"}
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        storage_command(**arguments)  # type: ignore[arg-type]


def test_retrieval_command_encodes_many_keys() -> None:
    """get and gets list every key on one line."""
    assert retrieval_command(b"get", [b"a"]).data == b"get a\r\n"
    assert retrieval_command(b"gets", (b"a", b"b", b"c")).data == b"gets a b c\r\n"


def test_retrieval_command_encodes_exptime_for_gat() -> None:
    """gat and gats put the exptime before the keys."""
    assert retrieval_command(b"gat", [b"a", b"b"], 10).data == b"gat 10 a b\r\n"
    assert retrieval_command(b"gats", [b"a"], -1).data == b"gats -1 a\r\n"


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((b"get", []), ProtocolValidationError, "at least one key"),
        ((b"get", b"key"), TypeError, "not a single key"),
        ((b"get", "key"), TypeError, "not a single key"),
        ((b"get", [b"a", "b"]), TypeError, "key must be bytes"),
        ((b"get", [b"a", b"b c"]), ProtocolValidationError, "whitespace"),
        ((b"get", [b"a"], 10), ProtocolValidationError, "only accepted by gat"),
        ((b"gat", [b"a"]), ProtocolValidationError, "exptime is required"),
        ((b"gat", [b"a"], 2**31), ProtocolValidationError, "exptime"),
        ((b"gat", [b"a"], True), TypeError, "exptime must be an int"),
        ((b"set", [b"a"]), ProtocolValidationError, "command must be one of"),
    ],
)
def test_retrieval_command_refuses_bad_arguments(
    args: tuple[object, ...], error: type[Exception], match: str
) -> None:
    """Bad commands, keys and exptimes raise before anything is encoded."""
    with pytest.raises(error, match=match):
        retrieval_command(*args)  # type: ignore[arg-type]


def test_incr_decr_command_encodes_delta() -> None:
    """incr and decr carry the delta, up to 2**64-1."""
    assert incr_decr_command(b"incr", b"n", 1).data == b"incr n 1\r\n"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((b"incr", b"n", -1), ProtocolValidationError),
        ((b"incr", b"n", U64 + 1), ProtocolValidationError),
        ((b"incr", b"n", True), TypeError),
        ((b"incr", "n", 1), TypeError),
        ((b"add", b"n", 1), ProtocolValidationError),
    ],
)
def test_incr_decr_command_refuses_bad_arguments(
    args: tuple[object, ...], error: type[Exception]
) -> None:
    """Out-of-range deltas, bools, text keys and other commands are refused."""
    with pytest.raises(error):
        incr_decr_command(*args)  # type: ignore[arg-type]


def test_touch_and_delete_commands_encode_key() -> None:
    """touch carries the exptime, delete the key alone."""
    assert touch_command(b"k", 5).data == b"touch k 5\r\n"
    assert delete_command(b"k").data == b"delete k\r\n"


def test_touch_and_delete_commands_refuse_bad_keys() -> None:
    """A key with CRLF can never be encoded."""
    with pytest.raises(ProtocolValidationError):
        touch_command(b"k\r\n", 1)
    with pytest.raises(ProtocolValidationError):
        delete_command(b"k\r\nflush_all")
    with pytest.raises(TypeError):
        touch_command(b"k", None)  # type: ignore[arg-type]


def test_flush_all_command_encodes_delay() -> None:
    """flush_all omits a zero delay."""
    assert flush_all_command().data == b"flush_all\r\n"
    assert flush_all_command(10).data == b"flush_all 10\r\n"
    with pytest.raises(ProtocolValidationError, match="delay"):
        flush_all_command(-1)


def test_simple_commands_encode_fixed_lines() -> None:
    """version and config get cluster take no argument."""
    assert version_command().data == b"version\r\n"
    assert config_get_cluster_command().data == b"config get cluster\r\n"


def test_stats_command_encodes_arguments() -> None:
    """stats takes optional str or bytes tokens."""
    assert stats_command().data == b"stats\r\n"
    assert stats_command("settings").data == b"stats settings\r\n"
    assert stats_command(b"cachedump", "1", "10").data == b"stats cachedump 1 10\r\n"


@pytest.mark.parametrize(
    ("arg", "error"),
    [
        ("a b", ProtocolValidationError),
        ("", ProtocolValidationError),
        ("é", ProtocolValidationError),
        (b"\xff", ProtocolValidationError),
        (1, TypeError),
    ],
)
def test_stats_command_refuses_bad_arguments(arg: object, error: type[Exception]) -> None:
    """Arguments must be non-empty ASCII tokens."""
    with pytest.raises(error):
        stats_command(arg)  # type: ignore[arg-type]


def test_verbosity_and_memlimit_commands_encode_numbers() -> None:
    """verbosity and cache_memlimit carry one number."""
    assert verbosity_command(1).data == b"verbosity 1\r\n"
    assert cache_memlimit_command(64).data == b"cache_memlimit 64\r\n"


@pytest.mark.parametrize("megabytes", [7, 1_000_000_001, -1])
def test_cache_memlimit_command_refuses_what_memcached_refuses(megabytes: int) -> None:
    """Limits below 8 MB or above 10**9 MB are refused."""
    with pytest.raises(ProtocolValidationError, match="megabytes"):
        cache_memlimit_command(megabytes)


def test_auth_command_encodes_credentials_as_data() -> None:
    """The credentials are the data block of a set with placeholder tokens."""
    assert auth_command("user", "pa ss").data == b"set _ _ _ 10\r\nuser pa ss\r\n"
    assert auth_command(b"u", b"p").data == b"set _ _ _ 3\r\nu p\r\n"


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        ("", "secret-pw", ProtocolValidationError),
        ("us er", "secret-pw", ProtocolValidationError),
        ("user", "secret\r\npw", ProtocolValidationError),
        ("user", "", ProtocolValidationError),
        (None, "secret-pw", TypeError),
        ("user", 1234, TypeError),
    ],
)
def test_auth_command_never_echoes_credentials(
    username: object, password: object, error: type[Exception]
) -> None:
    """Bad credentials are refused with a message that does not contain them."""
    with pytest.raises(error) as info:
        auth_command(username, password)  # type: ignore[arg-type]
    assert "secret" not in str(info.value)
    assert "us er" not in str(info.value)


def _random_keys(count: int, seed: int) -> list[bytes]:
    """Keys of random lengths (1..250 bytes), all distinct."""
    rng = random.Random(seed)
    return [b"%d:" % i + b"k" * rng.randint(0, MAX_KEY_LENGTH - 6) for i in range(count)]


@pytest.mark.parametrize("command", [b"gat", b"gats"])
@pytest.mark.parametrize("exptime", [0, -(2**31), 2**31 - 1])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_retrieval_commands_split_gat_lines_under_the_limit(
    command: bytes, exptime: int, seed: int
) -> None:
    """5,000 keys of any length become gat/gats lines that all fit, keys in order, none lost."""
    keys = _random_keys(5000, seed)
    parts = retrieval_commands(command, keys, exptime)
    assert len(parts) > 1
    assert [key for _, _, group in parts for key in group] == keys
    for request, _, group in parts:
        assert len(request) <= MAX_COMMAND_LINE
        assert request == retrieval_command(command, group, exptime).data
    # Greedy: each group but the last would overflow with the next key added.
    for (request, _, _), (_, _, following) in itertools.pairwise(parts):
        assert len(request) + 1 + len(following[0]) > MAX_COMMAND_LINE


def test_retrieval_commands_keep_short_and_get_requests_whole() -> None:
    """get/gets of any length, and a gat that fits, stay one request with the keys given."""
    keys = _random_keys(2000, 4)
    assert retrieval_commands(b"get", keys) == [retrieval_command(b"get", keys)]
    assert retrieval_commands(b"gets", keys) == [retrieval_command(b"gets", keys)]
    assert retrieval_commands(b"gat", (b"a", b"b"), 5) == [
        (b"gat 5 a b\r\n", ReplyKind.RETRIEVAL, (b"a", b"b"))
    ]


def test_retrieval_commands_fill_lines_to_the_limit() -> None:
    """A gat line whose keys fill it to exactly MAX_COMMAND_LINE bytes is not split."""
    head = len(b"gat 0 \r\n")
    keys = [b"k" * 249 + b"%d" % i for i in range(7)]
    last = MAX_COMMAND_LINE - head - sum(len(k) + 1 for k in keys)
    keys.append(b"z" * last)
    [(request, _, _)] = retrieval_commands(b"gat", keys, 0)
    assert len(request) == MAX_COMMAND_LINE
    parts = retrieval_commands(b"gat", [*keys, b"y"], 0)
    assert [group for _, _, group in parts] == [keys, [b"y"]]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((b"gat", [b"a"] * 1000 + [b"b c"], 0), ProtocolValidationError, "whitespace"),
        ((b"gat", [b"a"] * 1000 + ["b"], 0), TypeError, "key must be bytes"),
        ((b"gat", b"k" * 3000, 0), TypeError, "not a single key"),
        ((b"gat", [b"a"] * 1000, 2**31), ProtocolValidationError, "exptime"),
        ((b"gat", [b"a"] * 1000), ProtocolValidationError, "exptime is required"),
        ((b"gat", [], 0), ProtocolValidationError, "at least one key"),
        ((b"get", [b"a"], 0), ProtocolValidationError, "only accepted by gat"),
    ],
)
def test_retrieval_commands_refuse_bad_arguments(
    args: tuple[object, ...], error: type[Exception], match: str
) -> None:
    """A bad argument anywhere raises before any request is returned."""
    with pytest.raises(error, match=match):
        retrieval_commands(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", [b"gat", b"gats"])
def test_retrieval_command_refuses_a_gat_line_over_the_limit(command: bytes) -> None:
    """A single gat/gats line longer than MAX_COMMAND_LINE is refused; get is not."""
    keys = _random_keys(700, 5)
    with pytest.raises(ProtocolValidationError, match="retrieval_commands"):
        retrieval_command(command, keys, 0)
    assert len(retrieval_command(b"get", keys).data) > MAX_COMMAND_LINE


def test_stats_command_refuses_a_line_over_the_limit() -> None:
    """stats arguments that would make a line longer than MAX_COMMAND_LINE are refused."""
    assert len(stats_command(*["x" * 240] * 8).data) <= MAX_COMMAND_LINE
    with pytest.raises(ProtocolValidationError, match="MAX_COMMAND_LINE"):
        stats_command(*["x" * 250] * 8)


def test_no_encoded_line_but_get_and_gets_exceeds_the_limit() -> None:
    """Every command line the encoders can produce, at the widest arguments, fits.

    memcached closes a connection that sends more than 2048 bytes of a line without a
    newline unless the line starts with get or gets.
    """
    key = b"k" * MAX_KEY_LENGTH
    requests = [
        storage_command(b"cas", key, b"v" * 5000, U32, -(2**31), cas=U64).data,
        *(
            storage_command(c, key, b"v", U32, -(2**31)).data
            for c in (b"set", b"add", b"replace", b"append", b"prepend")
        ),
        incr_decr_command(b"decr", key, U64).data,
        touch_command(key, -(2**31)).data,
        delete_command(key).data,
        flush_all_command(2**31 - 1).data,
        verbosity_command(U32).data,
        cache_memlimit_command(1_000_000_000).data,
        version_command().data,
        config_get_cluster_command().data,
        auth_command(b"u" * MAX_KEY_LENGTH, b"p" * 5000).data,
        stats_command(*["x" * 240] * 8).data,
    ]
    for command in (b"gat", b"gats"):
        for exptime in (-(2**31), 2**31 - 1):
            requests += [
                request
                for keys in ([key] * 200, _random_keys(5000, 6))
                for request, _, _ in retrieval_commands(command, keys, exptime)
            ]
    for request in requests:
        line = request[: request.index(b"\r\n") + 2]
        assert not line.startswith((b"get ", b"gets "))
        assert len(line) <= MAX_COMMAND_LINE, line[:40]


def test_each_encoder_fixes_the_kind_of_its_reply() -> None:
    """An encoder's request carries the reply kind that fits it, and its keys for retrievals."""
    expected = [
        (storage_command(b"set", b"k", b"v"), ReplyKind.STORAGE),
        (storage_command(b"cas", b"k", b"v", cas=1), ReplyKind.STORAGE),
        (retrieval_command(b"get", [b"k"]), ReplyKind.RETRIEVAL),
        (retrieval_command(b"gat", [b"k"], 5), ReplyKind.RETRIEVAL),
        (retrieval_command(b"gets", [b"k"]), ReplyKind.RETRIEVAL_CAS),
        (retrieval_command(b"gats", [b"k"], 5), ReplyKind.RETRIEVAL_CAS),
        (incr_decr_command(b"incr", b"k", 1), ReplyKind.INCR_DECR),
        (touch_command(b"k", 1), ReplyKind.TOUCH),
        (delete_command(b"k"), ReplyKind.DELETE),
        (flush_all_command(), ReplyKind.OK),
        (verbosity_command(1), ReplyKind.OK),
        (cache_memlimit_command(64), ReplyKind.OK),
        (version_command(), ReplyKind.VERSION),
        (stats_command(), ReplyKind.STATS),
        (config_get_cluster_command(), ReplyKind.CONFIG),
        (auth_command("u", "p"), ReplyKind.STORAGE),
    ]
    for request, kind in expected:
        assert request.kind is kind, request
        assert (request.keys is not None) == (
            kind in (ReplyKind.RETRIEVAL, ReplyKind.RETRIEVAL_CAS)
        )


def test_request_repr_never_shows_its_bytes() -> None:
    """A request's repr names its kind and size only: no value, no credential."""
    request = auth_command("alice", "s3cr3t-password")
    assert "s3cr3t" not in repr(request)
    assert "s3cr3t" not in str(request)
    assert "private" not in repr(storage_command(b"set", b"k", b"private"))
