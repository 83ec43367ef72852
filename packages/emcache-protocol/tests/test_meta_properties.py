"""Property tests of the meta commands: encoders write lines memcached accepts, and meta
replies parse the same however the stream is split; garbage raises ProtocolError only."""

import binascii
import itertools
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from emcache_protocol import (
    MAX_BINARY_KEY_LENGTH,
    MAX_COMMAND_LINE,
    NEED_DATA,
    ErrorReply,
    MetaArithmeticMode,
    MetaResult,
    MetaSetMode,
    MetaStatus,
    ProtocolError,
    ReplyKind,
    Request,
    ResponseParser,
    meta_arithmetic_command,
    meta_batch_command,
    meta_delete_command,
    meta_get_command,
    meta_noop_command,
    meta_set_command,
)

_KEY_BYTES = [b for b in range(256) if b > 0x20 and b != 0x7F]
text_keys = st.lists(st.sampled_from(_KEY_BYTES), min_size=1, max_size=40).map(bytes)
binary_keys = st.binary(min_size=1, max_size=MAX_BINARY_KEY_LENGTH)
i32 = st.integers(-(2**31), 2**31 - 1)
u64 = st.integers(0, 2**64 - 1)
opaques = st.text(alphabet="abcXYZ019_-", min_size=1, max_size=31).map(str.encode)
maybe = st.none


@st.composite
def meta_requests(draw: st.DrawFn, with_opaque: bool = True) -> Request[MetaResult]:
    """Any single meta request the encoders can build."""
    binary = draw(st.booleans())
    key = draw(binary_keys if binary else text_keys)
    opaque = draw(maybe() | opaques) if with_opaque else None
    command = draw(st.sampled_from(["mg", "ms", "md", "ma"]))
    if command == "mg":
        return meta_get_command(
            key,
            return_value=draw(st.booleans()),
            return_flags=draw(st.booleans()),
            return_cas=draw(st.booleans()),
            return_ttl=draw(st.booleans()),
            return_key=draw(st.booleans()),
            return_size=draw(st.booleans()),
            return_hit=draw(st.booleans()),
            return_last_access=draw(st.booleans()),
            ttl=draw(maybe() | i32),
            vivify_ttl=draw(maybe() | i32),
            recache_below=draw(maybe() | i32),
            new_cas=draw(maybe() | u64),
            cas=draw(maybe() | u64),
            no_bump=draw(st.booleans()),
            opaque=opaque,
            base64=binary,
        )
    if command == "ms":
        mode = draw(st.sampled_from(list(MetaSetMode)))
        cas = draw(maybe() | u64)
        can_invalidate = cas is not None and mode in (MetaSetMode.SET, MetaSetMode.REPLACE)
        can_vivify = mode in (MetaSetMode.APPEND, MetaSetMode.PREPEND)
        return meta_set_command(
            key,
            draw(st.binary(max_size=50)),
            flags=draw(st.integers(0, 2**32 - 1)),
            ttl=draw(i32),
            mode=mode,
            cas=cas,
            new_cas=draw(maybe() | u64),
            invalidate=can_invalidate and draw(st.booleans()),
            vivify_ttl=draw(maybe() | i32) if can_vivify else None,
            return_cas=draw(st.booleans()),
            return_key=draw(st.booleans()),
            return_size=draw(st.booleans()),
            opaque=opaque,
            base64=binary,
        )
    if command == "md":
        invalidate = draw(st.booleans())
        return meta_delete_command(
            key,
            cas=draw(maybe() | u64),
            new_cas=draw(maybe() | u64),
            invalidate=invalidate,
            ttl=draw(maybe() | i32) if invalidate else None,
            remove_value=draw(st.booleans()),
            return_key=draw(st.booleans()),
            opaque=opaque,
            base64=binary,
        )
    vivify_ttl = draw(maybe() | i32)
    return meta_arithmetic_command(
        key,
        mode=draw(st.sampled_from(list(MetaArithmeticMode))),
        delta=draw(u64),
        initial=draw(maybe() | u64) if vivify_ttl is not None else None,
        vivify_ttl=vivify_ttl,
        ttl=draw(maybe() | i32),
        cas=draw(maybe() | u64),
        new_cas=draw(maybe() | u64),
        return_value=draw(st.booleans()),
        return_ttl=draw(st.booleans()),
        return_cas=draw(st.booleans()),
        return_key=draw(st.booleans()),
        opaque=opaque,
        base64=binary,
    )


