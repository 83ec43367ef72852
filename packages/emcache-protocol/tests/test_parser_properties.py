"""Property tests: the parser's results do not depend on how the stream is split,
and malformed streams raise ProtocolError instead of hanging or misreading."""

import gc
import itertools
import tracemalloc
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcache_protocol import (
    NEED_DATA,
    ClusterConfig,
    ConfigNode,
    ErrorReply,
    ProtocolError,
    ReplyKind,
    Request,
    ResponseParser,
    StatsReply,
    Status,
    Value,
    VersionReply,
)
from emcache_protocol import _large_values as large_values_module
from emcache_protocol import _parser as parser_module

# One request as the caller queues it: (kind, keys), plus its reply bytes and expected result.
Exchange = tuple[ReplyKind, Sequence[bytes] | None, bytes, object]

_KEY_BYTES = [b for b in range(256) if b > 0x20 and b != 0x7F]
keys_st = st.lists(st.sampled_from(_KEY_BYTES), min_size=1, max_size=24).map(bytes)
tokens_st = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:0123456789", min_size=1, max_size=12)
texts_st = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
data_st = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"", b"\r\n", b"END\r\n", b"\r\nEND\r\n", b"VALUE k 0 1\r\n"]),
)


@st.composite
def retrieval_exchanges(draw: st.DrawFn) -> Exchange:
    keys = draw(st.lists(keys_st, min_size=1, max_size=6))
    with_cas = draw(st.booleans())
    stream = b""
    values = []
    for key in keys:
        if not draw(st.booleans()):
            continue
        flags = draw(st.integers(0, 2**32 - 1))
        data = draw(data_st)
        cas = draw(st.integers(0, 2**64 - 1)) if with_cas else None
        cas_text = b"" if cas is None else b" %d" % cas
        stream += b"VALUE %s %d %d%s\r\n%s\r\n" % (key, flags, len(data), cas_text, data)
        values.append(Value(key, flags, data, cas))
    kind = ReplyKind.RETRIEVAL_CAS if with_cas and draw(st.booleans()) else ReplyKind.RETRIEVAL
    return kind, keys, stream + b"END\r\n", values


def _line_exchange(kind: ReplyKind, pairs: Sequence[tuple[bytes, object]]) -> Any:
    return st.sampled_from(pairs).map(lambda pair: (kind, None, pair[0] + b"\r\n", pair[1]))


@st.composite
def incr_exchanges(draw: st.DrawFn) -> Exchange:
    number = draw(st.integers(0, 2**64 - 1) | st.none())
    if number is None:
        return ReplyKind.INCR_DECR, None, b"NOT_FOUND\r\n", Status.NOT_FOUND
    return ReplyKind.INCR_DECR, None, b"%d\r\n" % number, number


@st.composite
def version_exchanges(draw: st.DrawFn) -> Exchange:
    version = draw(texts_st)
    return ReplyKind.VERSION, None, b"VERSION %s\r\n" % version.encode(), VersionReply(version)


@st.composite
def stats_exchanges(draw: st.DrawFn) -> Exchange:
    stats = draw(st.dictionaries(tokens_st, texts_st, max_size=8))
    head = draw(st.sampled_from([b"STAT", b"ITEM", b"PREFIX"]))
    lines = b"".join(b"%s %s %s\r\n" % (head, k.encode(), v.encode()) for k, v in stats.items())
    return ReplyKind.STATS, None, lines + b"END\r\n", StatsReply(stats)


@st.composite
def config_exchanges(draw: st.DrawFn) -> Exchange:
    if draw(st.booleans()):
        return ReplyKind.CONFIG, None, b"END\r\n", None
    version = draw(st.integers(0, 2**63))
    nodes = draw(
        st.lists(
            st.builds(
                ConfigNode, tokens_st, st.sampled_from(["", "10.0.0.1"]), st.integers(1, 65535)
            ),
            max_size=4,
        )
    )
    body = b"%d\n%s\n" % (
        version,
        b" ".join(b"%s|%s|%d" % (n.host.encode(), n.ip.encode(), n.port) for n in nodes),
    )
    stream = b"CONFIG cluster 0 %d\r\n%s\r\nEND\r\n" % (len(body), body)
    return ReplyKind.CONFIG, None, stream, ClusterConfig(version, tuple(nodes))


