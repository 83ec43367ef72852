"""ConnectionPool against a real memcached: serving, fairness, setup steps, metrics, closing."""

from __future__ import annotations

import asyncio
import ssl
import time

import pytest

from emcache_pool import Connection, ConnectionPool, MemcachedHostAddress, PoolConfig
from emcache_pool.errors import PoolClosedError
from emcache_protocol import (
    Status,
    Value,
    incr_decr_command,
    retrieval_command,
    storage_command,
)
from node_endpoints import endpoint_of


async def _set(pool, key: bytes, value: bytes, **kw) -> object:
    return await pool.execute(storage_command(b"set", key, value), **kw)


async def _get(pool, key: bytes, **kw) -> bytes | None:
    reply = await pool.execute(retrieval_command(b"get", [key]), **kw)
    assert isinstance(reply, list)
    return reply[0].value if reply else None


@pytest.mark.asyncio
async def test_pool_stores_and_fetches(memcached, make_pool):
    """A value set through the pool is fetched back through it."""
    pool = make_pool(memcached)
    assert await _set(pool, b"greeting", b"hello", timeout=1.0) is Status.STORED
    assert await _get(pool, b"greeting", timeout=1.0) == b"hello"
    assert await _get(pool, b"missing", timeout=1.0) is None


@pytest.mark.asyncio
async def test_pool_multi_key_get_returns_values_in_server_order(memcached, make_pool):
    """A multi-key get returns the hits and skips the misses."""
    pool = make_pool(memcached)
    await _set(pool, b"k1", b"one")
    await _set(pool, b"k3", b"three")
    keys = [b"k1", b"k2", b"k3"]
    reply = await pool.execute(retrieval_command(b"get", keys))
    assert reply == [Value(b"k1", 0, b"one", None), Value(b"k3", 0, b"three", None)]


@pytest.mark.asyncio
async def test_pool_pipelines_concurrent_requests(memcached, make_pool):
    """Concurrent callers on one connection are in flight together (depth above one)."""
    pool = make_pool(memcached, max_connections=1)
    await _set(pool, b"k", b"v")
    values = await asyncio.gather(*(_get(pool, b"k") for _ in range(100)))
    assert values == [b"v"] * 100
    assert pool.metrics().max_pipeline_depth > 1


@pytest.mark.asyncio
async def test_pool_serves_one_connection_in_arrival_order(memcached, make_pool):
    """On one connection, 64 callers are answered exactly in the order they asked."""
    pool = make_pool(memcached, max_connections=1)
    await _set(pool, b"k", b"v")
    finished: list[int] = []

    async def caller(index: int) -> None:
        await _get(pool, b"k")
        finished.append(index)

    await asyncio.gather(*(caller(i) for i in range(64)))
    assert finished == list(range(64))


@pytest.mark.asyncio
async def test_pool_is_fair_to_64_callers_on_2_connections(memcached, make_pool):
    """64 callers sharing 2 connections all progress, none is starved, none waits long."""
    pool = make_pool(memcached, max_connections=2, min_connections=2)
    await _set(pool, b"k", b"v" * 100)
    counts = [0] * 64
    worst = [0.0]
    stop = time.monotonic() + 1.0

    async def caller(index: int) -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            assert await _get(pool, b"k", timeout=0.5) == b"v" * 100
            worst[0] = max(worst[0], time.monotonic() - started)
            counts[index] += 1

    await asyncio.gather(*(caller(i) for i in range(64)))
    # Connections may run at different speeds (server threads share the CPU), so callers
    # served mostly by the slower one do fewer requests; none may starve or time out.
    mean = sum(counts) / len(counts)
    assert min(counts) >= mean * 0.3, counts
    assert worst[0] < 0.4
    metrics = pool.metrics()
    assert metrics.operations_executed_with_error == 0
    assert metrics.cur_connections == 2