def server_view(line: bytes) -> tuple[bytes, bytes, list[bytes]]:
    """What memcached reads from a command line: command, real key, flags."""
    tokens = line.split(b" ")
    flags = tokens[3:] if tokens[0] == b"ms" else tokens[2:]
    key = tokens[1]
    if b"b" in flags:
        key = binascii.a2b_base64(key, strict_mode=True)
    return tokens[0], key, flags


@given(meta_requests())
def test_meta_encoders_write_lines_memcached_accepts(request: Request[MetaResult]) -> None:
    """One short line of visible tokens, its key as the request names it, no repeated flag."""
    line, _, rest = request.data.partition(b"\r\n")
    assert len(line) + 2 <= MAX_COMMAND_LINE
    assert all(0x20 < byte != 0x7F for byte in line.replace(b" ", b""))
    command, key, flags = server_view(line)
    assert request.keys == (key,)
    assert len({flag[:1] for flag in flags}) == len(flags), "memcached refuses a repeated flag"
    assert all(flag[:1].isalpha() for flag in flags)
    if command == b"ms":
        size = int(line.split(b" ")[2])
        assert len(rest) == size + 2
        assert rest.endswith(b"\r\n")
    else:
        assert rest == b""


@given(st.lists(meta_requests(with_opaque=False), max_size=6))
def test_meta_batch_writes_quiet_requests_memcached_accepts(
    requests: list[Request[MetaResult]],
) -> None:
    """A batch of requests without opaque: each gets q and its position, once."""
    batch = meta_batch_command(requests)
    expected = b""
    for position, request in enumerate(requests):
        line, _, rest = request.data.partition(b"\r\n")
        _, _, flags = server_view(line + b" q O%d" % position)
        assert len({flag[:1] for flag in flags}) == len(flags), "memcached refuses a repeat"
        expected += line + b" q O%d\r\n" % position + rest
    assert batch.data == expected + b"mn\r\n"


# -- replies ----------------------------------------------------------------------------


@st.composite
def reply_flags(draw: st.DrawFn, key: bytes | None) -> tuple[list[bytes], dict[str, Any]]:
    """Return flags in any order, and the result fields they give."""
    fields: dict[str, Any] = {}
    tokens: list[bytes] = []
    if draw(st.booleans()):
        fields["flags"] = draw(st.integers(0, 2**32 - 1))
        tokens.append(b"f%d" % fields["flags"])
    if draw(st.booleans()):
        fields["cas"] = draw(u64)
        tokens.append(b"c%d" % fields["cas"])
    if draw(st.booleans()):
        fields["ttl"] = draw(st.integers(-1, 2**32 - 1))
        tokens.append(b"t%d" % fields["ttl"])
    if draw(st.booleans()):
        fields["size"] = draw(st.integers(0, 2**32 - 1))
        tokens.append(b"s%d" % fields["size"])
    if draw(st.booleans()):
        fields["last_access"] = draw(st.integers(0, 2**32 - 1))
        tokens.append(b"l%d" % fields["last_access"])
    if draw(st.booleans()):
        fields["hit_before"] = draw(st.booleans())
        tokens.append(b"h1" if fields["hit_before"] else b"h0")
    for letter, name in ((b"W", "won"), (b"X", "stale"), (b"Z", "winner_pending")):
        if draw(st.booleans()):
            fields[name] = True
            tokens.append(letter)
    if key is not None and draw(st.booleans()):
        fields["key"] = key
        tokens.append(b"k" + key)
    return draw(st.permutations(tokens)), fields


@st.composite
def single_exchanges(draw: st.DrawFn) -> tuple[Request[Any], bytes, Any]:
    """A single meta request, its reply bytes and the expected result."""
    key = draw(text_keys)
    kind = draw(
        st.sampled_from(
            [
                ReplyKind.META_GET,
                ReplyKind.META_SET,
                ReplyKind.META_DELETE,
                ReplyKind.META_ARITHMETIC,
                ReplyKind.META_NOOP,
            ]
        )
    )
    if kind is ReplyKind.META_NOOP:
        return meta_noop_command(), b"MN\r\n", MetaStatus.MN
    request: Request[Any] = Request(b"", kind, (key,))
    if draw(st.integers(0, 6)) == 0:
        return (
            request,
            b"SERVER_ERROR out of memory\r\n",
            ErrorReply("SERVER_ERROR", "out of memory"),
        )
    codes = {
        ReplyKind.META_GET: ["VA", "HD", "EN"],
        ReplyKind.META_SET: ["HD", "NS", "EX", "NF"],
        ReplyKind.META_DELETE: ["HD", "NF", "EX"],
        ReplyKind.META_ARITHMETIC: ["HD", "VA", "NF", "NS", "EX"],
    }[kind]
    code = draw(st.sampled_from(codes))
    tokens, fields = draw(reply_flags(key))
    head = b" ".join([code.encode(), *tokens])
    if code == "VA":
        value = draw(st.binary(max_size=40) | st.sampled_from([b"\r\n", b"MN\r\n", b"VA 1\r\n"]))
        head = b" ".join([b"VA %d" % len(value), *tokens])
        return (
            request,
            head + b"\r\n" + value + b"\r\n",
            MetaResult(MetaStatus.VA, value=value, **fields),
        )
    return request, head + b"\r\n", MetaResult(MetaStatus(code), **fields)


