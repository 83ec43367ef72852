"""The byte scanner (the compiled build's whole-reply reader) agrees with the general reader."""

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from emcache_protocol import NEED_DATA, ProtocolError, ReplyKind, Request, ResponseParser, Value
from emcache_protocol._scan import scan_whole_reply

KEYS = [b"a", b"bb", b"ccc", b"d", b"\xc3\xa9"]
NEXT_REPLY = b"STORED\r\n"


def read_byte_by_byte(stream: bytes, keys: Sequence[bytes] | None, max_size: int) -> object:
    """The reply the parser reads from the stream fed one byte at a time and the bytes it
    took, or ProtocolError."""
    parser = ResponseParser(max_value_size=max_size)
    request = Request(b"", ReplyKind.RETRIEVAL, keys)
    try:
        for index in range(len(stream)):
            parser.receive_data(stream[index : index + 1])
            reply = parser.next_reply(request)
            if reply is not NEED_DATA:
                return reply, index + 1
    except ProtocolError:
        return ProtocolError
    return NEED_DATA


@st.composite
def replies(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A retrieval reply of some of KEYS in order (misses skipped), and whether it is valid."""
    valid = True
    parts = []
    for key in KEYS:
        if not draw(st.booleans()):
            continue
        data = draw(st.binary(max_size=8) | st.sampled_from([b"\r\n", b"x\r\nEND\r\n", b"0 1"]))
        flags = draw(st.sampled_from([0, 7, 2**32 - 1, 2**32]))
        cas = draw(st.none() | st.sampled_from([0, 12, 2**64 - 1, 2**64]))
        valid = valid and flags < 2**32 and (cas is None or cas < 2**64)
        cas_field = b"" if cas is None else b" %d" % cas
        parts.append(b"VALUE %s %d %d%s\r\n%s\r\n" % (key, flags, len(data), cas_field, data))
    return b"".join(parts) + b"END\r\n", valid


@settings(max_examples=500)
@given(replies(), st.data(), st.sampled_from([KEYS, None]), st.sampled_from([64, 2]))
def test_scanner_agrees_with_general_reader(
    reply: tuple[bytes, bool], data: st.DataObject, keys: list[bytes] | None, max_size: int
) -> None:
    """Whatever the scanner reads, the general reader reads the same; a valid reply it reads."""
    stream, valid = reply
    if data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(stream) - 1))
        byte = data.draw(st.sampled_from(b" \r\n0123456789VALUEND\x00\x7f\t+-_xabcd"))
        stream = stream[:index] + bytes([byte]) + stream[index + 1 :]
        valid = False
    if data.draw(st.booleans()):
        stream = stream[: data.draw(st.integers(0, len(stream) - 1))]  # not all here yet
        valid = False
    stream += NEXT_REPLY
    scanned = scan_whole_reply(stream, 0, keys, max_size)
    if scanned is None:
        assert not (valid and max_size == 64)
        return
    assert read_byte_by_byte(stream, keys, max_size) == scanned


def test_scanner_reads_a_reply_with_misses_and_cas() -> None:
    """Misses are skipped, a cas unique is read when present, the key is the requested object."""
    keys = [b"a", b"bb", b"ccc"]
    stream = b"VALUE a 3 1 9\r\nx\r\nVALUE ccc 0 2\r\nyy\r\nEND\r\n"
    values, end = scan_whole_reply(stream + NEXT_REPLY, 0, keys, 100) or ([], 0)
    assert values == [Value(b"a", 3, b"x", 9), Value(b"ccc", 0, b"yy", None)]
    assert values[1].key is keys[2]
    assert end == len(stream)


def test_scanner_declines_a_key_not_requested() -> None:
    """A VALUE line for a key not among those still expected is left to the general reader."""
    stream = b"VALUE bb 0 1\r\nx\r\nVALUE a 0 1\r\ny\r\nEND\r\n"
    assert scan_whole_reply(stream, 0, [b"a", b"bb"], 100) is None