@st.composite
def error_exchanges(draw: st.DrawFn) -> Exchange:
    # A meta batch is many requests: an error line is one of its entries (test_meta_batch).
    kind = draw(st.sampled_from([k for k in ReplyKind if k is not ReplyKind.META_BATCH]))
    error = draw(st.sampled_from(["ERROR", "CLIENT_ERROR", "SERVER_ERROR"]))
    message = draw(texts_st)
    line = f"{error} {message}" if message else error
    expected = ErrorReply(error, message)  # type: ignore[arg-type]
    return kind, [b"k"], line.encode() + b"\r\n", expected


exchanges_st = st.one_of(
    retrieval_exchanges(),
    _line_exchange(
        ReplyKind.STORAGE,
        [
            (b"STORED", Status.STORED),
            (b"NOT_STORED", Status.NOT_STORED),
            (b"EXISTS", Status.EXISTS),
            (b"NOT_FOUND", Status.NOT_FOUND),
        ],
    ),
    _line_exchange(
        ReplyKind.TOUCH, [(b"TOUCHED", Status.TOUCHED), (b"NOT_FOUND", Status.NOT_FOUND)]
    ),
    _line_exchange(
        ReplyKind.DELETE, [(b"DELETED", Status.DELETED), (b"NOT_FOUND", Status.NOT_FOUND)]
    ),
    _line_exchange(ReplyKind.OK, [(b"OK", Status.OK)]),
    incr_exchanges(),
    version_exchanges(),
    stats_exchanges(),
    config_exchanges(),
    error_exchanges(),
)


def parse_chunks(
    requests: Sequence[tuple[ReplyKind, Sequence[bytes] | None]],
    chunks: Iterable[bytes | memoryview],
    *,
    into: bool = False,
) -> list[object]:
    """Feed the chunks one by one, reading replies for the queued requests as they complete.

    With ``into``, the bytes of a large value go into the parser's value buffer, as
    ``recv_into`` would write them, and only the rest through ``receive_data``.
    """
    parser = ResponseParser()
    results: list[object] = []

    def read() -> None:
        while len(results) < len(requests):
            kind, keys = requests[len(results)]
            reply = parser.next_reply(Request(b"", kind, keys))
            if reply is NEED_DATA:
                return
            results.append(reply)

    for chunk in chunks:
        piece = memoryview(chunk)
        while piece:
            view = parser.value_buffer() if into else None
            if view is None:
                parser.receive_data(piece)  # type: ignore[arg-type]  # copied into bytes
                piece = piece[len(piece) :]
            else:
                count = min(len(view), len(piece))
                view[:count] = piece[:count]
                del view
                parser.value_received(count)
                piece = piece[count:]
            read()
    assert not parser.has_buffered_data()
    return results


def split(stream: bytes, cuts: Sequence[int]) -> list[bytes]:
    """Cut the stream at the given offsets (taken modulo its length)."""
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(exchanges_st, min_size=1, max_size=8), st.lists(st.integers(0, 10**6), max_size=12))
def test_parser_results_do_not_depend_on_chunking(
    exchanges: list[Exchange], cuts: list[int]
) -> None:
    """Any split of a valid reply stream gives the same results as the whole stream."""
    requests = [(kind, keys) for kind, keys, _, _ in exchanges]
    stream = b"".join(reply for _, _, reply, _ in exchanges)
    expected = [result for _, _, _, result in exchanges]
    assert parse_chunks(requests, [stream]) == expected
    assert parse_chunks(requests, split(stream, cuts)) == expected


@settings(max_examples=50)
@given(st.lists(exchanges_st, min_size=1, max_size=4))
def test_parser_results_survive_byte_by_byte_feeding(exchanges: list[Exchange]) -> None:
    """Feeding one byte at a time gives the same results."""
    requests = [(kind, keys) for kind, keys, _, _ in exchanges]
    stream = b"".join(reply for _, _, reply, _ in exchanges)
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert parse_chunks(requests, chunks) == [result for *_, result in exchanges]