@pytest.mark.asyncio
async def test_pool_grows_under_load_up_to_max_connections(memcached, make_pool):
    """A pool with queued requests opens more connections, never more than max_connections."""
    pool = make_pool(memcached, max_connections=3, min_connections=1)
    await _set(pool, b"k", b"v")
    for _ in range(20):
        await asyncio.gather(*(_get(pool, b"k") for _ in range(64)))
    metrics = pool.metrics()
    assert metrics.cur_connections == 3
    assert metrics.connections_created == 3


@pytest.mark.asyncio
async def test_pool_runs_on_connect_before_serving_requests(memcached, make_pool):
    """The on-connect step runs on each new connection before any request of the pool."""
    steps: list[Connection] = []

    async def on_connect(conn: Connection) -> None:
        await asyncio.sleep(0.05)
        reply = await conn.execute(storage_command(b"set", b"ready", b"yes"))
        assert reply is Status.STORED
        steps.append(conn)

    pool = make_pool(memcached, min_connections=0, on_connect=on_connect)
    assert await _get(pool, b"ready", timeout=1.0) == b"yes"
    assert len(steps) == 1


@pytest.mark.asyncio
async def test_pool_on_connect_error_reaches_waiting_requests(memcached, make_pool):
    """An on-connect step that raises fails the attempt and its error reaches the waiters."""

    class RefusedError(Exception):
        pass

    async def on_connect(conn: Connection) -> None:
        raise RefusedError("no entry")

    health: list[bool] = []
    pool = make_pool(memcached, health.append, min_connections=0, on_connect=on_connect)
    with pytest.raises(RefusedError, match="no entry"):
        await _get(pool, b"k", timeout=1.0)
    assert pool.metrics().connections_created_with_error == 1
    assert health == [False]


@pytest.mark.asyncio
async def test_pool_speaks_tls(memcached_tls, make_pool):
    """A pool with an SSL context verifies the node's certificate and serves requests."""
    context = ssl.create_default_context(cafile=str(memcached_tls.tls.ca_file))
    endpoint = MemcachedHostAddress(memcached_tls.host, memcached_tls.port)
    pool = make_pool(endpoint, ssl_context=context, server_hostname="localhost")
    await _set(pool, b"secret", b"tls", timeout=2.0)
    assert await _get(pool, b"secret", timeout=2.0) == b"tls"
    await pool.close()
    assert pool.metrics().connections_closed == pool.metrics().connections_created


@pytest.mark.asyncio
async def test_pool_uses_a_unix_socket(memcached_unix, make_pool):
    """A pool on a unix socket path serves requests."""
    pool = make_pool(memcached_unix)
    await _set(pool, b"local", b"unix", timeout=1.0)
    assert await _get(pool, b"local", timeout=1.0) == b"unix"


@pytest.mark.asyncio
async def test_pool_noreply_returns_once_queued_and_keeps_replies_aligned(memcached, make_pool):
    """noreply requests return None at once; a reply they draw is dropped, not misdelivered."""
    pool = make_pool(memcached, max_connections=1)
    await _set(pool, b"text", b"abc")
    incr = incr_decr_command(b"incr", b"text", 1)  # draws a CLIENT_ERROR line
    assert await pool.execute_noreply(incr) is None
    set_a = storage_command(b"set", b"a", b"1")
    assert await pool.execute_noreply(set_a) is None
    assert await _get(pool, b"a", timeout=1.0) == b"1"


@pytest.mark.asyncio
async def test_pool_metrics_add_up(memcached, make_pool):
    """Counters agree: requests split into ok and failed, connections into open and closed."""
    pool = make_pool(memcached, max_connections=2, purge_unused_connections_after=0.1)
    await _set(pool, b"k", b"v")
    await asyncio.gather(*(_get(pool, b"k") for _ in range(200)))
    memcached.pause()
    await asyncio.sleep(0.05)  # let SIGSTOP land
    try:
        outcomes = await asyncio.gather(
            *(_get(pool, b"k", timeout=0.1) for _ in range(10)), return_exceptions=True
        )
    finally:
        memcached.resume()
    assert [type(o) for o in outcomes] == [TimeoutError] * 10
    await asyncio.sleep(0.5)
    metrics = pool.metrics()
    assert metrics.operations_executed == 201
    assert metrics.operations_executed_with_error == 10
    assert metrics.connections_created - metrics.connections_closed == metrics.cur_connections
    assert metrics.connections_purged <= metrics.connections_closed
    assert metrics.requests_in_flight == 0
    assert metrics.create_connection_p50 is not None
    assert metrics.create_connection_avg is not None
    assert metrics.create_connection_upper is not None
    assert metrics.create_connection_p50 <= metrics.create_connection_upper
    assert metrics.operation_latency_p50 is not None


