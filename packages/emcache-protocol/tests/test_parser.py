"""The incremental reply parser, one reply kind at a time."""

from collections.abc import Sequence

import pytest

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
    stats_command,
    storage_command,
)


def parse(data: bytes, kind: ReplyKind, keys: Sequence[bytes] | None = None) -> object:
    """Parse one complete reply and check that nothing is left over."""
    parser = ResponseParser()
    parser.receive_data(data)
    reply = parser.next_reply(Request(b"", kind, keys))
    assert not parser.has_buffered_data()
    return reply


@pytest.mark.parametrize(
    ("line", "status"),
    [
        (b"STORED\r\n", Status.STORED),
        (b"NOT_STORED\r\n", Status.NOT_STORED),
        (b"EXISTS\r\n", Status.EXISTS),
        (b"NOT_FOUND\r\n", Status.NOT_FOUND),
    ],
)
def test_parser_reads_storage_statuses(line: bytes, status: Status) -> None:
    """Every storage reply line maps to its Status."""
    assert parse(line, ReplyKind.STORAGE) is status


@pytest.mark.parametrize(
    ("kind", "line", "result"),
    [
        (ReplyKind.TOUCH, b"TOUCHED\r\n", Status.TOUCHED),
        (ReplyKind.TOUCH, b"NOT_FOUND\r\n", Status.NOT_FOUND),
        (ReplyKind.DELETE, b"DELETED\r\n", Status.DELETED),
        (ReplyKind.DELETE, b"NOT_FOUND\r\n", Status.NOT_FOUND),
        (ReplyKind.OK, b"OK\r\n", Status.OK),
        (ReplyKind.INCR_DECR, b"NOT_FOUND\r\n", Status.NOT_FOUND),
        (ReplyKind.INCR_DECR, b"0\r\n", 0),
        (ReplyKind.INCR_DECR, b"18446744073709551615\r\n", 2**64 - 1),
        (ReplyKind.VERSION, b"VERSION 1.6.21\r\n", VersionReply("1.6.21")),
        (ReplyKind.CONFIG, b"END\r\n", None),
    ],
)
def test_parser_reads_one_line_replies(kind: ReplyKind, line: bytes, result: object) -> None:
    """Each one-line reply gives its typed result."""
    assert parse(line, kind) == result


# A meta batch is many requests: an error line there belongs to one of them (test_meta_batch).
ONE_REQUEST_KINDS = [kind for kind in ReplyKind if kind is not ReplyKind.META_BATCH]


@pytest.mark.parametrize("kind", ONE_REQUEST_KINDS)
@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"ERROR\r\n", ErrorReply("ERROR", "")),
        (b"CLIENT_ERROR bad data chunk\r\n", ErrorReply("CLIENT_ERROR", "bad data chunk")),
        (b"SERVER_ERROR out of memory\r\n", ErrorReply("SERVER_ERROR", "out of memory")),
    ],
)
def test_parser_reads_error_replies_for_every_kind(
    kind: ReplyKind, line: bytes, error: ErrorReply
) -> None:
    """Any request may get an error line; it is the whole reply."""
    parser = ResponseParser()
    parser.receive_data(line + b"STORED\r\n")
    assert parser.next_reply(Request(b"", kind, [b"k"])) == error
    assert parser.next_reply(Request(b"", ReplyKind.STORAGE)) is Status.STORED


def test_parser_reads_single_value() -> None:
    """A get hit gives one Value with the requested key and no cas."""
    reply = parse(b"VALUE k 5 3\r\nabc\r\nEND\r\n", ReplyKind.RETRIEVAL, [b"k"])
    assert reply == [Value(b"k", 5, b"abc", None)]


def test_parser_reads_miss_as_empty_list() -> None:
    """A get miss gives an empty list."""
    assert parse(b"END\r\n", ReplyKind.RETRIEVAL, [b"k"]) == []


def test_parser_reads_values_holding_crlf_and_any_byte() -> None:
    """The data block is taken by length, so CRLF and END inside it are data."""
    data = b"\r\nEND\r\n\x00\xff"
    reply = parse(b"VALUE k 0 %d 7\r\n%s\r\nEND\r\n" % (len(data), data), ReplyKind.RETRIEVAL)
    assert reply == [Value(b"k", 0, data, 7)]


