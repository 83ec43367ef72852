"""Reading meta replies: codes, return flags, data blocks, and the bytes that must be refused."""

from typing import Any

import pytest

from emcache_protocol import (
    NEED_DATA,
    ErrorReply,
    MetaResult,
    MetaStatus,
    ProtocolError,
    Request,
    ResponseParser,
    Status,
    meta_arithmetic_command,
    meta_delete_command,
    meta_get_command,
    meta_noop_command,
    meta_set_command,
    storage_command,
)

GET = meta_get_command(b"k")
SET = meta_set_command(b"k", b"v")
DELETE = meta_delete_command(b"k")
ARITHMETIC = meta_arithmetic_command(b"k")


def parse(stream: bytes, request: Request[Any], **options: Any) -> Any:
    """The reply to ``request`` in ``stream``, which must be consumed entirely."""
    parser = ResponseParser(**options)
    parser.receive_data(stream)
    reply = parser.next_reply(request)
    assert not parser.has_buffered_data()
    return reply


def test_meta_parser_reads_a_value() -> None:
    """VA gives the data block, and nothing else unless asked for."""
    assert parse(b"VA 5\r\nhello\r\n", GET) == MetaResult(MetaStatus.VA, value=b"hello")


@pytest.mark.parametrize(
    "line", [b"VA 1 f4294967296\r\nx\r\n", b"VA 1 f1\r\nxy\r\n", b"VA 1 f\r\nx\r\n"]
)
def test_meta_parser_fast_path_refuses_what_the_general_one_refuses(line: bytes) -> None:
    """The whole-hit fast path of mg falls back to the general reader, which raises."""
    with pytest.raises(ProtocolError):
        parse(line, GET)


def test_meta_parser_reads_a_value_and_flags() -> None:
    """The common mg hit with client flags."""
    reply = parse(b"VA 3 f4294967295\r\nabc\r\n", GET)
    assert reply == MetaResult(MetaStatus.VA, value=b"abc", flags=2**32 - 1)


def test_meta_parser_reads_a_value_holding_crlf() -> None:
    """A data block is read by its length: a \\r\\n inside it is data."""
    reply = parse(b"VA 7 f1\r\na\r\nEN\r\n\r\n", GET)
    assert reply == MetaResult(MetaStatus.VA, value=b"a\r\nEN\r\n", flags=1)


@pytest.mark.parametrize(
    ("request_", "line", "status"),
    [
        (GET, b"HD", MetaStatus.HD),
        (GET, b"EN", MetaStatus.EN),
        (SET, b"HD", MetaStatus.HD),
        (SET, b"NS", MetaStatus.NS),
        (SET, b"EX", MetaStatus.EX),
        (SET, b"NF", MetaStatus.NF),
        (DELETE, b"HD", MetaStatus.HD),
        (DELETE, b"NF", MetaStatus.NF),
        (DELETE, b"EX", MetaStatus.EX),
        (ARITHMETIC, b"HD", MetaStatus.HD),
        (ARITHMETIC, b"NF", MetaStatus.NF),
        (ARITHMETIC, b"NS", MetaStatus.NS),
        (ARITHMETIC, b"EX", MetaStatus.EX),
    ],
)
def test_meta_parser_reads_each_code_its_command_answers(
    request_: Request[Any], line: bytes, status: MetaStatus
) -> None:
    """Each command's codes give a result with that status."""
    assert parse(line + b"\r\n", request_) == MetaResult(status)


@pytest.mark.parametrize(
    ("request_", "line"),
    [
        (GET, b"NS"),
        (GET, b"NF"),
        (SET, b"EN"),
        (SET, b"VA 1\r\nx"),
        (DELETE, b"VA 1\r\nx"),
        (DELETE, b"NS"),
        (ARITHMETIC, b"EN"),
        (GET, b"MN"),
        (GET, b"OK"),
        (SET, b"STORED"),
        (GET, b"HDX"),
        (GET, b"VALUE k 0 1"),
    ],
)
def test_meta_parser_refuses_codes_the_command_cannot_answer(
    request_: Request[Any], line: bytes
) -> None:
    """A code the command never answers means the stream is out of step."""
    with pytest.raises(ProtocolError):
        parse(line + b"\r\n", request_)


