"""Connection: pipelining, reply matching, cancellation safety and stream faults."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest

from emcache_pool import Connection, MemcachedHostAddress, open_connection
from emcache_pool.errors import ConnectionLostError, ServerProtocolError
from emcache_protocol import (
    Request,
    Status,
    Value,
    command_ends,
    meta_batch_command,
    meta_set_command,
    retrieval_command,
    storage_command,
)

GET_A = retrieval_command(b"get", [b"a"])
GET_B = retrieval_command(b"get", [b"b"])
VALUE_A = b"VALUE a 0 3\r\naaa\r\nEND\r\n"
VALUE_B = b"VALUE b 0 3\r\nbbb\r\nEND\r\n"


def _send(conn: Connection, request: Request[Any]) -> asyncio.Future[Any]:
    """Queue ``request`` on ``conn`` and return the future of its reply."""
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    conn.enqueue(request, fut)
    return fut


def _connection() -> Connection:
    return Connection(asyncio.get_running_loop(), "fake:1")


async def _next_iteration() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_connection_writes_requests_of_one_iteration_at_once(fake_transport):
    """Requests queued during one loop iteration leave in a single transport write."""
    conn = _connection()
    transport = fake_transport(conn)
    for _ in range(3):
        _send(conn, GET_A)
    await _next_iteration()
    _send(conn, GET_B)
    await _next_iteration()
    assert transport.writes == [GET_A.data * 3, GET_B.data]
    assert conn.max_depth == 4


@pytest.mark.asyncio
async def test_connection_writes_a_lone_callers_request_at_once(fake_transport):
    """After a flush of one request on an idle connection, the next one leaves at once.

    Requests made after it in the same iteration are still coalesced, and a flush of more
    than one request brings back the wait for the end of the iteration.
    """
    conn = _connection()
    transport = fake_transport(conn)
    first = _send(conn, GET_A)
    assert transport.writes == []  # nothing known yet about the caller: coalesce
    await _next_iteration()
    conn.data_received(VALUE_A)
    assert first.done()
    _send(conn, GET_B)
    assert transport.writes == [GET_A.data, GET_B.data]  # written before any iteration
    _send(conn, GET_A)
    _send(conn, GET_A)
    assert len(transport.writes) == 2
    await _next_iteration()
    assert transport.writes == [GET_A.data, GET_B.data, GET_A.data * 2]
    conn.data_received(VALUE_B + VALUE_A * 2)
    assert conn.in_flight == 0
    _send(conn, GET_B)
    assert len(transport.writes) == 3  # the last flush carried two: back to coalescing
    await _next_iteration()
    assert transport.writes[-1] == GET_B.data


@pytest.mark.asyncio
async def test_connection_lone_caller_waits_while_the_transport_is_paused(fake_transport):
    """A request that would leave at once is held while the transport asks to pause."""
    conn = _connection()
    transport = fake_transport(conn)
    _send(conn, GET_A)
    await _next_iteration()
    conn.data_received(VALUE_A)
    conn.pause_writing()
    _send(conn, GET_B)
    await _next_iteration()
    assert transport.writes == [GET_A.data]
    conn.resume_writing()
    await _next_iteration()
    assert transport.writes == [GET_A.data, GET_B.data]


@pytest.mark.asyncio
async def test_connection_matches_replies_split_anywhere(fake_transport):
    """Replies fed one byte at a time still resolve each request with its own reply."""
    conn = _connection()
    fake_transport(conn)
    first = _send(conn, GET_A)
    second = _send(conn, GET_B)
    for byte in VALUE_A + VALUE_B:
        conn.data_received(bytes([byte]))
    assert first.result() == [Value(b"a", 0, b"aaa", None)]
    assert second.result() == [Value(b"b", 0, b"bbb", None)]
    assert conn.in_flight == 0


@pytest.mark.asyncio
async def test_connection_drops_the_reply_of_a_cancelled_request(fake_transport):
    """A cancelled request's reply is read and dropped, never given to the next request."""
    conn = _connection()
    fake_transport(conn)
    first = _send(conn, GET_A)
    second = _send(conn, GET_B)
    first.cancel()
    conn.data_received(VALUE_A[:10])
    assert not second.done()
    conn.data_received(VALUE_A[10:] + VALUE_B)
    assert second.result() == [Value(b"b", 0, b"bbb", None)]


