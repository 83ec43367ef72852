"""Fuzzing the reply parser: random bytes and mutated valid streams, split anywhere.

Whatever the bytes, the parser may only answer a typed reply, ask for more
data, or raise ProtocolError; it never raises anything else, never loops
without consuming input, never hands out a value under a key that was not
requested, and never buffers without bound.
"""

from __future__ import annotations

import itertools
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcache_protocol import (
    NEED_DATA,
    ClusterConfig,
    ConfigNode,
    ErrorReply,
    MetaResult,
    MetaStatus,
    ProtocolError,
    ReplyKind,
    Request,
    ResponseParser,
    StatsReply,
    Status,
    Value,
    VersionReply,
    meta_batch_command,
    meta_get_command,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,  # a hang is caught by the progress check and the test timeout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KEY_BYTES = st.binary(min_size=1, max_size=12).map(
    lambda b: bytes(0x21 + (c % 0x5E) for c in b)  # printable, no space, no DEL
)
ERROR_LINES = st.sampled_from(
    [
        (b"ERROR\r\n", ErrorReply("ERROR", "")),
        (b"CLIENT_ERROR bad data chunk\r\n", ErrorReply("CLIENT_ERROR", "bad data chunk")),
        (b"SERVER_ERROR out of memory\r\n", ErrorReply("SERVER_ERROR", "out of memory")),
    ]
)
ALL_KINDS = list(ReplyKind)
RETRIEVALS = (ReplyKind.RETRIEVAL, ReplyKind.RETRIEVAL_CAS)
META_CODES = {
    ReplyKind.META_GET: (MetaStatus.VA, MetaStatus.HD, MetaStatus.EN),
    ReplyKind.META_SET: (MetaStatus.HD, MetaStatus.NS, MetaStatus.EX, MetaStatus.NF),
    ReplyKind.META_DELETE: (MetaStatus.HD, MetaStatus.NF, MetaStatus.EX),
    ReplyKind.META_ARITHMETIC: (
        MetaStatus.HD,
        MetaStatus.VA,
        MetaStatus.NF,
        MetaStatus.NS,
        MetaStatus.EX,
    ),
}
# Requests that name keys the parser checks replies against.
KEYED = (*RETRIEVALS, *META_CODES, ReplyKind.META_BATCH)
CLASSIC_KINDS = [k for k in ALL_KINDS if k not in KEYED and k is not ReplyKind.META_NOOP]
# The smallest reply of any kind is "OK\r\n" or a one-digit incr reply: 3 bytes.
MIN_REPLY_BYTES = 3


@dataclass(frozen=True)
class Exchange:
    """One request's expected reply: its kind, requested keys, wire bytes and parsed result."""

    kind: ReplyKind
    keys: tuple[bytes, ...] | None
    wire: bytes
    result: object


@st.composite
def retrieval_exchange(draw: st.DrawFn) -> Exchange:
    keys = tuple(draw(st.lists(KEY_BYTES, min_size=1, max_size=4, unique=True)))
    with_cas = draw(st.booleans())
    wire = b""
    values = []
    for key in keys:
        if draw(st.booleans()):
            continue
        data = draw(st.binary(max_size=64) | st.sampled_from([b"\r\n", b"END\r\n", b"VALUE"]))
        flags = draw(st.integers(0, 2**32 - 1))
        cas = draw(st.integers(0, 2**64 - 1)) if with_cas else None
        cas_text = b"" if cas is None else b" %d" % cas
        wire += b"VALUE %s %d %d%s\r\n%s\r\n" % (key, flags, len(data), cas_text, data)
        values.append(Value(key, flags, data, cas))
    kind = ReplyKind.RETRIEVAL_CAS if with_cas and draw(st.booleans()) else ReplyKind.RETRIEVAL
    return Exchange(kind, keys, wire + b"END\r\n", values)