def test_parser_reads_multi_get_with_misses_in_order() -> None:
    """Values come in request order and missing keys are skipped."""
    stream = b"VALUE a 1 1 10\r\nx\r\nVALUE c 2 0 11\r\n\r\nEND\r\n"
    reply = parse(stream, ReplyKind.RETRIEVAL, [b"a", b"b", b"c", b"d"])
    assert reply == [Value(b"a", 1, b"x", 10), Value(b"c", 2, b"", 11)]


def test_parser_reads_duplicate_keys() -> None:
    """A key requested twice may be answered twice."""
    stream = b"VALUE a 0 1\r\nx\r\nVALUE a 0 1\r\nx\r\nEND\r\n"
    assert len(parse(stream, ReplyKind.RETRIEVAL, [b"a", b"a"])) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stream", "keys"),
    [
        (b"VALUE x 0 1\r\nx\r\nEND\r\n", [b"a"]),
        (b"VALUE b 0 1\r\nx\r\nVALUE a 0 1\r\nx\r\nEND\r\n", [b"a", b"b"]),
        (b"VALUE a 0 1\r\nx\r\nVALUE a 0 1\r\nx\r\nEND\r\n", [b"a"]),
    ],
)
def test_parser_refuses_values_for_unexpected_keys(stream: bytes, keys: list[bytes]) -> None:
    """A VALUE for a key not requested, out of order or repeated raises."""
    parser = ResponseParser()
    parser.receive_data(stream)
    with pytest.raises(ProtocolError, match="not requested"):
        parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, keys))


def test_parser_returns_requested_key_objects() -> None:
    """The Value carries the caller's key object."""
    key = b"key"
    reply = parse(b"VALUE key 0 0\r\n\r\nEND\r\n", ReplyKind.RETRIEVAL, [key])
    assert reply[0].key is key  # type: ignore[index]


def test_parser_keeps_partial_multi_get_between_calls() -> None:
    """Values already read are kept while the rest of the reply arrives."""
    parser = ResponseParser()
    parser.receive_data(b"VALUE a 0 1\r\nx\r\nVALUE b 0 3\r\nyy")
    assert parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"a", b"b"])) is NEED_DATA
    parser.receive_data(b"y\r\nEN")
    assert parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"a", b"b"])) is NEED_DATA
    parser.receive_data(b"D\r\n")
    reply = parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"a", b"b"]))
    assert reply == [Value(b"a", 0, b"x", None), Value(b"b", 0, b"yyy", None)]
    assert not parser.has_buffered_data()


def test_parser_waits_for_a_large_value_without_rejoining() -> None:
    """A value fed byte by byte is complete only at its last byte."""
    parser = ResponseParser()
    stream = b"VALUE k 0 1000\r\n" + b"z" * 1000 + b"\r\nEND\r\n"
    results = []
    for i in range(len(stream)):
        parser.receive_data(stream[i : i + 1])
        results.append(parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"k"])))
    assert results[:-1] == [NEED_DATA] * (len(stream) - 1)
    assert results[-1] == [Value(b"k", 0, b"z" * 1000, None)]


def test_parser_reads_many_replies_from_one_chunk() -> None:
    """Pipelined replies are read in order from one chunk."""
    parser = ResponseParser()
    parser.receive_data(b"STORED\r\nDELETED\r\n42\r\nEND\r\nOK\r\n")
    assert parser.next_reply(Request(b"", ReplyKind.STORAGE)) is Status.STORED
    assert parser.next_reply(Request(b"", ReplyKind.DELETE)) is Status.DELETED
    assert parser.next_reply(Request(b"", ReplyKind.INCR_DECR)) == 42
    assert parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"k"])) == []
    assert parser.next_reply(Request(b"", ReplyKind.OK)) is Status.OK
    assert parser.next_reply(Request(b"", ReplyKind.OK)) is NEED_DATA