@pytest.mark.asyncio
async def test_connection_noreply_error_line_does_not_shift_replies(fake_transport):
    """An error line answering a fire-and-forget request is dropped, not given to the next one."""
    conn = _connection()
    fake_transport(conn)
    conn.enqueue(storage_command(b"set", b"k", b"v"), None)
    stored = _send(conn, storage_command(b"set", b"k", b"v"))
    conn.data_received(b"SERVER_ERROR out of memory storing object\r\nSTORED\r\n")
    assert stored.result() is Status.STORED


@pytest.mark.asyncio
async def test_connection_unparsable_reply_fails_every_pending_request(fake_transport):
    """Bytes that cannot be the head's reply close the connection and fail all pending requests."""
    conn = _connection()
    transport = fake_transport(conn)
    futures = [_send(conn, GET_A) for _ in range(3)]
    conn.data_received(b"VALUE zzz 0 1\r\nz\r\nEND\r\n")
    for fut in futures:
        with pytest.raises(ServerProtocolError):
            fut.result()
    assert transport.closing
    assert conn.is_closed
    with pytest.raises(ServerProtocolError):
        _send(conn, GET_A)
    await _next_iteration()


@pytest.mark.asyncio
async def test_connection_bytes_with_nothing_pending_close_it(fake_transport):
    """Bytes that arrive while no request waits mean a lost stream: the connection closes."""
    conn = _connection()
    transport = fake_transport(conn)
    conn.data_received(b"STORED\r\n")
    assert transport.closing
    assert conn.is_closed
    await _next_iteration()


@pytest.mark.asyncio
async def test_connection_lost_fails_pending_requests_at_once(fake_transport):
    """Losing the connection fails every pending request with ConnectionLostError."""
    conn = _connection()
    fake_transport(conn)
    closed: list[Connection] = []
    conn.set_close_callback(closed.append)
    futures = [_send(conn, GET_A) for _ in range(3)]
    conn.connection_lost(ConnectionResetError())
    for fut in futures:
        with pytest.raises(ConnectionLostError):
            fut.result()
    assert closed == [conn]
    await conn.wait_closed()


@pytest.mark.asyncio
async def test_connection_holds_writes_while_the_transport_is_paused(fake_transport):
    """Nothing is written between pause_writing and resume_writing; then all goes at once."""
    conn = _connection()
    transport = fake_transport(conn)
    conn.pause_writing()
    _send(conn, GET_A)
    await _next_iteration()
    _send(conn, GET_B)
    await _next_iteration()
    assert transport.writes == []
    conn.resume_writing()
    await _next_iteration()
    assert transport.writes == [GET_A.data + GET_B.data]


@pytest.mark.asyncio
async def test_connection_writes_large_requests_one_by_one_until_paused(fake_transport):
    """A flush of large requests is not joined into one copy: each large request goes out
    alone (the small ones between them together), and once the transport pauses the rest
    waits in the connection until resume_writing, in order."""
    conn = _connection()
    transport = fake_transport(conn)
    big = [storage_command(b"set", b"k%d" % i, bytes([65 + i]) * 300_000) for i in range(3)]
    _send(conn, big[0])
    _send(conn, GET_A)
    _send(conn, GET_B)
    _send(conn, big[1])
    _send(conn, big[2])
    pause_after = 2  # the transport pauses during its second write

    def write(data: bytes) -> None:
        transport.writes.append(data)
        if len(transport.writes) == pause_after:
            conn.pause_writing()

    transport.write = write
    await _next_iteration()
    assert transport.writes == [big[0].data, GET_A.data + GET_B.data]
    assert conn.needs_drain  # what waits is still counted
    pause_after = 0
    conn.resume_writing()
    await _next_iteration()
    assert transport.writes == [big[0].data, GET_A.data + GET_B.data, big[1].data, big[2].data]
    assert not conn.needs_drain


def _read(conn: Connection, data: bytes) -> int:
    """Hand ``data`` to ``conn`` as the transport of a buffered protocol does; the buffer size."""
    buffer = conn.get_buffer(-1)
    size = len(buffer)
    buffer[: len(data)] = data
    conn.buffer_updated(len(data))
    return size


