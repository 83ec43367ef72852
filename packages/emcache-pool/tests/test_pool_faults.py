"""ConnectionPool under faults: cancellations, dead, paused and misbehaving nodes."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import zlib

import pytest

from emcache_pool import MemcachedHostAddress
from emcache_pool.errors import ConnectError, ConnectionLostError, ServerProtocolError
from emcache_protocol import Status, retrieval_command, storage_command
from emcache_testing import free_port


def _value_of(key: bytes) -> bytes:
    """A value derived from its key, of varied size (some span many TCP segments)."""
    size = (zlib.crc32(key) % 7) ** 5 + 1
    return (key * (size // len(key) + 1))[:size]


async def _get(pool, key: bytes, **kw) -> bytes | None:
    reply = await pool.execute(retrieval_command(b"get", [key]), **kw)
    assert isinstance(reply, list)
    return reply[0].value if reply else None


async def _wait_for(predicate, within: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < within, "condition not reached in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@pytest.mark.asyncio
async def test_pool_random_cancellations_never_mismatch_values(memcached, make_pool):
    """10k gets, many cancelled or timed out at random moments, never return another key's value."""
    pool = make_pool(memcached, max_connections=2)
    rng = random.Random(1234)
    keys = [b"key-%d" % i for i in range(300)]
    for key in keys:
        await pool.execute(storage_command(b"set", key, _value_of(key)))
    mismatches: list[bytes] = []
    completed = [0]

    async def fetch(batch: list[bytes], within: float | None) -> None:
        reply = await pool.execute(retrieval_command(b"get", batch), timeout=within)
        assert isinstance(reply, list)
        for value in reply:
            if value.key not in batch or value.value != _value_of(value.key):
                mismatches.append(value.key)
        if len(reply) != len(batch):
            mismatches.extend(batch)
        completed[0] += 1

    loop = asyncio.get_running_loop()
    tasks = []
    for index in range(10_000):
        batch = rng.sample(keys, rng.choice((1, 1, 1, 3, 8)))
        timeout = rng.choice((None, None, 1.0, 0.0005))
        task = loop.create_task(fetch(batch, timeout))
        if rng.random() < 0.4:
            loop.call_later(rng.random() * 0.002, task.cancel)
        tasks.append(task)
        if index % 50 == 0:
            await asyncio.sleep(rng.random() * 0.001)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    cancelled = sum(isinstance(o, asyncio.CancelledError) for o in outcomes)
    timed_out = sum(isinstance(o, TimeoutError) for o in outcomes)
    others = [
        o
        for o in outcomes
        if o is not None and not isinstance(o, (asyncio.CancelledError, TimeoutError))
    ]
    assert others == []
    assert mismatches == []
    assert cancelled > 1000
    assert completed[0] > 3000
    assert completed[0] + cancelled + timed_out == 10_000
    for key in keys:
        assert await _get(pool, key, timeout=1.0) == _value_of(key)
    await _wait_for(lambda: pool.metrics().requests_in_flight == 0, within=2.0)


@pytest.mark.asyncio
async def test_pool_survives_a_node_killed_mid_traffic(memcached, make_pool):
    """Killing the node fails pending requests fast and marks it unhealthy; a restart heals it."""
    health: list[bool] = []
    pool = make_pool(memcached, health.append, max_connections=2)
    await pool.execute(storage_command(b"set", b"k", b"v"))
    errors: list[tuple[float, BaseException]] = []
    successes: list[float] = []
    stop = False

    async def traffic() -> None:
        while not stop:
            try:
                value = await _get(pool, b"k", timeout=1.0)
                successes.append(time.monotonic())
                assert value in (b"v", None)  # None after the restart: the data is gone
            except (ConnectError, ConnectionLostError, TimeoutError) as exc:
                errors.append((time.monotonic(), exc))
                await asyncio.sleep(0.01)

    workers = [asyncio.ensure_future(traffic()) for _ in range(8)]
    await asyncio.sleep(0.2)
    killed_at = time.monotonic()
    memcached.kill()
    await _wait_for(lambda: health == [False], within=2.0)
    assert not pool.healthy
    first_failures = [at - killed_at for at, exc in errors if at >= killed_at][:8]
    assert first_failures
    assert max(first_failures) < 0.5
    assert not any(isinstance(exc, TimeoutError) for _, exc in errors)
    memcached.restart()
    restarted_at = time.monotonic()
    await _wait_for(lambda: health == [False, True], within=2.0)
    await _wait_for(lambda: successes[-1] > restarted_at, within=2.0)
    assert time.monotonic() - restarted_at < 2.0
    stop = True
    await asyncio.gather(*workers)
    assert pool.healthy


@pytest.mark.asyncio
async def test_pool_paused_node_times_callers_out_and_stays_aligned(memcached, make_pool):
    """Callers of a frozen node hit their own timeouts; after it resumes every reply matches."""
    pool = make_pool(memcached, max_connections=2)
    keys = [b"key-%d" % i for i in range(50)]
    for key in keys:
        await pool.execute(storage_command(b"set", key, _value_of(key)))
    memcached.pause()
    await asyncio.sleep(0.05)  # let SIGSTOP land
    try:
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(_get(pool, key, timeout=0.2 + i * 0.001) for i, key in enumerate(keys)),
            return_exceptions=True,
        )
        elapsed = time.monotonic() - started
    finally:
        memcached.resume()
    assert all(isinstance(o, TimeoutError) for o in outcomes)
    assert 0.2 <= elapsed < 1.0
    values = await asyncio.gather(*(_get(pool, key, timeout=2.0) for key in keys))
    assert values == [_value_of(key) for key in keys]
    await _wait_for(lambda: pool.metrics().requests_in_flight == 0, within=2.0)
    metrics = pool.metrics()
    assert metrics.connections_closed == 0  # connections that caught up serve again
    assert metrics.cur_connections == metrics.connections_created


