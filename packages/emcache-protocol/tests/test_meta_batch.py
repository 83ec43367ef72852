"""Quiet meta batches: replies filed by opaque token, error lines placed, a lost stream refused."""

from typing import Any

import pytest

from emcache_protocol import (
    NEED_DATA,
    ErrorReply,
    MetaResult,
    MetaStatus,
    ProtocolError,
    ResponseParser,
    Status,
    command_ends,
    meta_arithmetic_command,
    meta_batch_command,
    meta_delete_command,
    meta_get_command,
    meta_set_command,
    storage_command,
)

# Five requests: silent on a miss, a store, a delete, a done increment.
BATCH = meta_batch_command(
    [
        meta_get_command(b"a"),
        meta_set_command(b"b", b"v"),
        meta_get_command(b"c", return_key=True),
        meta_delete_command(b"d"),
        meta_arithmetic_command(b"e"),
    ]
)
TOO_LARGE = ErrorReply("SERVER_ERROR", "object too large for cache")


def parse(stream: bytes) -> Any:
    parser = ResponseParser()
    parser.receive_data(stream)
    reply = parser.next_reply(BATCH)
    assert not parser.has_buffered_data()
    return reply


def test_meta_batch_all_silent() -> None:
    """Only MN back: every request had its nominal outcome."""
    assert parse(b"MN\r\n") == [None] * 5


def test_meta_batch_files_replies_by_opaque_token() -> None:
    """Each reply lands at its request's position; the silent ones stay None."""
    reply = parse(b"VA 1 O0\r\nx\r\nVA 2 kc O2\r\nyz\r\nNF O3\r\nMN\r\n")
    assert reply == [
        MetaResult(MetaStatus.VA, value=b"x", opaque=b"0"),
        None,
        MetaResult(MetaStatus.VA, value=b"yz", key=b"c", opaque=b"2"),
        MetaResult(MetaStatus.NF, opaque=b"3"),
        None,
    ]


def test_meta_batch_gives_an_error_line_to_the_one_silent_request_it_can_be() -> None:
    """An error line between the replies of requests 0 and 2 is request 1's."""
    reply = parse(b"HD O0\r\nSERVER_ERROR object too large for cache\r\nHD O2\r\nMN\r\n")
    assert reply[1] == TOO_LARGE
    assert reply[3:] == [None, None]


def test_meta_batch_gives_error_lines_in_order_when_they_match_the_silent_requests() -> None:
    """As many error lines as silent requests before MN: one each, in order."""
    reply = parse(b"HD O2\r\nERROR\r\nCLIENT_ERROR no\r\nMN\r\n")
    assert reply[:2] == [None, None]
    assert reply[3:] == [ErrorReply("ERROR", ""), ErrorReply("CLIENT_ERROR", "no")]


def test_meta_batch_marks_every_request_that_may_have_failed() -> None:
    """One error line for three silent requests: each of the three may have failed."""
    reply = parse(b"HD O0\r\nHD O1\r\nSERVER_ERROR object too large for cache\r\nMN\r\n")
    for entry in reply[2:]:
        assert isinstance(entry, ErrorReply)
        assert entry.kind == "SERVER_ERROR"
        assert "object too large for cache" in entry.message
        assert "may have failed" in entry.message


@pytest.mark.parametrize(
    "stream",
    [
        b"HD O5\r\nMN\r\n",  # no such request
        b"HD O2\r\nHD O1\r\nMN\r\n",  # out of order
        b"HD O2\r\nHD O2\r\nMN\r\n",  # twice
        b"HD\r\nMN\r\n",  # no token
        b"HD Ox\r\nMN\r\n",  # not a token of the batch
        b"HD O-1\r\nMN\r\n",
        b"HD O0\r\nERROR\r\nHD O1\r\nMN\r\n",  # an error line where no request was silent
        b"ERROR\r\n" * 6 + b"MN\r\n",  # more error lines than requests
        b"HD O0\r\nERROR\r\nERROR\r\nHD O2\r\nMN\r\n",  # two errors, one silent request
        b"VA 1 kz O2\r\nx\r\nMN\r\n",  # another key
        b"STORED\r\nMN\r\n",
        b"MN x\r\n",
        b"MNX\r\n",
    ],
)
def test_meta_batch_refuses_a_lost_stream(stream: bytes) -> None:
    """A reply that cannot be the batch's means the stream is lost."""
    with pytest.raises(ProtocolError):
        parse(stream)