@given(st.lists(exchanges_st, min_size=1, max_size=6), st.data())
def test_parser_waits_on_a_truncated_stream(exchanges: list[Exchange], data: st.DataObject) -> None:
    """A stream cut short gives the complete replies, then NEED_DATA, never an error."""
    stream = b"".join(reply for _, _, reply, _ in exchanges)
    cut = data.draw(st.integers(0, len(stream) - 1))
    parser = ResponseParser()
    parser.receive_data(stream[:cut])
    done = 0
    for kind, keys, reply, expected in exchanges:
        result = parser.next_reply(Request(b"", kind, keys))
        if done + len(reply) <= cut:
            assert result == expected
            done += len(reply)
        else:
            assert result is NEED_DATA
            break


_SAFE_DATA = st.binary(max_size=100).map(lambda b: b.replace(b"\r", b"."))
_PADDING = b"garbage\r\n" * 40


@given(_SAFE_DATA, st.integers(1, 300), st.booleans())
def test_parser_refuses_wrong_value_lengths(data: bytes, delta: int, longer: bool) -> None:
    """A VALUE whose announced length is off by any amount raises ProtocolError."""
    if not longer and delta > len(data):
        delta = len(data) or 1
        longer = not data
    size = len(data) + delta if longer else len(data) - delta
    parser = ResponseParser()
    parser.receive_data(b"VALUE k 0 %d\r\n%s\r\nEND\r\n%s" % (size, data, _PADDING))
    with pytest.raises(ProtocolError):
        parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"k"]))


garbage_lines_st = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40
).map(lambda text: b"x" + text.encode() + b"\r\n")


@given(st.lists(exchanges_st, max_size=4), garbage_lines_st, st.sampled_from(list(ReplyKind)))
def test_parser_refuses_garbage_lines(
    exchanges: list[Exchange], garbage: bytes, kind: ReplyKind
) -> None:
    """A line that no reply starts with raises ProtocolError where a reply is expected."""
    parser = ResponseParser()
    parser.receive_data(b"".join(reply for _, _, reply, _ in exchanges) + garbage)
    for exchange_kind, keys, _, _ in exchanges:
        parser.next_reply(Request(b"", exchange_kind, keys))
    with pytest.raises(ProtocolError):
        parser.next_reply(Request(b"", kind, [b"k"]))


@given(
    st.one_of(
        st.integers(2**64, 10**25).map(lambda n: (ReplyKind.INCR_DECR, b"%d\r\n" % n)),
        st.integers(2**32, 10**12).map(
            lambda n: (ReplyKind.RETRIEVAL, b"VALUE k %d 1\r\nx\r\nEND\r\n" % n)
        ),
        st.integers(2**64, 10**25).map(
            lambda n: (ReplyKind.RETRIEVAL, b"VALUE k 0 1 %d\r\nx\r\nEND\r\n" % n)
        ),
        st.integers(1001, 10**19).map(lambda n: (ReplyKind.RETRIEVAL, b"VALUE k 0 %d\r\n" % n)),
        st.integers(1001, 10**19).map(lambda n: (ReplyKind.CONFIG, b"CONFIG cluster 0 %d\r\n" % n)),
        st.integers(10**20, 10**40).map(lambda n: (ReplyKind.RETRIEVAL, b"VALUE k 0 %d\r\n" % n)),
    )
)
def test_parser_refuses_oversized_numbers(case: tuple[ReplyKind, bytes]) -> None:
    """Numbers beyond their field's range, and lengths above max_value_size, raise ProtocolError."""
    kind, stream = case
    parser = ResponseParser(max_value_size=1000)
    parser.receive_data(stream)
    with pytest.raises(ProtocolError):
        parser.next_reply(Request(b"", kind, [b"k"]))


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from(list(ReplyKind)))
def test_parser_fuzz_raises_only_protocol_error(stream: bytes, kind: ReplyKind) -> None:
    """Arbitrary bytes give a reply, NEED_DATA or ProtocolError, never another exception."""
    parser = ResponseParser()
    parser.receive_data(stream)
    try:
        for _ in range(len(stream) + 1):
            if parser.next_reply(Request(b"", kind, None)) is NEED_DATA:
                break
    except ProtocolError:
        pass


