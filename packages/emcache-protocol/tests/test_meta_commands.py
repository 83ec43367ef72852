"""The meta encoders: every flag as its token, and invalid input refused before any byte."""

import binascii
from typing import Any

import pytest

from emcache_protocol import (
    MAX_BINARY_KEY_LENGTH,
    MAX_COMMAND_LINE,
    MetaArithmeticMode,
    MetaSetMode,
    ProtocolValidationError,
    ReplyKind,
    Request,
    meta_arithmetic_command,
    meta_batch_command,
    meta_delete_command,
    meta_get_command,
    meta_noop_command,
    meta_set_command,
    retrieval_command,
)


def flags_of(request: Request[Any]) -> list[bytes]:
    """The flag tokens of a request's command line."""
    line = request.data.split(b"\r\n", 1)[0].split(b" ")
    return line[3:] if line[0] == b"ms" else line[2:]


def test_meta_get_command_defaults_to_the_value() -> None:
    """A plain mg asks for the value only, and names its key for the parser."""
    request = meta_get_command(b"k")
    assert request.data == b"mg k v\r\n"
    assert request.kind is ReplyKind.META_GET
    assert request.keys == (b"k",)


@pytest.mark.parametrize(
    ("options", "token"),
    [
        ({"return_flags": True}, b"f"),
        ({"return_cas": True}, b"c"),
        ({"return_ttl": True}, b"t"),
        ({"return_key": True}, b"k"),
        ({"return_size": True}, b"s"),
        ({"return_hit": True}, b"h"),
        ({"return_last_access": True}, b"l"),
        ({"no_bump": True}, b"u"),
        ({"ttl": 30}, b"T30"),
        ({"ttl": -1}, b"T-1"),
        ({"vivify_ttl": 10}, b"N10"),
        ({"recache_below": 5}, b"R5"),
        ({"new_cas": 2**64 - 1}, b"E18446744073709551615"),
        ({"cas": 7}, b"C7"),
        ({"opaque": b"x" * 31}, b"O" + b"x" * 31),
    ],
)
def test_meta_get_command_writes_each_flag(options: dict[str, Any], token: bytes) -> None:
    """Each keyword of mg becomes its flag token."""
    assert token in flags_of(meta_get_command(b"k", **options))


def test_meta_get_command_orders_flags_as_memcached_applies_them() -> None:
    """N and R come before T, and T before the return flags: t reports the new TTL."""
    request = meta_get_command(b"k", ttl=9, vivify_ttl=8, recache_below=7, return_ttl=True)
    assert flags_of(request) == [b"N8", b"R7", b"T9", b"v", b"t"]


def test_meta_get_command_without_value_asks_nothing() -> None:
    """return_value=False sends a bare mg (memcached >= 1.6.18 answers HD or EN)."""
    assert meta_get_command(b"k", return_value=False).data == b"mg k\r\n"


def test_meta_set_command_writes_length_and_data_block() -> None:
    """ms carries the data length before its flags, then the data block."""
    request = meta_set_command(b"k", b"hello")
    assert request.data == b"ms k 5\r\nhello\r\n"
    assert request.kind is ReplyKind.META_SET
    assert request.keys == (b"k",)


@pytest.mark.parametrize("value", [b"abc", bytearray(b"abc"), memoryview(b"abc")])
def test_meta_set_command_takes_bytes_like_values(value: Any) -> None:
    """bytes, bytearray and memoryview values are sent as they are."""
    assert meta_set_command(b"k", value).data == b"ms k 3\r\nabc\r\n"


@pytest.mark.parametrize(
    ("options", "token"),
    [
        ({"flags": 2**32 - 1}, b"F4294967295"),
        ({"ttl": 60}, b"T60"),
        ({"mode": MetaSetMode.ADD}, b"ME"),
        ({"mode": MetaSetMode.APPEND}, b"MA"),
        ({"mode": MetaSetMode.PREPEND}, b"MP"),
        ({"mode": MetaSetMode.REPLACE}, b"MR"),
        ({"cas": 12}, b"C12"),
        ({"new_cas": 13}, b"E13"),
        ({"cas": 12, "invalidate": True}, b"I"),
        ({"mode": MetaSetMode.APPEND, "vivify_ttl": 5}, b"N5"),
        ({"return_cas": True}, b"c"),
        ({"return_key": True}, b"k"),
        ({"return_size": True}, b"s"),
        ({"opaque": b"op"}, b"Oop"),
    ],
)
def test_meta_set_command_writes_each_flag(options: dict[str, Any], token: bytes) -> None:
    """Each keyword of ms becomes its flag token."""
    assert token in flags_of(meta_set_command(b"k", b"v", **options))


