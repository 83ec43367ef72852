"""Faults that used to hand callers the wrong reply, a stale value, or a hang.

Each test drives the facade against real memcached processes (through a
delaying proxy where the fault is on the network) and checks what every caller
saw: its own reply or a clear error, within a bound, and never a value older
than its own last acknowledged write.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time
import tracemalloc

import pytest

import emcache
from emcache_testing import Act, DelayProxy, HostileServer, MemcachedNode, Request
from tests_integration.helpers import ClientFactory, address


def _connector_tasks() -> list[asyncio.Task[object]]:
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith("emcache-pool connector") and not task.done()
    ]


class TestUnauthenticatedBurst:
    """A server requiring auth answers a burst with one line: every caller must learn why."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("callers", [20, 100])
    @pytest.mark.parametrize("timeout", [None, 1.0])
    @pytest.mark.parametrize("max_connections", [1, 2])
    @pytest.mark.parametrize("autobatching", [False, True])
    async def test_every_caller_gets_authentication_error_at_once(
        self,
        memcached_auth: MemcachedNode,
        make_client: ClientFactory,
        callers: int,
        timeout: float | None,  # noqa: ASYNC109 - the client option under test
        max_connections: int,
        autobatching: bool,
    ) -> None:
        """Concurrent gets without credentials all fail with AuthenticationError, fast."""
        client = await make_client(
            [memcached_auth],
            timeout=timeout,
            max_connections=max_connections,
            autobatching=autobatching,
        )
        for _ in range(3):
            started = time.monotonic()
            async with asyncio.timeout(5.0):  # a hang fails here, not at the suite's timeout
                outcomes = await asyncio.gather(
                    *(client.get(b"key-%d" % i) for i in range(callers)), return_exceptions=True
                )
            waited = time.monotonic() - started
            kinds = {type(outcome).__name__ for outcome in outcomes}
            assert all(isinstance(o, emcache.AuthenticationError) for o in outcomes), kinds
            assert waited < 0.5, f"the callers waited {waited:.2f} s"