# -- large values: read into a buffer of their own ---------------------------------------

CHUNK = 64 * 1024
GET = ReplyKind.RETRIEVAL


def reply_of(*items: tuple[bytes, bytes]) -> bytes:
    return b"".join(b"VALUE %s 0 %d\r\n%s\r\n" % (k, len(v), v) for k, v in items) + b"END\r\n"


def chunks_of(stream: bytes, size: int = CHUNK) -> Iterator[memoryview]:
    """The stream cut as a socket would hand it over, as views that allocate nothing.

    The parser copies a view it is given into ``bytes``, as a socket's ``recv`` would
    allocate the chunk; bytes written into its value buffer cost no allocation, as with
    ``recv_into``.
    """
    view = memoryview(stream)
    for start in range(0, len(stream), size):
        yield view[start : start + size]


@pytest.mark.parametrize("into", [False, True])
@pytest.mark.parametrize("chunk", [1000, CHUNK, 65537, 1 << 20])
def test_parser_reads_large_values_in_any_chunking(chunk: int, into: bool) -> None:
    big, other = bytes(range(256)) * 4000, b"\r\n" * 70_000
    stream = reply_of((b"a", big), (b"b", b"small"), (b"c", other)) + reply_of((b"d", big))
    stream += b"STORED\r\n"
    requests = [(GET, [b"a", b"b", b"c"]), (GET, [b"d"]), (ReplyKind.STORAGE, None)]
    results = parse_chunks(requests, chunks_of(stream, chunk), into=into)
    assert results[0] == [Value(b"a", 0, big, None), Value(b"b", 0, b"small", None),
                          Value(b"c", 0, other, None)]  # fmt: skip
    assert results[1] == [Value(b"d", 0, big, None)]
    assert type(results[1][0].value) is bytes  # type: ignore[index]
    assert len(results) == 3


def test_parser_keeps_cas_and_flags_of_a_large_value() -> None:
    big = b"v" * 200_000
    stream = b"VALUE k 7 %d 99\r\n%s\r\nEND\r\n" % (len(big), big)
    results = parse_chunks([(ReplyKind.RETRIEVAL_CAS, [b"k"])], chunks_of(stream))
    assert results == [[Value(b"k", 7, big, 99)]]


def test_parser_refuses_a_large_value_under_the_wrong_key_before_its_data() -> None:
    parser = ResponseParser()
    parser.receive_data(b"VALUE x 0 1000000\r\n" + b"v" * 1000)
    with pytest.raises(ProtocolError, match="x"):
        parser.next_reply(Request(b"", GET, [b"k"]))


def test_parser_refuses_a_large_value_without_its_terminator() -> None:
    parser = ResponseParser()
    parser.receive_data(b"VALUE k 0 100000\r\n" + b"v" * 1000)
    assert parser.next_reply(Request(b"", GET, [b"k"])) is NEED_DATA
    parser.receive_data(b"v" * 99_000 + b"VALUE k 0 1\r\nv\r\nEND\r\n")
    with pytest.raises(ProtocolError, match="not followed"):
        parser.next_reply(Request(b"", GET, [b"k"]))


def test_parser_value_buffer_only_while_a_large_value_is_read() -> None:
    parser = ResponseParser()
    assert parser.value_buffer() is None
    parser.receive_data(b"VALUE k 0 100000\r\n" + b"v" * 1000)
    assert parser.value_buffer() is None  # the VALUE line is not parsed yet
    assert parser.next_reply(Request(b"", GET, [b"k"])) is NEED_DATA
    view = parser.value_buffer()
    assert view is not None
    assert len(view) > 99_000  # the missing bytes, then room for what follows them
    view[:50_000] = b"w" * 50_000
    assert parser.value_received(50_000) is False  # nothing past the value yet
    view = parser.value_buffer()
    assert view is not None
    with pytest.raises(ValueError, match=str(len(view) + 1)):
        parser.value_received(len(view) + 1)
    view = parser.value_buffer()
    assert view is not None
    view[:49_007] = b"w" * 49_000 + b"\r\nEND\r\n"
    assert parser.value_received(49_007) is True
    assert parser.value_buffer() is None
    value = b"v" * 1000 + b"w" * 99_000
    assert parser.next_reply(Request(b"", GET, [b"k"])) == [Value(b"k", 0, value, None)]
    assert not parser.has_buffered_data()