def test_meta_batch_unauthenticated_line_ends_the_batch() -> None:
    """A line that answers a whole burst ends the batch with that line."""
    reply = parse(b"HD O0\r\nCLIENT_ERROR unauthenticated\r\n")
    assert reply == ErrorReply("CLIENT_ERROR", "unauthenticated")
    assert reply.loses_pairing


def test_meta_batch_keeps_replies_between_chunks() -> None:
    """A batch read across many chunks keeps what it read, and reads each reply once."""
    wire = b"VA 3 O0\r\nabc\r\nERROR\r\nVA 4 kc O2\r\nwxyz\r\nHD O4\r\nMN\r\nSTORED\r\n"
    parser = ResponseParser()
    replies = []
    for byte in wire:
        parser.receive_data(bytes([byte]))
        if not replies:
            reply = parser.next_reply(BATCH)
            if reply is not NEED_DATA:
                replies.append(reply)
    assert replies == [
        [
            MetaResult(MetaStatus.VA, value=b"abc", opaque=b"0"),
            ErrorReply("ERROR", ""),
            MetaResult(MetaStatus.VA, value=b"wxyz", key=b"c", opaque=b"2"),
            None,
            MetaResult(MetaStatus.HD, opaque=b"4"),
        ]
    ]
    assert parser.next_reply(storage_command(b"set", b"k", b"v")) is Status.STORED


def test_meta_batch_starts_afresh_after_one_ends() -> None:
    """Two batches in a row: the second does not see the first's replies."""
    parser = ResponseParser()
    parser.receive_data(b"NF O3\r\nMN\r\nMN\r\n")
    first = parser.next_reply(BATCH)
    assert isinstance(first, list)
    assert first[3] == MetaResult(MetaStatus.NF, opaque=b"3")
    assert parser.next_reply(BATCH) == [None] * 5


def test_meta_batch_empty() -> None:
    """An empty batch is answered by MN alone."""
    parser = ResponseParser()
    parser.receive_data(b"MN\r\n")
    assert parser.next_reply(meta_batch_command([])) == []


def test_meta_batch_decodes_binary_keys() -> None:
    """A binary key echoed in base64 is decoded and checked against the batch's key."""
    batch = meta_batch_command([meta_get_command(b"\x00", base64=True, return_key=True)])
    parser = ResponseParser()
    parser.receive_data(b"HD kAA== b O0\r\nMN\r\n")
    assert parser.next_reply(batch) == [MetaResult(MetaStatus.HD, key=b"\x00", opaque=b"0")]


def test_command_ends_cuts_a_batch_between_its_commands() -> None:
    """A batch is cut after each request (an ms after its data block) and after mn."""
    batch = meta_batch_command(
        [
            meta_set_command(b"a", b"x\r\nms b 1\r\n"),
            meta_get_command(b"b"),
            meta_set_command(b"c", b""),
        ]
    )
    ends = command_ends(batch)
    pieces = [batch.data[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    assert pieces == [
        b"ms a 11 q O0\r\nx\r\nms b 1\r\n\r\n",
        b"mg b v q O1\r\n",
        b"ms c 0 q O2\r\n\r\n",
        b"mn\r\n",
    ]


def test_command_ends_of_a_single_request() -> None:
    """Any other request is one command."""
    request = storage_command(b"set", b"k", b"v\r\nset k 0 0 1\r\n")
    assert command_ends(request) == [len(request.data)]