@st.composite
def simple_exchange(draw: st.DrawFn) -> Exchange:
    kind = draw(st.sampled_from(CLASSIC_KINDS))
    if draw(st.integers(0, 5)) == 0:
        wire, error = draw(ERROR_LINES)
        return Exchange(kind, None, wire, error)
    if kind is ReplyKind.STORAGE:
        status = draw(
            st.sampled_from([Status.STORED, Status.NOT_STORED, Status.EXISTS, Status.NOT_FOUND])
        )
        return Exchange(kind, None, status.name.encode() + b"\r\n", status)
    if kind is ReplyKind.INCR_DECR:
        number = draw(st.integers(0, 2**64 - 1))
        return Exchange(kind, None, b"%d\r\n" % number, number)
    if kind is ReplyKind.TOUCH:
        status = draw(st.sampled_from([Status.TOUCHED, Status.NOT_FOUND]))
        return Exchange(kind, None, status.name.encode() + b"\r\n", status)
    if kind is ReplyKind.DELETE:
        status = draw(st.sampled_from([Status.DELETED, Status.NOT_FOUND]))
        return Exchange(kind, None, status.name.encode() + b"\r\n", status)
    if kind is ReplyKind.OK:
        return Exchange(kind, None, b"OK\r\n", Status.OK)
    if kind is ReplyKind.VERSION:
        return Exchange(kind, None, b"VERSION 1.6.18\r\n", VersionReply("1.6.18"))
    if kind is ReplyKind.STATS:
        names = draw(st.lists(KEY_BYTES, max_size=5, unique=True))
        stats = {name.decode(): str(i) for i, name in enumerate(names)}
        wire = b"".join(b"STAT %s %d\r\n" % (name, i) for i, name in enumerate(names))
        return Exchange(kind, None, wire + b"END\r\n", StatsReply(stats))
    assert kind is ReplyKind.CONFIG
    if draw(st.booleans()):
        return Exchange(kind, None, b"END\r\n", None)
    version = draw(st.integers(0, 2**40))
    ports = draw(st.lists(st.integers(1, 65535), min_size=1, max_size=3))
    nodes = tuple(ConfigNode(f"h{i}", f"10.0.0.{i}", port) for i, port in enumerate(ports))
    body = b"%d\n" % version
    body += b" ".join(b"%s|%s|%d" % (n.host.encode(), n.ip.encode(), n.port) for n in nodes)
    body += b"\n"
    wire = b"CONFIG cluster 0 %d\r\n%s\r\nEND\r\n" % (len(body), body)
    return Exchange(kind, None, wire, ClusterConfig(version, nodes))


@st.composite
def meta_exchange(draw: st.DrawFn) -> Exchange:
    key = draw(KEY_BYTES)
    kind = draw(st.sampled_from(list(META_CODES)))
    status = draw(st.sampled_from(META_CODES[kind]))
    flags = draw(st.sampled_from([b"", b" f3", b" c9 t-1", b" k" + key, b" W Z X"]))
    expected = MetaResult(
        status,
        flags=3 if flags == b" f3" else None,
        cas=9 if flags == b" c9 t-1" else None,
        ttl=-1 if flags == b" c9 t-1" else None,
        key=key if flags.startswith(b" k") else None,
        won=flags == b" W Z X",
        stale=flags == b" W Z X",
        winner_pending=flags == b" W Z X",
    )
    if status is MetaStatus.VA:
        data = draw(st.binary(max_size=64) | st.sampled_from([b"\r\n", b"MN\r\n", b"EN\r\n"]))
        wire = b"VA %d%s\r\n%s\r\n" % (len(data), flags, data)
        return Exchange(kind, (key,), wire, expected._replace(value=data))
    return Exchange(kind, (key,), status.value.encode() + flags + b"\r\n", expected)