# Every value that arrives split goes through the large-value reader.
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(exchanges_st, min_size=1, max_size=6),
    st.lists(st.integers(0, 10**6), max_size=12),
    st.booleans(),
)
def test_large_value_reader_results_do_not_depend_on_chunking(
    exchanges: list[Exchange], cuts: list[int], into: bool
) -> None:
    requests = [(kind, keys) for kind, keys, _, _ in exchanges]
    stream = b"".join(reply for _, _, reply, _ in exchanges)
    expected = [result for _, _, _, result in exchanges]
    with mock.patch.object(parser_module, "_LARGE_VALUE", 1):
        assert parse_chunks(requests, split(stream, cuts), into=into) == expected


def peak_ratio(size: int, *, into: bool = False) -> float:
    """Peak memory allocated while one value of ``size`` bytes is read, over ``size``.

    Chunks of 64 KiB (see :func:`chunks_of`): a chunk the parser takes counts, as does the
    finished value.
    """
    value = b"v" * size
    stream = b"VALUE key 0 %d\r\n%s\r\nEND\r\n" % (size, value)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        reply = parse_chunks([(GET, [b"key"])], chunks_of(stream), into=into)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert reply == [[Value(b"key", 0, value, None)]]
    return peak / size


@pytest.mark.parametrize("into", [False, True])
def test_parser_holds_a_large_value_about_once(into: bool) -> None:
    """A 1 MiB value fed in 64 KiB chunks peaks at 1.07x its size (1.0x read into the
    parser's buffer); it was 2x and more when the chunks were joined, then sliced."""
    assert peak_ratio(1 << 20, into=into) < 1.15


@pytest.mark.parametrize("into", [False, True])
def test_parser_allocates_a_huge_value_as_it_arrives(into: bool) -> None:
    """A block longer than the allocation step is read whole, the step at a time.

    The compiled build reads ``_LARGE_STEP`` at build time, so there the patch is moot and
    the block is read in one step; the result must be the same.
    """
    value = bytes(range(256)) * 1000
    stream = reply_of((b"k", value))
    with mock.patch.object(large_values_module, "_LARGE_STEP", 10_000):
        results = parse_chunks([(GET, [b"k"])], chunks_of(stream, 3000), into=into)
    assert results == [[Value(b"k", 0, value, None)]]


def test_parser_allocates_no_more_than_a_step_ahead_of_the_data() -> None:
    # The real step, not a patched one: the compiled build reads its constants at build time.
    parser = ResponseParser()
    parser.receive_data(b"VALUE k 0 1000000000\r\n" + b"v" * 100)
    assert parser.next_reply(Request(b"", GET, [b"k"])) is NEED_DATA
    view = parser.value_buffer()
    assert view is not None
    assert len(view) == large_values_module._LARGE_STEP - 100 < 1_000_000_000


def test_parser_takes_bytes_after_an_unused_value_buffer() -> None:
    """A view handed out and never read into (a read that brought nothing) is let go."""
    parser = ResponseParser()
    parser.receive_data(b"VALUE k 0 100000\r\n" + b"v" * 1000)
    assert parser.next_reply(Request(b"", GET, [b"k"])) is NEED_DATA
    assert parser.value_buffer() is not None
    assert parser.value_buffer() is not None  # asked again: the first one is dropped
    parser.receive_data(b"")
    parser.receive_data(b"w" * 99_000 + b"\r\nEND\r\n")
    value = b"v" * 1000 + b"w" * 99_000
    assert parser.next_reply(Request(b"", GET, [b"k"])) == [Value(b"k", 0, value, None)]