def test_meta_set_command_leaves_out_defaults() -> None:
    """Flags 0, TTL 0 and the set mode are memcached's defaults and are not sent."""
    request = meta_set_command(b"k", b"v", flags=0, ttl=0, mode=MetaSetMode.SET)
    assert flags_of(request) == []


@pytest.mark.parametrize(
    ("options", "token"),
    [
        ({"cas": 1}, b"C1"),
        ({"new_cas": 2}, b"E2"),
        ({"invalidate": True}, b"I"),
        ({"invalidate": True, "ttl": 30}, b"T30"),
        ({"remove_value": True}, b"x"),
        ({"return_key": True}, b"k"),
        ({"opaque": b"7"}, b"O7"),
    ],
)
def test_meta_delete_command_writes_each_flag(options: dict[str, Any], token: bytes) -> None:
    """Each keyword of md becomes its flag token."""
    request = meta_delete_command(b"k", **options)
    assert request.kind is ReplyKind.META_DELETE
    assert token in flags_of(request)


@pytest.mark.parametrize(
    ("options", "token"),
    [
        ({"mode": MetaArithmeticMode.DECREMENT}, b"MD"),
        ({"delta": 2**64 - 1}, b"D18446744073709551615"),
        ({"vivify_ttl": 0}, b"N0"),
        ({"vivify_ttl": 0, "initial": 5}, b"J5"),
        ({"ttl": 9}, b"T9"),
        ({"cas": 3}, b"C3"),
        ({"new_cas": 4}, b"E4"),
        ({"return_value": True}, b"v"),
        ({"return_ttl": True}, b"t"),
        ({"return_cas": True}, b"c"),
        ({"return_key": True}, b"k"),
        ({"opaque": b"o"}, b"Oo"),
    ],
)
def test_meta_arithmetic_command_writes_each_flag(options: dict[str, Any], token: bytes) -> None:
    """Each keyword of ma becomes its flag token."""
    request = meta_arithmetic_command(b"k", **options)
    assert request.kind is ReplyKind.META_ARITHMETIC
    assert token in flags_of(request)


def test_meta_arithmetic_command_defaults_to_increment_by_one() -> None:
    """The increment mode and a delta of 1 are memcached's defaults and are not sent."""
    assert meta_arithmetic_command(b"k").data == b"ma k\r\n"


def test_meta_noop_command_is_mn() -> None:
    """mn takes nothing and expects MN."""
    assert meta_noop_command().data == b"mn\r\n"
    assert meta_noop_command().kind is ReplyKind.META_NOOP


def test_meta_commands_send_text_keys_as_text_even_with_base64() -> None:
    """A valid text key travels as it is: memcached stores decoded keys, so both name one item."""
    assert meta_get_command(b"k", base64=True).data == b"mg k v\r\n"


def test_meta_commands_send_binary_keys_in_base64() -> None:
    """A key with a space or control byte travels base64-encoded with the b flag."""
    key = b"\x00two words\xff"
    request = meta_get_command(key, base64=True)
    encoded = binascii.b2a_base64(key, newline=False)
    assert request.data == b"mg %s b v\r\n" % encoded
    assert request.keys == (key,)
    stored = meta_set_command(key, b"v", base64=True)
    assert stored.data == b"ms %s 1 b\r\nv\r\n" % encoded


def test_meta_commands_accept_the_longest_binary_key() -> None:
    """A binary key of MAX_BINARY_KEY_LENGTH bytes encodes to at most 250 bytes."""
    request = meta_delete_command(b" " * MAX_BINARY_KEY_LENGTH, base64=True)
    assert len(request.data.split(b" ")[1]) <= 250