class TestWriteOrder:
    """A write its caller gave up on never lands after that caller's next acknowledged write."""

    @pytest.mark.asyncio
    async def test_storm_of_given_up_writes_leaves_no_stale_value(
        self, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """Random delays, timeouts and cancellations: no read older than the last ack."""
        rng = random.Random(1414)

        def delay(connection_number: int) -> float:
            return 0.12 if rng.random() < 0.15 else 0.0

        async with DelayProxy(memcached.host, memcached.port, delay) as proxy:
            node = emcache.MemcachedHostAddress("127.0.0.1", proxy.port)
            client = await emcache.create_client([node], timeout=0.05, max_connections=4)
            acked: dict[bytes, int] = {}
            counts = {"acked": 0, "given_up": 0, "stale_reads": 0, "reads": 0}
            stale: list[tuple[bytes, int, int]] = []

            async def writer(worker: int) -> None:
                keys = [b"order-%d-%d" % (worker, i) for i in range(3)]
                version = 0
                deadline = time.monotonic() + 3.0
                while time.monotonic() < deadline:
                    key = rng.choice(keys)
                    version += 1
                    write = client.set(key, b"%d" % version)
                    try:
                        if rng.random() < 0.2:
                            await asyncio.wait_for(write, rng.uniform(0.0, 0.03))
                        else:
                            await write
                    except (TimeoutError, emcache.ConnectionFailedError):
                        counts["given_up"] += 1
                        continue
                    counts["acked"] += 1
                    acked[key] = version
                    try:
                        item = await client.get(key)
                    except (TimeoutError, emcache.ConnectionFailedError):
                        continue
                    counts["reads"] += 1
                    if item is not None and int(item.value) < acked[key]:
                        stale.append((key, int(item.value), acked[key]))

            try:
                await asyncio.gather(*(writer(worker) for worker in range(16)))
                await asyncio.sleep(0.5)  # every held-back request has reached the node
            finally:
                await client.close()
        direct = await make_client([memcached])
        for key, version in acked.items():
            item = await direct.get(key)
            assert item is not None
            if int(item.value) < version:
                stale.append((key, int(item.value), version))
        assert counts["acked"] > 100, counts
        assert counts["given_up"] > 50, counts
        assert not stale, f"{len(stale)} stale values (key, read, last acked): {stale[:5]}"


class TestClose:
    """close() interrupted by a cancellation is finished by itself or by the next call."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("iterations", [0, 1, 2, 3, 5, 8])
    async def test_cancelled_close_leaves_nothing_behind(
        self, memcached: MemcachedNode, iterations: int
    ) -> None:
        """Cancelled after n loop iterations, a later close() leaves no socket nor task."""
        client = await emcache.create_client([address(memcached)], timeout=None)
        await client.set(b"k", b"v")
        memcached.pause()
        try:
            in_flight = asyncio.ensure_future(client.get(b"k"))
            await asyncio.sleep(0.01)
            closing = asyncio.ensure_future(client.close())
            for _ in range(iterations):
                await asyncio.sleep(0)
            closing.cancel()
            await asyncio.gather(closing, return_exceptions=True)
            async with asyncio.timeout(3.0):
                await client.close()
        finally:
            memcached.resume()
        with pytest.raises((emcache.ClientClosedError, emcache.ConnectionFailedError)):
            await in_flight
        await asyncio.sleep(0.05)
        assert not _connector_tasks()
        pool_metrics = client.cluster_managment().connection_pool_metrics()
        assert all(m.cur_connections == 0 for m in pool_metrics.values())
        with pytest.raises(emcache.ClientClosedError):
            await client.get(b"k")


class TestNoreplyBackpressure:
    """noreply writes wait for the socket instead of queueing without bound."""

    @pytest.mark.asyncio
    async def test_noreply_flood_keeps_loop_running_and_memory_bounded(
        self, memcached: MemcachedNode, make_client: ClientFactory
    ) -> None:
        """100k noreply sets: a 10 ms ticker is never late by 100 ms, under 16 MB queued."""
        client = await make_client([memcached], max_connections=1)
        late: list[float] = []
        running = True

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            while running:
                before = loop.time()
                await asyncio.sleep(0.01)
                late.append(loop.time() - before - 0.01)

        value = b"x" * 100

        async def flood() -> None:
            for i in range(100_000):
                await client.set(b"flood-%d" % (i % 1000), value, noreply=True)

        gc.collect()  # a collection of earlier tests' garbage is not the client's stall
        tick = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.02)
        try:
            await flood()
        finally:
            running = False
            await tick
        # Memory is measured in a second round: tracing slows every allocation down.
        tracemalloc.start()
        try:
            await flood()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert await client.get(b"flood-999") is not None
        assert peak < 16 << 20, f"peak {peak / 2**20:.1f} MB queued"
        assert max(late) < 0.1, f"the ticker was {max(late) * 1000:.0f} ms late"


class TestUnexpectedBytes:
    """Bytes nobody asked for close the connection, and the log says why."""

    @pytest.mark.asyncio
    async def test_bytes_after_a_reply_close_the_connection_with_a_warning(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Garbage right after END in the same packet: dropped connection, a logged reason."""

        def script(request: Request, honest: bytes) -> list[Act]:
            return [Act(honest + b"GARBAGE\r\n")]

        async with HostileServer() as server:
            node = emcache.MemcachedHostAddress(server.host, server.port)
            client = await emcache.create_client([node], timeout=1.0)
            try:
                await client.set(b"evil", b"value")
                server.attack(b"evil", script)
                with caplog.at_level(logging.WARNING):
                    item = await client.get(b"evil")
                    await asyncio.sleep(0.05)
                assert item is not None
                assert item.value == b"value"
                assert [c.closed_by_peer for c in server.connections] == [True, False]
                assert any("no request was waiting" in r.getMessage() for r in caplog.records)
            finally:
                await client.close()