def test_parser_reports_unconsumed_bytes() -> None:
    """Bytes nobody asked for show up in has_buffered_data."""
    parser = ResponseParser()
    assert not parser.has_buffered_data()
    parser.receive_data(b"STORED\r\nERROR\r\n")
    assert parser.next_reply(Request(b"", ReplyKind.STORAGE)) is Status.STORED
    assert parser.has_buffered_data()


def test_parser_reads_stats() -> None:
    """STAT lines become a dict in order; values may hold spaces."""
    stream = b"STAT pid 1\r\nSTAT version 1.6.21\r\nSTAT libevent 2.1 stable\r\nEND\r\n"
    reply = parse(stream, ReplyKind.STATS)
    assert reply == StatsReply({"pid": "1", "version": "1.6.21", "libevent": "2.1 stable"})


@pytest.mark.parametrize("line", [b"RESET\r\n", b"OK\r\n", b"END\r\n"])
def test_parser_reads_stats_acknowledgements(line: bytes) -> None:
    """stats reset and stats detail answer one line, read as empty stats."""
    assert parse(line, ReplyKind.STATS) == StatsReply({})


def test_parser_reads_stats_split_across_chunks() -> None:
    """A stats reply fed in pieces keeps the lines read so far."""
    parser = ResponseParser()
    parser.receive_data(b"STAT a 1\r\nSTAT b")
    assert parser.next_reply(Request(b"", ReplyKind.STATS)) is NEED_DATA
    parser.receive_data(b" 2\r\nEND\r\n")
    assert parser.next_reply(Request(b"", ReplyKind.STATS)) == StatsReply({"a": "1", "b": "2"})


def test_parser_reads_cluster_config() -> None:
    """The CONFIG block gives the version and the nodes."""
    body = b"12\nhost-a|10.0.0.1|11211 host-b||11212\n"
    stream = b"CONFIG cluster 0 %d\r\n%s\r\nEND\r\n" % (len(body), body)
    assert parse(stream, ReplyKind.CONFIG) == ClusterConfig(
        12, (ConfigNode("host-a", "10.0.0.1", 11211), ConfigNode("host-b", "", 11212))
    )


def test_parser_reads_cluster_config_without_nodes() -> None:
    """A CONFIG block may list no node."""
    stream = b"CONFIG cluster 0 3\r\n1\n\n\r\nEND\r\n"
    assert parse(stream, ReplyKind.CONFIG) == ClusterConfig(1, ())


@pytest.mark.parametrize(
    "stream",
    [
        b"CONFIG cluster 0 5\r\nzz\r\n\r\nEND\r\n",
        b"CONFIG cluster 0 4\r\nzz\n\n\r\nEND\r\n",
        b"CONFIG cluster 0 10\r\n1\nhost|ip\n\r\nEND\r\n",
        b"CONFIG cluster 0 15\r\n1\nh|i|99999999\n\r\nEND\r\n",
        b"CONFIG cluster 0 2\r\n\n\n\r\nEND\r\n",
    ],
)
def test_parser_refuses_malformed_cluster_config(stream: bytes) -> None:
    """A CONFIG block with a bad length, version or node raises."""
    parser = ResponseParser()
    parser.receive_data(stream)
    with pytest.raises(ProtocolError):
        parser.next_reply(Request(b"", ReplyKind.CONFIG))


def test_parser_maps_memlimit_refusals_to_error_replies() -> None:
    """cache_memlimit refusals are error replies, not protocol errors."""
    line = "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"
    reply = parse(line.encode() + b"\r\n", ReplyKind.OK)
    assert reply == ErrorReply("CLIENT_ERROR", line)