@st.composite
def meta_batch_exchange(draw: st.DrawFn) -> Exchange:
    keys = tuple(draw(st.lists(KEY_BYTES, max_size=5)))
    batch = meta_batch_command([meta_get_command(key) for key in keys])
    wire = b""
    results: list[object] = []
    for index, key in enumerate(keys):
        if draw(st.booleans()):
            data = draw(st.binary(max_size=32))
            wire += b"VA %d k%s O%d\r\n%s\r\n" % (len(data), key, index, data)
            results.append(MetaResult(MetaStatus.VA, value=data, key=key, opaque=b"%d" % index))
        else:
            results.append(None)
    return Exchange(batch.kind, batch.keys and tuple(batch.keys), wire + b"MN\r\n", results)


EXCHANGES = st.lists(
    retrieval_exchange() | simple_exchange() | meta_exchange() | meta_batch_exchange(),
    min_size=1,
    max_size=8,
)


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets (taken modulo its length, sorted)."""
    if not data:
        return [data]
    points = sorted({c % len(data) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def well_typed(kind: ReplyKind, keys: Sequence[bytes] | None, reply: object) -> bool:
    """Whether ``reply`` is a legal result for a request of ``kind`` naming ``keys``."""
    if isinstance(reply, ErrorReply):
        return reply.kind in ("ERROR", "CLIENT_ERROR", "SERVER_ERROR")
    if kind in RETRIEVALS:
        if not isinstance(reply, list):
            return False
        for value in reply:
            if not isinstance(value, Value) or not isinstance(value.value, bytes):
                return False
            if kind is ReplyKind.RETRIEVAL_CAS and value.cas is None:
                return False
            if keys is not None and value.key not in keys:
                return False
            if not 0 <= value.flags < 2**32:
                return False
        return True
    if kind is ReplyKind.INCR_DECR:
        if type(reply) is int:
            return 0 <= reply < 2**64
        return reply is Status.NOT_FOUND
    if kind is ReplyKind.STORAGE:
        return reply in (Status.STORED, Status.NOT_STORED, Status.EXISTS, Status.NOT_FOUND)
    if kind is ReplyKind.TOUCH:
        return reply in (Status.TOUCHED, Status.NOT_FOUND)
    if kind is ReplyKind.DELETE:
        return reply in (Status.DELETED, Status.NOT_FOUND)
    if kind is ReplyKind.OK:
        return reply is Status.OK
    if kind is ReplyKind.VERSION:
        return isinstance(reply, VersionReply)
    if kind is ReplyKind.STATS:
        return isinstance(reply, StatsReply)
    if kind in META_CODES:
        return well_typed_meta(META_CODES[kind], keys[0] if keys else None, reply)
    if kind is ReplyKind.META_NOOP:
        return reply is MetaStatus.MN
    if kind is ReplyKind.META_BATCH:
        batch_keys = keys or ()
        return (
            isinstance(reply, list)
            and len(reply) == len(batch_keys)
            and all(
                entry is None
                or isinstance(entry, ErrorReply)
                or well_typed_meta(
                    META_CODES[ReplyKind.META_ARITHMETIC] + (MetaStatus.EN,), key, entry
                )
                for entry, key in zip(reply, batch_keys, strict=True)
            )
        )
    return reply is None or isinstance(reply, ClusterConfig)


def well_typed_meta(codes: Sequence[MetaStatus], key: bytes | None, reply: object) -> bool:
    """A meta result with a code its command answers, for the requested key if it names one."""
    if not isinstance(reply, MetaResult) or reply.status not in codes:
        return False
    if (reply.value is None) != (reply.status is not MetaStatus.VA):
        return False
    return reply.key is None or key is None or reply.key == key


def drive(
    chunks: Sequence[bytes], requests: Sequence[tuple[ReplyKind, tuple[bytes, ...] | None]]
) -> tuple[list[object], ProtocolError | None]:
    """Feed ``chunks`` and parse replies for ``requests`` in order, as a connection would.

    Returns the replies parsed and the ProtocolError that stopped the stream, if any. Any
    other exception propagates (and fails the test); so does a reply produced without
    consuming input.
    """
    parser = ResponseParser(max_value_size=1 << 20)
    replies: list[object] = []
    fed = 0
    index = 0
    try:
        for chunk in chunks:
            parser.receive_data(chunk)
            fed += len(chunk)
            while index < len(requests):
                kind, keys = requests[index]
                reply = parser.next_reply(Request(b"", kind, keys))
                if reply is NEED_DATA:
                    break
                assert well_typed(kind, keys, reply), (kind, keys, reply)
                replies.append(reply)
                index += 1
                assert len(replies) <= fed // MIN_REPLY_BYTES, "reply without consuming input"
    except ProtocolError as exc:
        return replies, exc
    return replies, None


@FUZZ
@given(exchanges=EXCHANGES, cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_parser_valid_stream_parses_identically_however_split(
    exchanges: list[Exchange], cuts: list[int]
) -> None:
    """A valid stream yields exactly the expected replies whatever the chunk boundaries."""
    wire = b"".join(e.wire for e in exchanges)
    requests = [(e.kind, e.keys) for e in exchanges]
    replies, error = drive(split(wire, cuts), requests)
    assert error is None
    assert replies == [e.result for e in exchanges]


@FUZZ
@given(
    kinds=st.lists(st.sampled_from(ALL_KINDS), min_size=1, max_size=6),
    keys=st.lists(KEY_BYTES, min_size=1, max_size=3),
    data=st.binary(max_size=512),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_parser_random_bytes_only_protocol_error(
    kinds: list[ReplyKind], keys: list[bytes], data: bytes, cuts: list[int]
) -> None:
    """Random bytes give typed replies, NEED_DATA or ProtocolError, nothing else."""
    requests = [(kind, tuple(keys) if kind in KEYED else None) for kind in kinds]
    drive(split(data, cuts), requests)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[list[Exchange], bytes]:
    exchanges = draw(EXCHANGES)
    wire = bytearray(b"".join(e.wire for e in exchanges))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "digit"]))
        at = draw(st.integers(0, max(len(wire) - 1, 0)))
        if op == "flip" and wire:
            wire[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "delete":
            del wire[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            wire[at:at] = draw(
                st.sampled_from([b"\r\n", b" ", b"\x00", b"END\r\n", b"VALUE ", b"9" * 25])
            )
        elif op == "duplicate":
            wire[at:at] = wire[at : at + draw(st.integers(1, 40))]
        elif op == "digit" and wire:
            wire[at] = ord(str(draw(st.integers(0, 9))))
    return exchanges, bytes(wire)


@FUZZ
@given(case=mutated(), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_parser_mutated_stream_never_misattributes(
    case: tuple[list[Exchange], bytes], cuts: list[int]
) -> None:
    """A corrupted valid stream never yields a value for a key that was not requested."""
    exchanges, wire = case
    requests = [(e.kind, e.keys) for e in exchanges]
    replies, _ = drive(split(wire, cuts), requests)
    for exchange, reply in zip(exchanges, replies, strict=False):
        if exchange.kind in RETRIEVALS and isinstance(reply, list):
            assert exchange.keys is not None
            assert [v.key for v in reply] == sorted(
                (v.key for v in reply), key=exchange.keys.index
            ), "values out of request order"


@pytest.mark.parametrize(
    "line",
    [
        b"VALUE k 0 99999999999999999999\r\n",
        b"VALUE k 0 999999999999999999999999\r\n",
        b"VALUE k 0 2147483648\r\n",
        b"VALUE k 0 -1\r\n",
        b"VALUE k 99999999999 1\r\nx\r\nEND\r\n",
        b"CONFIG cluster 0 99999999999\r\n",
    ],
)
def test_parser_huge_length_field_raises_before_buffering(line: bytes) -> None:
    """A length field beyond the limit raises at once instead of waiting for that many bytes."""
    parser = ResponseParser()
    parser.receive_data(line)
    kind = ReplyKind.CONFIG if line.startswith(b"CONFIG") else ReplyKind.RETRIEVAL
    with pytest.raises(ProtocolError):
        parser.next_reply(Request(b"", kind, [b"k"] if kind is ReplyKind.RETRIEVAL else None))


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_parser_endless_line_bounded(kind: ReplyKind) -> None:
    """A line that never ends raises once it exceeds the line limit, with bounded buffering."""
    parser = ResponseParser()
    chunk = b"A" * 4096
    fed = 0

    def feed_until_refused() -> None:
        nonlocal fed
        for _ in range(1024):  # up to 4 MiB
            parser.receive_data(chunk)
            fed += len(chunk)
            assert parser.next_reply(Request(b"", kind, [b"k"])) is NEED_DATA

    with pytest.raises(ProtocolError):
        feed_until_refused()
    assert fed <= 128 * 1024, f"parser buffered {fed} bytes of one line before refusing it"


def trickle_seconds(size: int) -> float:
    """CPU seconds to feed a ``size``-byte line one byte per chunk, parsing after each."""
    parser = ResponseParser()
    start = time.process_time()
    for _ in range(size):
        parser.receive_data(b"A")
        assert parser.next_reply(Request(b"", ReplyKind.STORAGE)) is NEED_DATA
    return time.process_time() - start


def test_parser_trickled_line_stays_linear() -> None:
    """A long line arriving one byte at a time costs time linear in its length.

    A slow or hostile server can send a reply line in one-byte segments; if each
    byte re-copies the bytes already buffered, 64 KiB of it block the event loop
    (and so every other request of the process) for seconds.
    """
    small = min(trickle_seconds(8 * 1024) for _ in range(2))
    large = trickle_seconds(32 * 1024)
    print(f"\n8 KiB trickled: {small:.3f} s CPU, 32 KiB trickled: {large:.3f} s CPU")
    # Linear work gives a ratio near 4, quadratic work near 16.
    assert large < max(8 * small, 0.05), (
        f"4x the bytes took {large / max(small, 1e-9):.0f}x the time"
    )


def test_parser_large_value_in_small_chunks_is_linear() -> None:
    """A 4 MiB value fed in 1 KiB chunks parses in linear time and exactly."""
    value = bytes(range(256)) * (4 * 4096)
    wire = b"VALUE k 7 %d\r\n%s\r\nEND\r\n" % (len(value), value)
    parser = ResponseParser()
    start = time.perf_counter()
    reply: object = NEED_DATA
    for offset in range(0, len(wire), 1024):
        parser.receive_data(wire[offset : offset + 1024])
        reply = parser.next_reply(Request(b"", ReplyKind.RETRIEVAL, [b"k"]))
    elapsed = time.perf_counter() - start
    assert reply == [Value(b"k", 7, value, None)]
    assert elapsed < 2.0


def test_parser_endless_stats_reply_refused() -> None:
    """A stats reply that never ends is not kept in memory, and is refused in the end.

    memcached's largest stats groups have a few thousand lines; without a bound, a
    server can make the client hold any amount of memory one short line at a time.
    Past 65,536 lines the parser keeps none of them; past 4 times that, the reply
    cannot be memcached's and the stream is refused.
    """
    parser = ResponseParser()
    fed = 0
    held: list[int] = []

    def feed() -> None:
        nonlocal fed
        for part in range(40):
            chunk = b"".join(b"STAT s%03d_%05d 1\r\n" % (part, i) for i in range(10_000))
            parser.receive_data(chunk)
            fed += 10_000
            assert parser.next_reply(Request(b"", ReplyKind.STATS)) is NEED_DATA
            del chunk
            # Past the bound (65,536 lines), 40,000 more lines: memory must stay flat.
            if part == 8:
                tracemalloc.start()
            elif 8 < part <= 12:
                held.append(tracemalloc.get_traced_memory()[0])
            elif part == 13:
                tracemalloc.stop()

    try:
        with pytest.raises(ProtocolError, match="without its END"):
            feed()
    finally:
        tracemalloc.stop()
    assert fed <= 4 * 65_536 + 10_000
    assert max(held) < 1 << 20, f"{max(held)} bytes held while the reply was dropped"