@pytest.mark.parametrize(
    ("key", "base64"),
    [
        (b"", False),
        (b"", True),
        (b"two words", False),
        (b"line\r\nbreak", False),
        (b"k" * 251, False),
        (b" " * (MAX_BINARY_KEY_LENGTH + 1), True),
    ],
)
def test_meta_commands_refuse_bad_keys(key: bytes, base64: bool) -> None:
    """Every meta encoder refuses a key it cannot send, before producing any byte."""
    for encode in (meta_get_command, meta_delete_command, meta_arithmetic_command):
        with pytest.raises(ProtocolValidationError):
            encode(key, base64=base64)
    with pytest.raises(ProtocolValidationError):
        meta_set_command(key, b"v", base64=base64)


@pytest.mark.parametrize("key", ["text", 1, None, bytearray(b"k")])
def test_meta_commands_refuse_keys_that_are_not_bytes(key: Any) -> None:
    """A key must be bytes, with or without base64."""
    for base64 in (False, True):
        with pytest.raises(TypeError):
            meta_get_command(key, base64=base64)


@pytest.mark.parametrize(
    "options",
    [
        {"ttl": 2**31},
        {"ttl": -(2**31) - 1},
        {"vivify_ttl": 2**31},
        {"recache_below": 2**31},
        {"cas": -1},
        {"cas": 2**64},
        {"new_cas": 2**64},
        {"opaque": b""},
        {"opaque": b"x" * 32},
        {"opaque": b"a b"},
        {"opaque": b"a\r\n"},
    ],
)
def test_meta_get_command_refuses_out_of_range(options: dict[str, Any]) -> None:
    """A number out of its range, or an opaque token memcached would refuse, raises."""
    with pytest.raises(ProtocolValidationError):
        meta_get_command(b"k", **options)


@pytest.mark.parametrize(
    "options",
    [{"ttl": "1"}, {"ttl": True}, {"cas": 1.0}, {"opaque": "op"}, {"vivify_ttl": "x"}],
)
def test_meta_get_command_refuses_wrong_types(options: dict[str, Any]) -> None:
    """A number or token of the wrong type raises TypeError."""
    with pytest.raises(TypeError):
        meta_get_command(b"k", **options)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"flags": 2**32}, ProtocolValidationError),
        ({"flags": -1}, ProtocolValidationError),
        ({"flags": True}, TypeError),
        ({"ttl": 2**31}, ProtocolValidationError),
        ({"mode": "S"}, TypeError),
        ({"mode": MetaArithmeticMode.INCREMENT}, TypeError),
        ({"invalidate": True}, ProtocolValidationError),
        ({"invalidate": True, "cas": 1, "mode": MetaSetMode.ADD}, ProtocolValidationError),
        ({"vivify_ttl": 5}, ProtocolValidationError),
        ({"vivify_ttl": 5, "mode": MetaSetMode.REPLACE}, ProtocolValidationError),
    ],
)
def test_meta_set_command_refuses_bad_arguments(
    options: dict[str, Any], error: type[Exception]
) -> None:
    """ms refuses numbers out of range and flags that do not go together."""
    with pytest.raises(error):
        meta_set_command(b"k", b"v", **options)


def test_meta_set_command_refuses_text_values() -> None:
    """A str value is refused: the encoder never guesses an encoding."""
    with pytest.raises(TypeError):
        meta_set_command(b"k", "text")  # type: ignore[arg-type]


def test_meta_delete_command_refuses_ttl_without_invalidate() -> None:
    """md applies T only when marking stale, so a TTL alone is refused."""
    with pytest.raises(ProtocolValidationError):
        meta_delete_command(b"k", ttl=30)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"initial": 5}, ProtocolValidationError),
        ({"delta": -1}, ProtocolValidationError),
        ({"delta": 2**64}, ProtocolValidationError),
        ({"vivify_ttl": 0, "initial": 2**64}, ProtocolValidationError),
        ({"mode": MetaSetMode.SET}, TypeError),
    ],
)
def test_meta_arithmetic_command_refuses_bad_arguments(
    options: dict[str, Any], error: type[Exception]
) -> None:
    """ma refuses numbers out of range, a mode of ms, and an initial value without N."""
    with pytest.raises(error):
        meta_arithmetic_command(b"k", **options)