def test_meta_parser_reads_every_return_flag() -> None:
    """Every return flag fills its field, in any order."""
    line = b"VA 2 t-1 h1 l7 s2 f4294967295 c18446744073709551615 kk Oop W X Z\r\nab\r\n"
    assert parse(line, GET) == MetaResult(
        MetaStatus.VA,
        value=b"ab",
        flags=2**32 - 1,
        cas=2**64 - 1,
        ttl=-1,
        key=b"k",
        opaque=b"op",
        won=True,
        stale=True,
        winner_pending=True,
        hit_before=True,
        last_access=7,
        size=2,
    )


def test_meta_parser_reads_flags_of_a_miss() -> None:
    """memcached >= 1.6.18 echoes O and k on EN."""
    assert parse(b"EN O9 kk\r\n", GET) == MetaResult(MetaStatus.EN, key=b"k", opaque=b"9")


def test_meta_parser_decodes_base64_keys() -> None:
    """A key echoed with b is decoded, and compared with the request's key."""
    request = meta_get_command(b"\x00 k", base64=True)
    reply = parse(b"HD kACBr b\r\n", request)
    assert reply.key == b"\x00 k"


@pytest.mark.parametrize("line", [b"HD kother", b"HD kazA= b", b"HD k!!!! b", b"HD kk=== b"])
def test_meta_parser_refuses_a_reply_for_another_key(line: bytes) -> None:
    """A reply naming another key (or no decodable key) is never taken for this one."""
    with pytest.raises(ProtocolError):
        parse(line + b"\r\n", GET)


def test_meta_parser_accepts_extra_spaces_of_older_servers() -> None:
    """memcached 1.6.10 to 1.6.17 wrote "HD \\r\\n" and "HD  O1": empty tokens are skipped."""
    assert parse(b"HD \r\n", SET) == MetaResult(MetaStatus.HD)
    assert parse(b"HD  O1\r\n", SET) == MetaResult(MetaStatus.HD, opaque=b"1")


def test_meta_parser_skips_unknown_flag_letters() -> None:
    """A return flag a newer server may add is skipped."""
    assert parse(b"HD Qfuture y\r\n", GET) == MetaResult(MetaStatus.HD)


@pytest.mark.parametrize(
    "line",
    [
        b"HD c1 c2",
        b"HD c",
        b"HD c-1",
        b"HD c18446744073709551616",
        b"HD f4294967296",
        b"HD s4294967296",
        b"HD t-2",
        b"HD t1 t1",
        b"HD h2",
        b"HD h",
        b"HD l1x",
        b"HD O",
        b"HD O" + b"1" * 32,
        b"HD O1 O2",
        b"HD k",
        b"HD k" + b"k" * 251,
        b"HD W W",
        b"HD Wx",
        b"HD bb",
        b"HD 5",
        b"HD \x80",
        b"HD " + b"Q " * 40,
        b"HD \x00",
        b"HD \x7f",
        b"HD\tO1",
        b"HD O1\r",
    ],
)
def test_meta_parser_refuses_malformed_flags(line: bytes) -> None:
    """A repeated, empty, out-of-range or non-flag token raises ProtocolError."""
    with pytest.raises(ProtocolError):
        parse(line + b"\r\n", GET)


def test_meta_parser_refuses_a_bare_newline() -> None:
    """A line must end with \\r\\n."""
    with pytest.raises(ProtocolError):
        parse(b"HD\n", GET)


def test_meta_parser_refuses_a_long_line() -> None:
    """A meta line far longer than memcached writes is refused once complete."""
    with pytest.raises(ProtocolError):
        parse(b"HD " + b"Q" * 3000 + b"\r\n", GET)