@pytest.mark.asyncio
async def test_connection_reads_wider_while_replies_arrive_fast(fake_transport):
    """Reads go to a 64 KiB buffer; after a read of 16 KiB or more the next may take 256 KiB,
    a short read brings back 64 KiB, and so does a read that begins a large value."""
    conn = _connection()
    fake_transport(conn)
    value = b"v" * 20_000
    reply = b"VALUE a 0 %d\r\n%s\r\nEND\r\n" % (len(value), value)
    replies = []
    for _ in range(4):
        replies.append(_send(conn, GET_A))
    assert _read(conn, reply) == 64 * 1024
    assert _read(conn, reply) == 256 * 1024  # the first read brought over 16 KiB
    assert _read(conn, VALUE_A) == 256 * 1024
    assert _read(conn, VALUE_A) == 64 * 1024  # the read before was short
    assert [fut.result() for fut in replies] == [[Value(b"a", 0, value, None)]] * 2 + [
        [Value(b"a", 0, b"aaa", None)]
    ] * 2
    big = b"w" * 200_000
    fut = _send(conn, GET_A)
    head = b"VALUE a 0 %d\r\n" % len(big)
    _read(conn, head + big[:30_000])  # over 16 KiB, but it begins a large value
    view = conn.get_buffer(-1)
    assert len(view) >= len(big) - 30_000  # the value's own buffer
    rest = big[30_000:] + b"\r\nEND\r\n"
    view[: len(rest)] = rest
    conn.buffer_updated(len(rest))
    await _next_iteration()
    assert fut.result() == [Value(b"a", 0, big, None)]
    assert _read(conn, b"") == 64 * 1024


@pytest.mark.asyncio
async def test_connection_pipelines_requests_to_memcached(memcached):
    """Many concurrent requests on one real connection are in flight together and all match."""
    conn = await open_connection(MemcachedHostAddress(memcached.host, memcached.port))
    try:
        keys = [b"key-%d" % i for i in range(64)]
        stored = await asyncio.gather(
            *(conn.execute(storage_command(b"set", k, k * 3)) for k in keys)
        )
        assert stored == [Status.STORED] * len(keys)
        replies = await asyncio.gather(
            *(conn.execute(retrieval_command(b"get", [k])) for k in keys)
        )
        assert replies == [[Value(k, 0, k * 3, None)] for k in keys]
        assert conn.max_depth > 1
    finally:
        conn.close()
        await conn.wait_closed()


class _TLSTransport:
    """Marks a fake transport as TLS, as asyncio's SSL transports do."""

    @staticmethod
    def attach(fake_transport, conn):
        transport = fake_transport(conn)
        transport.get_extra_info = lambda name, default=None: (
            object() if name == "ssl_object" else default
        )
        conn.connection_made(transport)
        return transport