def every_flag() -> list[Request[Any]]:
    """One request of each command with every flag it can take."""
    key = b"\xff" * MAX_BINARY_KEY_LENGTH
    return [
        meta_get_command(
            key,
            return_flags=True,
            return_cas=True,
            return_ttl=True,
            return_key=True,
            return_size=True,
            return_hit=True,
            return_last_access=True,
            ttl=-(2**31),
            vivify_ttl=-(2**31),
            recache_below=-(2**31),
            new_cas=2**64 - 1,
            cas=2**64 - 1,
            no_bump=True,
            base64=True,
        ),
        meta_set_command(
            key,
            b"v",
            flags=2**32 - 1,
            ttl=-(2**31),
            mode=MetaSetMode.REPLACE,
            cas=2**64 - 1,
            new_cas=2**64 - 1,
            invalidate=True,
            return_cas=True,
            return_key=True,
            return_size=True,
            base64=True,
        ),
        meta_delete_command(
            key,
            cas=2**64 - 1,
            new_cas=2**64 - 1,
            invalidate=True,
            ttl=-(2**31),
            remove_value=True,
            return_key=True,
            base64=True,
        ),
        meta_arithmetic_command(
            key,
            mode=MetaArithmeticMode.DECREMENT,
            delta=2**64 - 1,
            initial=2**64 - 1,
            vivify_ttl=-(2**31),
            ttl=-(2**31),
            cas=2**64 - 1,
            new_cas=2**64 - 1,
            return_value=True,
            return_ttl=True,
            return_cas=True,
            return_key=True,
            base64=True,
        ),
    ]


def test_meta_commands_with_every_flag_fit_memcached_limits() -> None:
    """Every flag at once, in a batch (q and O added), fits memcached's flag and line limits.

    memcached 1.6.18 refuses an mg line of more than 17 flags and an ms line of more
    than 16; any command line must stay under MAX_COMMAND_LINE.
    """
    batch = meta_batch_command([*every_flag(), *every_flag()])
    lines = [line for line in batch.data.split(b"\r\n") if line[:2] in (b"mg", b"ms", b"md", b"ma")]
    assert len(lines) == 8
    for line in lines:
        tokens = line.split(b" ")
        limit = 16 if tokens[0] == b"ms" else 17
        flags = tokens[3:] if tokens[0] == b"ms" else tokens[2:]
        assert len(flags) <= limit, line
        assert len(line) + 2 <= MAX_COMMAND_LINE


def test_meta_batch_command_makes_each_request_quiet_with_its_position() -> None:
    """Each request gets q and the opaque token of its position; mn closes the batch."""
    batch = meta_batch_command(
        [meta_get_command(b"a"), meta_set_command(b"b", b"xy"), meta_delete_command(b"c")]
    )
    assert batch.data == b"mg a v q O0\r\nms b 2 q O1\r\nxy\r\nmd c q O2\r\nmn\r\n"
    assert batch.kind is ReplyKind.META_BATCH
    assert list(batch.keys or ()) == [b"a", b"b", b"c"]


def test_meta_batch_command_may_be_empty() -> None:
    """An empty batch is a bare mn, whose reply is an empty list."""
    batch = meta_batch_command([])
    assert batch.data == b"mn\r\n"
    assert list(batch.keys or ()) == []


def test_meta_batch_command_refuses_requests_with_their_own_opaque() -> None:
    """The batch owns the opaque tokens: a request that brings one is refused."""
    with pytest.raises(ProtocolValidationError):
        meta_batch_command([meta_get_command(b"k", opaque=b"1")])


def test_meta_batch_command_accepts_keys_that_look_like_flags() -> None:
    """A key starting with O or q is a key, not a flag."""
    batch = meta_batch_command([meta_get_command(b"Ok"), meta_set_command(b"q", b"")])
    assert batch.data.startswith(b"mg Ok v q O0\r\nms q 0 q O1\r\n")


@pytest.mark.parametrize(
    "request_",
    [meta_noop_command(), retrieval_command(b"get", [b"k"]), meta_batch_command([])],
)
def test_meta_batch_command_refuses_other_requests(request_: Request[Any]) -> None:
    """Only mg, ms, md and ma join a batch."""
    with pytest.raises(ProtocolValidationError):
        meta_batch_command([request_])  # type: ignore[list-item]


def test_meta_batch_command_refuses_what_is_not_a_request() -> None:
    """Bytes are not a request."""
    with pytest.raises(TypeError):
        meta_batch_command([b"mg k v\r\n"])  # type: ignore[list-item]