@pytest.mark.parametrize("line", [b"VA", b"VA x", b"VA -1", b"VA 12345678901", b"VA 1.0"])
def test_meta_parser_refuses_bad_lengths(line: bytes) -> None:
    """VA needs a decimal length of at most 10 digits."""
    with pytest.raises(ProtocolError):
        parse(line + b"\r\n", GET)


def test_meta_parser_refuses_a_value_over_the_limit_before_it_arrives() -> None:
    """A length above max_value_size raises before any of the block is buffered."""
    parser = ResponseParser(max_value_size=10)
    parser.receive_data(b"VA 11\r\n")
    with pytest.raises(ProtocolError):
        parser.next_reply(GET)


def test_meta_parser_refuses_a_block_without_its_terminator() -> None:
    """The data block must be followed by \\r\\n."""
    with pytest.raises(ProtocolError):
        parse(b"VA 1\r\nxyz\r\n", GET)


def test_meta_parser_waits_for_the_whole_value() -> None:
    """A value split anywhere is returned once its last byte has arrived, and parsed once."""
    parser = ResponseParser()
    wire = b"VA 10 c3\r\n0123456789\r\nHD\r\n"
    for byte in wire[:-5]:
        parser.receive_data(bytes([byte]))
        assert parser.next_reply(GET) is NEED_DATA
    parser.receive_data(wire[-5:])
    assert parser.next_reply(GET) == MetaResult(MetaStatus.VA, value=b"0123456789", cas=3)
    assert parser.next_reply(SET) == MetaResult(MetaStatus.HD)


@pytest.mark.parametrize("request_", [GET, SET, DELETE, ARITHMETIC, meta_noop_command()])
@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"ERROR", ErrorReply("ERROR", "")),
        (
            b"CLIENT_ERROR bad command line format",
            ErrorReply("CLIENT_ERROR", "bad command line format"),
        ),
        (b"SERVER_ERROR out of memory", ErrorReply("SERVER_ERROR", "out of memory")),
    ],
)
def test_meta_parser_reads_error_lines(
    request_: Request[Any], line: bytes, error: ErrorReply
) -> None:
    """Any meta request may draw an error line; the stream stays in step."""
    parser = ResponseParser()
    parser.receive_data(line + b"\r\nSTORED\r\n")
    assert parser.next_reply(request_) == error
    assert parser.next_reply(storage_command(b"set", b"k", b"v")) is Status.STORED


def test_meta_parser_reads_mn() -> None:
    """mn answers MN."""
    assert parse(b"MN\r\n", meta_noop_command()) is MetaStatus.MN


@pytest.mark.parametrize("line", [b"HD", b"MNX", b"EN", b"VERSION 1.6.18"])
def test_meta_parser_refuses_other_lines_for_mn(line: bytes) -> None:
    """mn has one reply."""
    with pytest.raises(ProtocolError):
        parse(line + b"\r\n", meta_noop_command())


def test_meta_parser_interleaves_with_classic_replies() -> None:
    """Meta and classic replies share one stream and one parser."""
    parser = ResponseParser()
    parser.receive_data(b"STORED\r\nVA 1 kk\r\nv\r\nMN\r\nSTORED\r\n")
    set_ = storage_command(b"set", b"k", b"v")
    assert parser.next_reply(set_) is Status.STORED
    get = meta_get_command(b"k", return_key=True)
    assert parser.next_reply(get) == MetaResult(MetaStatus.VA, value=b"v", key=b"k")
    assert parser.next_reply(meta_noop_command()) is MetaStatus.MN
    assert parser.next_reply(set_) is Status.STORED


def test_meta_parser_reads_an_arithmetic_value() -> None:
    """ma with v answers VA with the number's digits."""
    reply = parse(b"VA 2 t-1\r\n42\r\n", meta_arithmetic_command(b"k", return_value=True))
    assert reply == MetaResult(MetaStatus.VA, value=b"42", ttl=-1)