@pytest.mark.asyncio
async def test_pool_fails_fast_when_the_node_is_unreachable(make_pool):
    """With nothing listening, requests fail with ConnectError at once, not at their timeout."""
    health: list[bool] = []
    pool = make_pool(MemcachedHostAddress("127.0.0.1", free_port()), health.append)
    started = time.monotonic()
    with pytest.raises(ConnectError):
        await _get(pool, b"k", timeout=5.0)
    with pytest.raises(ConnectError) as caught:
        await _get(pool, b"k", timeout=5.0)
    assert time.monotonic() - started < 0.5
    assert isinstance(caught.value.__cause__, OSError)
    assert health == [False]
    assert pool.metrics().connections_created_with_error >= 1


@pytest.mark.asyncio
async def test_pool_retry_loop_on_a_dead_node_does_not_starve_the_loop(make_pool):
    """A caller retrying in a tight loop still lets other tasks run while the node is down."""
    pool = make_pool(MemcachedHostAddress("127.0.0.1", free_port()))
    ticks = [0]

    async def ticker() -> None:
        for _ in range(20):
            ticks[0] += 1
            await asyncio.sleep(0)

    async def retrier() -> None:
        for _ in range(200):
            with contextlib.suppress(ConnectError):
                await _get(pool, b"k")

    await asyncio.gather(ticker(), retrier())
    assert ticks[0] == 20


@pytest.mark.asyncio
async def test_pool_connection_timeout_bounds_the_connect(memcached, make_pool):
    """A connect (setup step included) slower than connection_timeout fails with ConnectError."""

    async def stuck(conn) -> None:
        await asyncio.sleep(10)

    pool = make_pool(memcached, min_connections=0, connection_timeout=0.1, on_connect=stuck)
    started = time.monotonic()
    with pytest.raises(ConnectError, match="timed out"):
        await _get(pool, b"k", timeout=5.0)
    assert time.monotonic() - started < 1.0


@pytest.mark.asyncio
async def test_pool_closes_a_connection_whose_stream_is_garbled(make_pool):
    """A node that answers garbage fails the request with ServerProtocolError and is dropped."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b"HELLO THERE\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        pool = make_pool(MemcachedHostAddress("127.0.0.1", port), max_connections=1)
        with pytest.raises(ServerProtocolError, match="unparsable"):
            await _get(pool, b"k", timeout=2.0)
        await _wait_for(lambda: pool.metrics().connections_closed >= 1, within=1.0)
        assert pool.metrics().operations_executed_with_error == 1
        await pool.close()
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_pool_restores_min_connections_after_losing_them(memcached, make_pool):
    """min_connections are opened at start without traffic and reopened after the node restarts."""
    pool = make_pool(memcached, min_connections=2, max_connections=3)
    await _wait_for(lambda: pool.metrics().cur_connections == 2, within=1.0)
    memcached.restart()
    await _wait_for(lambda: pool.metrics().connections_closed == 2, within=1.0)
    await _wait_for(lambda: pool.metrics().cur_connections == 2, within=2.0)
    reply = await pool.execute(storage_command(b"set", b"k", b"v"), timeout=1.0)
    assert reply is Status.STORED


@pytest.mark.asyncio
async def test_pool_reports_an_unusable_address_as_connect_error(make_pool):
    """A port or host name that cannot even be tried fails with ConnectError, cause attached."""
    pool = make_pool(MemcachedHostAddress("127.0.0.1", 70000))
    with pytest.raises(ConnectError, match="port") as caught:
        await _get(pool, b"k", timeout=1.0)
    assert isinstance(caught.value.__cause__, OverflowError)


@pytest.mark.asyncio
async def test_pool_retries_an_unhealthy_node_without_traffic(memcached, make_pool):
    """An unhealthy node is retried in the background and reported healthy once it is back."""
    health: list[bool] = []
    pool = make_pool(memcached, health.append, min_connections=0)
    await _get(pool, b"k", timeout=1.0)
    memcached.kill()
    await _wait_for(lambda: pool.metrics().cur_connections == 0, within=1.0)
    with pytest.raises(ConnectError):
        await _get(pool, b"k", timeout=1.0)
    assert health == [False]
    memcached.restart()
    await _wait_for(lambda: health == [False, True], within=2.0)
    assert await _get(pool, b"k", timeout=1.0) is None


@pytest.mark.asyncio
async def test_pool_sets_aside_a_connection_that_stopped_answering(
    black_hole, make_pool, monkeypatch
):
    """After a timeout, a silent connection gets no new request and is abandoned later."""
    monkeypatch.setattr("emcache_pool._connections._STALLED_ABANDON_AFTER", 0.3)
    pool = make_pool(black_hole, max_connections=2)
    with pytest.raises(TimeoutError):
        await _get(pool, b"evil", timeout=0.1)
    values = await asyncio.gather(*(_get(pool, b"good", timeout=1.0) for _ in range(200)))
    assert values == [b"ok"] * 200
    assert pool.metrics().cur_connections == 2
    await _wait_for(lambda: pool.metrics().connections_closed == 1, within=2.0)
    assert await _get(pool, b"good", timeout=1.0) == b"ok"
    await pool.close()
