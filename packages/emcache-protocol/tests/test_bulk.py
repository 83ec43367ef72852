"""The whole-reply reader agrees with the value-at-a-time reader on every stream."""

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcache_protocol import NEED_DATA, ProtocolError, ReplyKind, Request, ResponseParser, Value
from emcache_protocol._bulk import read_whole_reply

KEYS = [b"a", b"bb", b"ccc", b"d"]


def outcome(chunks: Sequence[bytes], keys: Sequence[bytes] | None) -> object:
    """The first reply read from the chunks, or the ProtocolError it raises."""
    parser = ResponseParser()
    try:
        for chunk in chunks:
            parser.receive_data(chunk)
            reply = parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, keys))
            if reply is not NEED_DATA:
                return reply
    except ProtocolError:
        return ProtocolError
    return NEED_DATA


@st.composite
def multi_replies(draw: st.DrawFn) -> bytes:
    with_cas = draw(st.booleans())
    parts = []
    for key in KEYS:
        data = draw(st.binary(max_size=12) | st.sampled_from([b"\r\n", b"x\r\nEND", b"0 1\r\n"]))
        flags = draw(st.sampled_from([0, 1, 2**32 - 1]))
        cas = b" %d" % draw(st.integers(0, 2**64 - 1)) if with_cas else b""
        parts.append(b"VALUE %s %d %d%s\r\n%s\r\n" % (key, flags, len(data), cas, data))
    return b"".join(parts) + b"END\r\n"


@settings(max_examples=400)
@given(multi_replies(), st.data(), st.sampled_from([KEYS, None]))
def test_bulk_reader_agrees_with_general_reader(
    stream: bytes, data: st.DataObject, keys: list[bytes] | None
) -> None:
    """A valid or mutated multi-value reply gives the same outcome read whole or byte by byte."""
    if data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(stream) - 1))
        byte = data.draw(st.sampled_from(b" \r\n0123456789VALUEND\x00\t+-_xabcd"))
        stream = stream[:index] + bytes([byte]) + stream[index + 1 :]
    byte_by_byte = [stream[i : i + 1] for i in range(len(stream))]
    assert outcome([stream], keys) == outcome(byte_by_byte, keys)


def test_bulk_reader_reads_all_hits() -> None:
    """A complete reply with every requested key is read in one go."""
    stream = b"VALUE a 0 1\r\nx\r\nVALUE bb 3 2 9\r\nyy\r\nEND\r\n"
    assert read_whole_reply(stream, 0, [b"a", b"bb"], 100) is None  # mixed cas widths
    stream = b"VALUE a 0 1\r\nx\r\nVALUE bb 3 2\r\nyy\r\nEND\r\n"
    values, end = read_whole_reply(stream, 0, [b"a", b"bb"], 100) or ([], 0)
    assert values == [Value(b"a", 0, b"x", None), Value(b"bb", 3, b"yy", None)]
    assert end == len(stream)


@pytest.mark.parametrize(
    "stream",
    [
        b"VALUE a 0 4\r\nx\r\ny\r\nVALUE bb 0 1\r\nz\r\nEND\r\n",  # data holding CRLF
        b"VALUE a 0 1\r\nx\r\nVALUE bb 0 1\r\nz\r\n",  # no END yet
        b"VALUE a 00000000000 1\r\nx\r\nVALUE bb 0 1\r\nz\r\nEND\r\n",  # 11-digit flags
        b"VALUE a 0 1\r\nx\r\nVALUE  bb 0 1\r\nz\r\nEND\r\n",  # double space
        b"VALUE a 0 +1\r\nx\r\nVALUE bb 0 1\r\nz\r\nEND\r\n",  # signed length
        b"VALUE a 0 1\r\nx\r\nVALUE dd 0 1\r\nz\r\nEND\r\n",  # unexpected key
        b"VALUE a 0 1\r\nx\r\nEND\r\n",  # one value: the single-value path's job
    ],
)
def test_bulk_reader_declines_what_it_cannot_prove(stream: bytes) -> None:
    """Anything but a plain complete reply is left to the general reader."""
    assert read_whole_reply(stream, 0, [b"a", b"bb"], 100) is None


def test_bulk_reader_respects_max_value_size() -> None:
    """A length above max_value_size is declined, and the general reader raises."""
    stream = b"VALUE a 0 3\r\nxyz\r\nVALUE bb 0 1\r\nz\r\nEND\r\n"
    assert read_whole_reply(stream, 0, [b"a", b"bb"], 2) is None
    parser = ResponseParser(max_value_size=2)
    parser.receive_data(stream)
    with pytest.raises(ProtocolError):
        parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"a", b"bb"]))


def test_bulk_reader_checks_keys_without_a_request() -> None:
    """With no requested keys, keys holding control bytes are declined, then refused."""
    stream = b"VALUE a\x01 0 1\r\nx\r\nVALUE bb 0 1\r\nz\r\nEND\r\n"
    assert read_whole_reply(stream, 0, None, 100) is None
    assert outcome([stream], None) is ProtocolError