@pytest.mark.parametrize(
    ("kind", "stream"),
    [
        (ReplyKind.STORAGE, b"STORED!\r\n"),
        (ReplyKind.STORAGE, b"DELETED\r\n"),
        (ReplyKind.TOUCH, b"STORED\r\n"),
        (ReplyKind.DELETE, b"TOUCHED\r\n"),
        (ReplyKind.OK, b"NOT OK\r\n"),
        (ReplyKind.INCR_DECR, b"-1\r\n"),
        (ReplyKind.INCR_DECR, b"+1\r\n"),
        (ReplyKind.INCR_DECR, b" 1\r\n"),
        (ReplyKind.INCR_DECR, b"18446744073709551616\r\n"),
        (ReplyKind.INCR_DECR, b"1" * 5000 + b"\r\n"),
        (ReplyKind.VERSION, b"VERSION1.6\r\n"),
        (ReplyKind.STATS, b"STAT  x\r\nEND\r\n"),
        (ReplyKind.STATS, b"STAT a 1\r\nGARBAGE\r\n"),
        (ReplyKind.RETRIEVAL, b"VALUE k 0 1\r\nxy\r\nEND\r\n"),
        (ReplyKind.RETRIEVAL, b"VALUE k 0 -1\r\nx\r\nEND\r\n"),
        (ReplyKind.RETRIEVAL, b"VALUE k 4294967296 1\r\nx\r\nEND\r\n"),
        (ReplyKind.RETRIEVAL, b"VALUE k 0 1 18446744073709551616\r\nx\r\nEND\r\n"),
        (ReplyKind.RETRIEVAL, b"VALUE k 0 1 2 3\r\nx\r\nEND\r\n"),
        (ReplyKind.RETRIEVAL, b"VALUE  k 0 1\r\nx\r\nEND\r\n"),
        (ReplyKind.RETRIEVAL, b"VALUE k 0 99999999999\r\n"),
        (ReplyKind.RETRIEVAL, b"STORED\r\n"),
        (ReplyKind.RETRIEVAL, b"END \r\n"),
        (ReplyKind.CONFIG, b"CONFIG cluster 0 x\r\n"),
    ],
)
def test_parser_refuses_garbage(kind: ReplyKind, stream: bytes) -> None:
    """Bytes that cannot be a reply of the expected kind raise ProtocolError."""
    parser = ResponseParser()
    parser.receive_data(stream)
    with pytest.raises(ProtocolError):
        parser.next_reply(Request(b"", kind, [b"k"]))


def test_parser_refuses_lengths_above_max_value_size() -> None:
    """An announced length above max_value_size raises before the data arrives."""
    parser = ResponseParser(max_value_size=10)
    parser.receive_data(b"VALUE k 0 11\r\n")
    with pytest.raises(ProtocolError, match="max_value_size"):
        parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"k"]))


def test_parser_refuses_endless_lines() -> None:
    """A line that never ends raises instead of buffering forever."""
    parser = ResponseParser()
    parser.receive_data(b"STORED" * 20_000)
    with pytest.raises(ProtocolError, match="longer than"):
        parser.next_reply(Request(b"", ReplyKind.STORAGE))


def test_parser_refuses_bad_max_value_size() -> None:
    """max_value_size must be a non-negative int."""
    with pytest.raises(ValueError):
        ResponseParser(max_value_size=-1)


def test_parser_copies_non_bytes_chunks() -> None:
    """A bytearray chunk mutated after feeding does not change the parsed value."""
    parser = ResponseParser()
    chunk = bytearray(b"VALUE k 0 1\r\nx\r\nEND\r\n")
    parser.receive_data(chunk)
    chunk[13] = ord("y")
    assert parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"k"])) == [
        Value(b"k", 0, b"x", None)
    ]


def test_need_data_has_a_readable_repr() -> None:
    """NEED_DATA prints as its name."""
    assert repr(NEED_DATA) == "NEED_DATA"
    assert str(NEED_DATA) == "NEED_DATA"


@pytest.mark.parametrize(
    ("kind", "stream"),
    [
        (ReplyKind.STORAGE, b"STORED\n"),
        (ReplyKind.RETRIEVAL, b"END\n"),
        (ReplyKind.RETRIEVAL, b"VALUE k 0 1\nx\r\nEND\r\n"),
        (ReplyKind.RETRIEVAL, b"VALUE k 0 1\r\nx\r\nEND\n"),
        (ReplyKind.RETRIEVAL_CAS, b"VALUE k 0 1 5\r\nx\r\nVALUE k 0 1 6\n"),
        (ReplyKind.TOUCH, b"TOUCHED\n"),
        (ReplyKind.DELETE, b"\n"),
        (ReplyKind.OK, b"OK\n"),
        (ReplyKind.INCR_DECR, b"42\n"),
        (ReplyKind.VERSION, b"VERSION 1.6.18\n"),
        (ReplyKind.STATS, b"STAT pid 1\r\nSTAT uptime 2\n"),
        (ReplyKind.CONFIG, b"END\n"),
        (ReplyKind.STORAGE, b"SERVER_ERROR out of memory\n"),
    ],
)
def test_parser_refuses_a_bare_newline_at_once(kind: ReplyKind, stream: bytes) -> None:
    """A reply line ending in \\n without \\r raises as soon as it is seen, not after 64 KiB."""
    parser = ResponseParser()
    parser.receive_data(stream)
    with pytest.raises(ProtocolError, match="bare"):
        parser.next_reply(Request(b"", kind, [b"k"]))