@pytest.mark.asyncio
async def test_connection_tls_writes_whole_requests_in_record_sized_chunks(fake_transport):
    """On TLS, a flush packs whole requests into writes of at most 16 KiB; a longer one alone."""
    conn = _connection()
    transport = _TLSTransport.attach(fake_transport, conn)
    small_request = storage_command(b"set", b"k", b"v" * 1000, 0, 0)
    large_request = storage_command(b"set", b"k", b"v" * 40_000, 0, 0)
    for request in [small_request] * 20 + [large_request] + [small_request] * 3:
        _send(conn, request)
    small, large = small_request.data, large_request.data
    await _next_iteration()
    assert b"".join(transport.writes) == small * 20 + large + small * 3
    assert all(len(w) <= 16 * 1024 for w in transport.writes if large not in w)
    assert large in transport.writes
    assert all(w.count(b"set ") == len(w) // len(small) for w in transport.writes if w != large)


@pytest.mark.asyncio
async def test_connection_tls_cuts_a_batch_between_its_commands(fake_transport):
    """On TLS, a quiet meta batch longer than a record is written in pieces of whole commands."""
    conn = _connection()
    transport = _TLSTransport.attach(fake_transport, conn)
    values = [b"v" * size for size in (100, 3000, 20_000, 700, 9000, 9000, 1)]
    batch = meta_batch_command([meta_set_command(b"k%d" % i, v) for i, v in enumerate(values)])
    _send(conn, batch)
    await _next_iteration()
    assert b"".join(transport.writes) == batch.data
    ends = set(command_ends(batch))
    offset = 0
    for write in transport.writes:
        offset += len(write)
        assert offset in ends, "a write that ends inside a command"
        assert len(write) <= 16 * 1024 or write.count(b"\r\nms ") == 0


@pytest.mark.asyncio
async def test_connection_tls_silence_with_requests_in_flight_nudges_once(fake_transport):
    """A watched TLS connection silent for 50 ms sends one version request, dropping its reply."""
    conn = _connection()
    transport = _TLSTransport.attach(fake_transport, conn)
    conn.watch_stalls()
    fut = _send(conn, GET_A)
    await asyncio.sleep(0.18)
    assert transport.writes == [GET_A.data, b"version\r\n"]  # one nudge outstanding at a time
    conn.data_received(VALUE_A + b"VERSION 1.6.18\r\n")
    assert fut.result() == [Value(b"a", 0, b"aaa", None)]
    assert conn.in_flight == 0
    assert not conn.is_closed


def _read_into(conn: Connection, data: bytes) -> int:
    """Do what a transport does on one read: fill the connection's buffer, report the count."""
    buffer = conn.get_buffer(-1)
    count = min(len(buffer), len(data))
    buffer[:count] = data[:count]
    conn.buffer_updated(count)
    return count


@pytest.mark.asyncio
async def test_connection_reads_a_large_value_straight_into_its_buffer(fake_transport):
    """Once a large VALUE line is read, the transport is handed exactly the missing bytes."""
    conn = _connection()
    fake_transport(conn)
    value = bytes(range(256)) * 1000
    get = _send(conn, retrieval_command(b"get", [b"big"]))
    after = _send(conn, GET_A)
    stream = b"VALUE big 0 %d\r\n%s\r\nEND\r\n" % (len(value), value) + VALUE_A
    done = _read_into(conn, stream)
    assert done == 64 * 1024  # the connection's own buffer
    missing = len(stream) - len(VALUE_A) - 7 - done
    assert len(conn.get_buffer(-1)) > missing  # and room for what follows the value
    conn.get_buffer(-1)  # a read that brings nothing (no buffer_updated) changes nothing
    done += _read_into(conn, stream[done : done + missing // 2])
    while done < len(stream):
        done += _read_into(conn, stream[done:])
    assert not get.done()  # read once the transport let go of the value's buffer
    await _next_iteration()
    assert get.result() == [Value(b"big", 0, value, None)]
    assert type(get.result()[0].value) is bytes
    assert after.result() == [Value(b"a", 0, b"aaa", None)]
    assert len(conn.get_buffer(-1)) == 64 * 1024


async def _large_values_round_trip(endpoint: Any, **kw: Any) -> None:
    conn = await open_connection(endpoint, **kw)
    try:
        values = {b"big-%d" % i: bytes([i]) * (200_000 * i + 70_000) for i in range(1, 5)}
        values[b"small"] = b"s"
        stored = await asyncio.gather(
            *(conn.execute(storage_command(b"set", k, v)) for k, v in values.items())
        )
        assert stored == [Status.STORED] * len(values)
        gets = [retrieval_command(b"get", [k]) for k in values] * 2
        gets.append(retrieval_command(b"get", list(values)))
        replies = await asyncio.gather(*(conn.execute(get) for get in gets))
        expected = [[Value(k, 0, v, None)] for k, v in values.items()] * 2
        expected.append([Value(k, 0, v, None) for k, v in values.items()])
        assert replies == expected
    finally:
        conn.close()
        await conn.wait_closed()


@pytest.mark.asyncio
async def test_connection_reads_pipelined_large_values_from_memcached(memcached):
    await _large_values_round_trip(MemcachedHostAddress(memcached.host, memcached.port))


@pytest.mark.asyncio
async def test_connection_reads_large_values_over_tls(memcached_tls):
    """asyncio's TLS transport fills the value buffer as well."""
    context = ssl.create_default_context(cafile=str(memcached_tls.tls.ca_file))
    endpoint = MemcachedHostAddress(memcached_tls.host, memcached_tls.port)
    await _large_values_round_trip(endpoint, ssl_context=context, server_hostname="localhost")