@st.composite
def batch_exchanges(draw: st.DrawFn) -> tuple[Request[Any], bytes, Any]:
    """A batch, its reply bytes (replies for some requests, error lines for others)."""
    keys = draw(st.lists(text_keys, max_size=8))
    batch = meta_batch_command([meta_get_command(key) for key in keys])
    wire = b""
    expected: list[Any] = [None] * len(keys)
    for index, key in enumerate(keys):
        outcome = draw(st.sampled_from(["silent", "reply", "error"]))
        if outcome == "reply":
            tokens, fields = draw(reply_flags(key))
            value = draw(st.binary(max_size=20))
            head = b" ".join([b"VA %d" % len(value), *tokens, b"O%d" % index])
            wire += head + b"\r\n" + value + b"\r\n"
            expected[index] = MetaResult(MetaStatus.VA, value=value, opaque=b"%d" % index, **fields)
        elif outcome == "error":
            wire += b"CLIENT_ERROR bad data chunk\r\n"
            expected[index] = "error"
    return batch, wire + b"MN\r\n", expected


exchanges = st.one_of(single_exchanges(), batch_exchanges())


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({c % max(len(data), 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def drive(chunks: Sequence[bytes], requests: Sequence[Request[Any]]) -> list[Any]:
    parser = ResponseParser()
    replies: list[Any] = []
    for chunk in chunks:
        parser.receive_data(chunk)
        while len(replies) < len(requests):
            reply = parser.next_reply(requests[len(replies)])
            if reply is NEED_DATA:
                break
            replies.append(reply)
    assert not parser.has_buffered_data()
    return replies


def matches(expected: Any, reply: Any) -> bool:
    """Whether a reply is the expected one; batch errors are placed by the batch's rule."""
    if not isinstance(expected, list):
        return bool(expected == reply)
    if len(expected) != len(reply):
        return False
    for want, got in zip(expected, reply, strict=True):
        if want == "error" or (want is None and isinstance(got, ErrorReply)):
            # An error line belongs to one silent request of its window; when the window
            # also holds requests that succeeded silently, each may have failed.
            if not isinstance(got, ErrorReply) or got.kind != "CLIENT_ERROR":
                return False
        elif want != got:
            return False
    return True


@settings(max_examples=300)
@given(st.lists(exchanges, min_size=1, max_size=5), st.lists(st.integers(0, 5000), max_size=10))
def test_meta_replies_parse_the_same_however_split(
    cases: list[tuple[Request[Any], bytes, Any]], cuts: list[int]
) -> None:
    """Meta replies (batches included) give their results whatever the chunk boundaries."""
    requests = [request for request, _, _ in cases]
    wire = b"".join(data for _, data, _ in cases)
    whole = drive([wire], requests)
    assert drive(split(wire, cuts), requests) == whole
    assert len(whole) == len(cases)
    for (_, _, expected), reply in zip(cases, whole, strict=True):
        assert matches(expected, reply), (expected, reply)


META_KINDS = [kind for kind in ReplyKind if kind.value.startswith("meta")]


@settings(max_examples=300)
@given(
    st.binary(max_size=300)
    | st.lists(
        st.sampled_from(
            [b"VA ", b"HD", b"EN", b"MN", b"\r\n", b" O1", b" k", b" b", b"5", b"\n", b"ERROR"]
        ),
        max_size=30,
    ).map(b"".join),
    st.sampled_from(META_KINDS),
    st.lists(text_keys, max_size=3),
)
def test_meta_garbage_raises_only_protocol_error(
    stream: bytes, kind: ReplyKind, keys: list[bytes]
) -> None:
    """Arbitrary bytes give a typed reply, NEED_DATA or ProtocolError, never another exception."""
    parser = ResponseParser(max_value_size=1000)
    parser.receive_data(stream)
    request: Request[Any] = Request(b"", kind, keys)
    try:
        for _ in range(len(stream) + 1):
            if parser.next_reply(request) is NEED_DATA:
                break
    except ProtocolError:
        pass