def test_parser_refuses_a_bare_newline_arriving_later() -> None:
    """A line that was waiting for its end raises when a bare \\n completes it."""
    parser = ResponseParser()
    parser.receive_data(b"STORED\r\nSTOR")
    assert parser.next_reply(Request(b"", ReplyKind.STORAGE)) is Status.STORED
    assert parser.next_reply(Request(b"", ReplyKind.STORAGE)) is NEED_DATA
    parser.receive_data(b"ED\n")
    with pytest.raises(ProtocolError, match="bare"):
        parser.next_reply(Request(b"", ReplyKind.STORAGE))


def test_parser_refuses_a_bare_newline_at_the_start_of_a_chunk() -> None:
    """A \\n that opens the buffer is no line end, whatever byte ended the previous chunk."""
    parser = ResponseParser()
    parser.receive_data(b"\nSTORED\r")
    with pytest.raises(ProtocolError, match="bare"):
        parser.next_reply(Request(b"", ReplyKind.STORAGE))


def test_parser_reads_newlines_inside_data_blocks_byte_by_byte() -> None:
    """Data blocks are read by length: a \\n (or \\r\\n) inside one is data, not a line end."""
    data = b"a\nb\n\r\nEND\n"
    stream = b"VALUE k 0 %d 9\r\n%s\r\nEND\r\n" % (len(data), data)
    parser = ResponseParser()
    reply: object = NEED_DATA
    for index in range(len(stream)):
        assert reply is NEED_DATA
        parser.receive_data(stream[index : index + 1])
        reply = parser.next_reply(Request(b"", ReplyKind.RETRIEVAL_CAS, [b"k"]))
    assert reply == [Value(b"k", 0, data, 9)]


def test_parser_reads_cas_retrievals() -> None:
    """RETRIEVAL_CAS reads one or many values that carry their cas unique."""
    assert parse(b"VALUE a 1 1 7\r\nx\r\nEND\r\n", ReplyKind.RETRIEVAL_CAS, [b"a"]) == [
        Value(b"a", 1, b"x", 7)
    ]
    stream = b"VALUE a 0 1 7\r\nx\r\nVALUE b 0 2 8\r\nyy\r\nEND\r\n"
    assert parse(stream, ReplyKind.RETRIEVAL_CAS, [b"a", b"b"]) == [
        Value(b"a", 0, b"x", 7),
        Value(b"b", 0, b"yy", 8),
    ]
    assert parse(b"END\r\n", ReplyKind.RETRIEVAL_CAS, [b"a"]) == []
    error = parse(b"SERVER_ERROR busy\r\n", ReplyKind.RETRIEVAL_CAS, [b"a"])
    assert error == ErrorReply("SERVER_ERROR", "busy")


