"""The pool under the faults that used to misroute replies, reorder writes or hold memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import pytest

from emcache_pool import Connection, ConnectionPool, MemcachedHostAddress
from emcache_pool.errors import PairingLostError, PoolClosedError
from emcache_protocol import (
    ErrorReply,
    Request,
    Status,
    retrieval_command,
    storage_command,
)
from emcache_testing import Act, DelayProxy, HostileServer
from emcache_testing import Request as ServerRequest

GET_A = retrieval_command(b"get", [b"a"])


async def _wait_connections(pool: ConnectionPool, count: int) -> None:
    async with asyncio.timeout(2.0):
        while pool.metrics().cur_connections < count:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.01)


def _send(conn: Connection, request: Request[Any]) -> asyncio.Future[Any]:
    """Queue ``request`` on ``conn`` and return the future of its reply."""
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    conn.enqueue(request, fut)
    return fut


@pytest.mark.asyncio
async def test_connection_unauthenticated_line_fails_the_whole_burst(fake_transport):
    """One CLIENT_ERROR unauthenticated for three requests: the head gets it, the rest fail."""
    conn = Connection(asyncio.get_running_loop(), "fake:1")
    fake_transport(conn)
    futures = [_send(conn, GET_A) for _ in range(3)]
    conn.data_received(b"CLIENT_ERROR unauthenticated\r\n")
    assert futures[0].result() == ErrorReply("CLIENT_ERROR", "unauthenticated")
    for fut in futures[1:]:
        error = fut.exception()
        assert isinstance(error, PairingLostError)
        assert error.reply == ErrorReply("CLIENT_ERROR", "unauthenticated")
    assert conn.is_closed


@pytest.mark.asyncio
async def test_pool_given_up_write_is_not_overtaken_by_the_next_one(memcached, make_pool):
    """A timed-out set held back on the network lands before the next set of its key."""
    holding = True

    def delay(connection_number: int) -> float:
        return 0.3 if holding else 0.0

    async with DelayProxy(memcached.host, memcached.port, delay) as proxy:
        pool = make_pool(MemcachedHostAddress("127.0.0.1", proxy.port), min_connections=2)
        await _wait_connections(pool, 2)
        first = storage_command(b"set", b"k", b"first", 0, 0)
        with pytest.raises(TimeoutError):
            await pool.execute(first, timeout=0.05, key=b"k")
        holding = False
        second = storage_command(b"set", b"k", b"second", 0, 0)
        reply = await pool.execute(second, timeout=2.0, key=b"k")
        assert reply is Status.STORED
        await asyncio.sleep(0.4)  # anything still held back has reached the node by now
        values = await pool.execute(retrieval_command(b"get", [b"k"]))
        assert isinstance(values, list)
        assert [v.value for v in values] == [b"second"]


@pytest.mark.asyncio
async def test_pool_stuck_request_does_not_hold_later_replies(make_pool):
    """One black-holed request, then 2,000 gets of 20 KB: memory stays bounded."""

    def black_hole(request: ServerRequest, honest: bytes) -> list[Act]:
        return [Act(honest, delay=30.0)]

    async with HostileServer() as server:
        pool = make_pool(
            MemcachedHostAddress(server.host, server.port), min_connections=2, max_connections=2
        )
        await _wait_connections(pool, 2)
        await pool.execute(storage_command(b"set", b"big", b"x" * 20_000, 0, 0))
        server.attack(b"stuck", black_hole)
        stuck = asyncio.ensure_future(
            pool.execute(retrieval_command(b"get", [b"stuck"]), timeout=8.0)
        )
        await asyncio.sleep(0.05)
        get_big = retrieval_command(b"get", [b"big"])
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            for _ in range(2000):
                await pool.execute(get_big, timeout=8.0)
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        held = sum(len(lane.entries) for lane in pool._deadlines._lanes.values())
        stuck.cancel()
        await asyncio.gather(stuck, return_exceptions=True)
        assert held < 600, f"{held} deadline entries held"
        assert after - before < 16 << 20, f"{(after - before) / 2**20:.1f} MB held"


@pytest.mark.asyncio
@pytest.mark.parametrize("iterations", [0, 1, 2, 4])
async def test_pool_cancelled_close_is_finished_by_the_next_call(memcached, make_pool, iterations):
    """close() cancelled midway: the next call leaves no connection, waiter nor connector."""
    pool = make_pool(memcached, min_connections=2, max_connections=2)
    await _wait_connections(pool, 2)
    closing = asyncio.ensure_future(pool.close())
    for _ in range(iterations):
        await asyncio.sleep(0)
    closing.cancel()
    await asyncio.gather(closing, return_exceptions=True)
    await asyncio.wait_for(pool.close(), 2.0)
    assert pool.metrics().cur_connections == 0
    assert not pool._connector.running
    with pytest.raises(PoolClosedError):
        await pool.execute(GET_A)
