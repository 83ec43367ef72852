"""Meta requests through the pool: the support check, quiet batches, and their cancellation."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

import pytest

from emcache_pool import ConnectionPool, MemcachedHostAddress
from emcache_pool.errors import MetaNotSupportedError, PoolClosedError
from emcache_protocol import (
    MetaResult,
    MetaStatus,
    meta_batch_command,
    meta_get_command,
    meta_set_command,
)
from emcache_testing import Act, DelayProxy, HostileServer
from emcache_testing import Request as ServerRequest


def _is(command: bytes) -> Callable[[ServerRequest], bool]:
    def match(request: ServerRequest) -> bool:
        return request.command == command

    return match


def _mn_count(server: HostileServer) -> int:
    return sum(r.command == b"mn" for conn in server.connections for r in conn.requests)


@pytest.mark.asyncio
async def test_pool_require_meta_passes_on_memcached(memcached, make_pool):
    """memcached 1.6.18 speaks meta: the check passes once, and later calls send nothing."""
    pool: ConnectionPool = make_pool(memcached)
    assert pool.meta_supported is None
    await pool.require_meta(timeout=2.0)
    assert pool.meta_supported is True
    executed = pool.metrics().operations_executed
    await pool.require_meta(timeout=2.0)
    assert pool.metrics().operations_executed == executed


@pytest.mark.asyncio
async def test_pool_require_meta_refuses_a_server_without_meta(make_pool):
    """A server that answers ERROR to mn gets a typed error, once asked and then from memory."""
    async with HostileServer() as server:  # answers ERROR to what it does not know
        pool: ConnectionPool = make_pool(MemcachedHostAddress(server.host, server.port))
        with pytest.raises(MetaNotSupportedError, match="does not know the meta commands"):
            await pool.require_meta(timeout=2.0)
        assert pool.meta_supported is False
        with pytest.raises(MetaNotSupportedError):
            await pool.require_meta(timeout=2.0)
        assert _mn_count(server) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("version", [b"1.6.6", b"1.6.9", b"1.5.22"])
async def test_pool_require_meta_refuses_the_old_dialect(make_pool, version):
    """memcached before 1.6.10 answers MN but speaks an older meta dialect: refused."""
    async with HostileServer() as server:
        server.attack(_is(b"mn"), [Act(b"MN\r\n")], times=None)
        server.attack(_is(b"version"), [Act(b"VERSION %s\r\n" % version)], times=None)
        pool: ConnectionPool = make_pool(MemcachedHostAddress(server.host, server.port))
        with pytest.raises(MetaNotSupportedError) as raised:
            await pool.require_meta(timeout=2.0)
        assert raised.value.version == version.decode()
        assert "1.6.10" in str(raised.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("version", [b"1.6.10", b"1.6.39", b"2.0.0", b"proxy-3"])
async def test_pool_require_meta_accepts_newer_or_unknown_versions(make_pool, version):
    """MN and a version from 1.6.10 on, or one that is not memcached's, pass."""
    async with HostileServer() as server:
        server.attack(_is(b"mn"), [Act(b"MN\r\n")], times=None)
        server.attack(_is(b"version"), [Act(b"VERSION %s\r\n" % version)], times=None)
        pool: ConnectionPool = make_pool(MemcachedHostAddress(server.host, server.port))
        await pool.require_meta(timeout=2.0)
        assert pool.meta_supported is True


@pytest.mark.asyncio
async def test_pool_require_meta_shares_one_check(make_pool):
    """Many callers at once: one mn goes out, and all of them learn the answer."""
    async with HostileServer() as server:
        server.attack(_is(b"mn"), [Act(b"MN\r\n", delay=0.1)], times=None)
        pool: ConnectionPool = make_pool(MemcachedHostAddress(server.host, server.port))
        await asyncio.gather(*(pool.require_meta(timeout=2.0) for _ in range(20)))
        assert _mn_count(server) == 1


@pytest.mark.asyncio
async def test_pool_require_meta_tries_again_after_a_timeout(make_pool):
    """A check that timed out is not an answer: the next call asks again."""
    async with HostileServer() as server:
        server.attack(_is(b"mn"), [Act(b"MN\r\n", delay=0.5)], times=1)
        server.attack(_is(b"mn"), [Act(b"MN\r\n")], times=None)
        pool: ConnectionPool = make_pool(MemcachedHostAddress(server.host, server.port))
        with pytest.raises(TimeoutError):
            await pool.require_meta(timeout=0.1)
        assert pool.meta_supported is None
        await pool.require_meta(timeout=2.0)
        assert pool.meta_supported is True