@pytest.mark.parametrize(
    "stream",
    [
        b"VALUE a 0 1\r\nx\r\nEND\r\n",
        b"VALUE a 0 1 7\r\nx\r\nVALUE b 0 1\r\ny\r\nEND\r\n",
        b"VALUE a 0 1\r\nx\r\nVALUE b 0 1\r\ny\r\nVALUE c 0 1\r\nz\r\nEND\r\n",
    ],
)
def test_parser_refuses_cas_retrievals_without_cas(stream: bytes) -> None:
    """A gets/gats reply whose VALUE carries no cas unique raises, whole or split."""
    parser = ResponseParser()
    parser.receive_data(stream)
    with pytest.raises(ProtocolError, match="cas"):
        parser.next_reply(Request(b"", ReplyKind.RETRIEVAL_CAS, [b"a", b"b", b"c"]))
    parser = ResponseParser()
    replies: list[object] = []

    def feed_byte_by_byte() -> None:
        for index in range(len(stream)):
            parser.receive_data(stream[index : index + 1])
            replies.append(
                parser.next_reply(Request(b"", ReplyKind.RETRIEVAL_CAS, [b"a", b"b", b"c"]))
            )

    with pytest.raises(ProtocolError, match="cas"):
        feed_byte_by_byte()
    assert all(reply is NEED_DATA for reply in replies)


def test_parser_reads_stats_cachedump_items() -> None:
    """`stats cachedump` ITEM lines map each key to the rest of its line."""
    stream = b"ITEM k2 [3 b; 0 s]\r\nITEM k1 [10 b; 1700000000 s]\r\nEND\r\n"
    assert parse(stream, ReplyKind.STATS) == StatsReply(
        {"k2": "[3 b; 0 s]", "k1": "[10 b; 1700000000 s]"}
    )


def test_parser_reads_stats_detail_prefixes() -> None:
    """`stats detail dump` PREFIX lines map each prefix to its counters."""
    stream = (
        b"PREFIX user get 3 hit 2 set 1 del 0\r\nPREFIX cart get 0 hit 0 set 4 del 1\r\nEND\r\n"
    )
    assert parse(stream, ReplyKind.STATS) == StatsReply(
        {"user": "get 3 hit 2 set 1 del 0", "cart": "get 0 hit 0 set 4 del 1"}
    )


@pytest.mark.parametrize(
    "lines",
    [
        [b"STAT s%d 1" % i for i in range(65_537)],
        [b"ITEM k%d [1 b; 0 s]" % i for i in range(70_000)],
        [b"STAT s%d %s" % (i, b"v" * 1000) for i in range(5000)],
    ],
    ids=["stat-lines", "item-lines", "bytes"],
)
@pytest.mark.parametrize("chunk", [None, 1400])
def test_parser_drops_an_oversized_stats_reply_alone(lines: list[bytes], chunk: int | None) -> None:
    """A stats reply over the bound is read to END and dropped; the next reply still parses."""
    stream = b"\r\n".join(lines) + b"\r\nEND\r\nSTAT pid 1\r\nEND\r\nSTORED\r\n"
    size = chunk or len(stream)
    chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
    parser = ResponseParser()
    requests = [stats_command(), stats_command(), storage_command(b"set", b"k", b"v")]
    replies: list[object] = []
    for data in chunks:
        parser.receive_data(data)
        while len(replies) < len(requests):
            reply = parser.next_reply(requests[len(replies)])
            if reply is NEED_DATA:
                break
            replies.append(reply)
    error, stats, stored = replies
    assert isinstance(error, ErrorReply)
    assert "dropped" in error.message
    assert stats == StatsReply({"pid": "1"})
    assert stored is Status.STORED
    assert not parser.has_buffered_data()


def test_parser_keeps_a_stats_reply_at_the_bound() -> None:
    """A stats reply of exactly 65536 lines is returned whole."""
    stream = b"".join(b"STAT s%d 1\r\n" % i for i in range(65_536)) + b"END\r\n"
    reply = parse(stream, ReplyKind.STATS)
    assert isinstance(reply, StatsReply)
    assert len(reply.stats) == 65_536


def test_parser_refuses_a_stats_reply_without_end() -> None:
    """Dropping an oversized stats reply stops at 4 times the bound: the stream is endless."""
    parser = ResponseParser()
    lines = b"STAT n 1\r\n" * 10_000
    fed = 0

    def feed_until_refused() -> None:
        nonlocal fed
        for _ in range(50):
            parser.receive_data(lines)
            fed += 10_000
            assert parser.next_reply(Request(b"", ReplyKind.STATS)) is NEED_DATA

    with pytest.raises(ProtocolError, match="without its END"):
        feed_until_refused()
    assert 4 * 65_536 < fed <= 4 * 65_536 + 10_000