@pytest.mark.asyncio
async def test_pool_metrics_are_empty_before_any_connection(memcached, make_pool):
    """A fresh pool with no connection reports no latency figures."""
    pool = make_pool(memcached, min_connections=0)
    metrics = pool.metrics()
    assert metrics.cur_connections == 0
    assert metrics.create_connection_avg is None
    assert metrics.create_connection_p99 is None
    assert metrics.operation_latency_p99 is None


@pytest.mark.asyncio
async def test_pool_close_fails_in_flight_requests_and_leaves_nothing_pending(memcached, make_pool):
    """close() fails requests in flight with PoolClosedError and leaves no task behind."""
    pool = make_pool(memcached)
    await _set(pool, b"k", b"v")
    memcached.pause()
    await asyncio.sleep(0.05)  # let SIGSTOP land
    try:
        requests = [asyncio.ensure_future(_get(pool, b"k")) for _ in range(10)]
        await asyncio.sleep(0.05)
        await pool.close()
        outcomes = await asyncio.gather(*requests, return_exceptions=True)
    finally:
        memcached.resume()
    assert all(isinstance(o, PoolClosedError) for o in outcomes)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(PoolClosedError):
        await _get(pool, b"k")
    metrics = pool.metrics()
    assert metrics.cur_connections == 0
    assert metrics.connections_closed == metrics.connections_created


@pytest.mark.asyncio
async def test_pool_close_fails_requests_waiting_for_a_connection(make_pool, memcached):
    """Requests still waiting for a first connection fail with PoolClosedError on close()."""

    async def slow_setup(conn: Connection) -> None:
        await asyncio.sleep(10)

    pool = make_pool(memcached, min_connections=0, on_connect=slow_setup)
    waiting = asyncio.ensure_future(_get(pool, b"k"))
    await asyncio.sleep(0.05)
    await pool.close()
    with pytest.raises(PoolClosedError):
        await waiting
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.asyncio
async def test_pool_drain_and_close_finishes_requests_in_flight(memcached, make_pool):
    """drain_and_close() refuses new requests but lets those in flight get their replies."""
    pool = make_pool(memcached)
    await _set(pool, b"k", b"v")
    requests = [asyncio.ensure_future(_get(pool, b"k")) for _ in range(50)]
    await asyncio.sleep(0)
    draining = asyncio.ensure_future(pool.drain_and_close())
    await asyncio.sleep(0)
    with pytest.raises(PoolClosedError):
        await _get(pool, b"k")
    await draining
    assert await asyncio.gather(*requests) == [b"v"] * 50
    assert pool.metrics().cur_connections == 0


@pytest.mark.asyncio
async def test_pool_grows_for_a_burst_that_waited_for_the_first_connection(memcached, make_pool):
    """A burst queued before the first connection opened makes the pool open a second one."""
    pool = make_pool(memcached, max_connections=2, min_connections=0)
    await asyncio.gather(*(_get(pool, b"k") for _ in range(50)))
    await asyncio.sleep(0.1)
    metrics = pool.metrics()
    assert metrics.operations_waited == 50
    assert metrics.cur_connections == 2


@pytest.mark.asyncio
async def test_pool_async_with_closes_it(memcached):
    """``async with ConnectionPool(...)`` closes the pool and its connections on the way out."""
    async with ConnectionPool(endpoint_of(memcached), PoolConfig()) as pool:
        assert await _set(pool, b"k", b"v") is Status.STORED
    assert pool.metrics().cur_connections == 0
    with pytest.raises(PoolClosedError):
        await _get(pool, b"k")