@pytest.mark.asyncio
async def test_pool_close_stops_a_meta_check(make_pool):
    """Closing the pool ends a check in flight: its caller gets PoolClosedError at once."""
    async with HostileServer() as server:
        server.attack(_is(b"mn"), [Act(b"MN\r\n", delay=5.0)], times=None)
        pool: ConnectionPool = make_pool(MemcachedHostAddress(server.host, server.port))
        check = asyncio.ensure_future(pool.require_meta())
        await asyncio.sleep(0.1)
        await pool.close()
        with pytest.raises(PoolClosedError):
            await asyncio.wait_for(check, 2.0)
        assert pool.meta_supported is None


@pytest.mark.asyncio
async def test_pool_runs_a_quiet_batch_as_one_request(memcached, make_pool):
    """A batch of sets and gets through the pool: one entry per request, misses silent."""
    pool: ConnectionPool = make_pool(memcached)
    await pool.require_meta(timeout=2.0)
    sets = [meta_set_command(b"k%d" % i, b"v%d" % i) for i in range(50)]
    assert await pool.execute(meta_batch_command(sets), timeout=2.0) == [None] * 50
    gets = [meta_get_command(b"k%d" % i) for i in range(0, 100, 2)]
    replies = await pool.execute(meta_batch_command(gets), timeout=2.0)
    assert isinstance(replies, list)
    for i, reply in zip(range(0, 100, 2), replies, strict=True):
        if i < 50:
            assert reply == MetaResult(MetaStatus.VA, value=b"v%d" % i, opaque=b"%d" % (i // 2))
        else:
            assert reply is None


@pytest.mark.asyncio
async def test_pool_cancelled_batch_reply_goes_to_nobody(memcached, make_pool):
    """A batch whose caller gave up is read and dropped; the next caller gets its own reply."""
    pool: ConnectionPool = make_pool(memcached, max_connections=1)
    await pool.require_meta(timeout=2.0)
    await pool.execute(meta_set_command(b"mine", b"value"), timeout=2.0)
    batch = meta_batch_command([meta_set_command(b"b%d" % i, b"x" * 1000) for i in range(500)])
    task = asyncio.ensure_future(pool.execute(batch, timeout=2.0))
    await asyncio.sleep(0)
    task.cancel()
    reply = await pool.execute(meta_get_command(b"mine"), timeout=2.0)
    assert reply == MetaResult(MetaStatus.VA, value=b"value")
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
async def test_pool_given_up_batch_pins_its_keys(memcached, make_pool):
    """A timed-out batch held back on the network lands before the next write of its keys."""
    holding = True

    def delay(connection_number: int) -> float:
        return 0.3 if holding else 0.0

    async with DelayProxy(memcached.host, memcached.port, delay) as proxy:
        pool = make_pool(MemcachedHostAddress("127.0.0.1", proxy.port), min_connections=2)
        async with asyncio.timeout(2.0):
            while pool.metrics().cur_connections < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        keys = [b"a", b"b", b"c"]
        first = meta_batch_command([meta_set_command(key, b"first") for key in keys])
        with pytest.raises(TimeoutError):
            await pool.execute(first, timeout=0.05, key=keys)
        holding = False
        second = meta_set_command(b"c", b"second")
        assert await pool.execute(second, timeout=2.0, key=b"c") == MetaResult(MetaStatus.HD)
        await asyncio.sleep(0.4)  # anything still held back has reached the node by now
        reply = await pool.execute(meta_get_command(b"c"), timeout=2.0)
        assert reply == MetaResult(MetaStatus.VA, value=b"second")


@pytest.mark.asyncio
async def test_pool_tls_batches_do_not_stall(memcached_tls, make_pool, caplog):
    """Over TLS, batches of many values get their MN without the stall nudge's help.

    memcached before 1.6.39 leaves the end of a TLS record unread when a data block ends
    inside it; a batch is written in pieces of whole commands, so no record does.
    """
    context = ssl.create_default_context(cafile=str(memcached_tls.tls.ca_file))
    endpoint = MemcachedHostAddress(memcached_tls.host, memcached_tls.port)
    pool: ConnectionPool = make_pool(endpoint, ssl_context=context, server_hostname="localhost")
    await pool.require_meta(timeout=2.0)
    with caplog.at_level(logging.DEBUG, logger="emcache"):
        for size in (10, 100, 1000, 5000):
            sets = [meta_set_command(b"k%d" % i, b"x" * size) for i in range(300)]
            for _ in range(5):
                assert await pool.execute(meta_batch_command(sets), timeout=5.0) == [None] * 300
    assert not [r for r in caplog.records if "nudging" in r.getMessage()]
