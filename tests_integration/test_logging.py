"""No log line per operation above DEBUG: operations, misses and refusals log nothing.

Above DEBUG, emcache logs events of nodes and connections (a node turning
unreachable, a connection closed for a protocol error, a node list change), so a
failing node yields a few lines, not one per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

import emcache
from emcache_testing import MemcachedLauncher, MemcachedNode
from tests_integration.helpers import ClientFactory, address

pytestmark = pytest.mark.asyncio


def _above_debug(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("emcache") and r.levelno > logging.DEBUG]


async def test_commands_log_nothing_above_debug(
    memcached_cluster: list[MemcachedNode],
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Hundreds of commands (hits, misses, refusals, batches) log no line above DEBUG."""
    client = await make_client(memcached_cluster)
    batching = await make_client(memcached_cluster, autobatching=True)
    node = address(memcached_cluster[0])
    with caplog.at_level(logging.DEBUG, logger="emcache"):
        for i in range(100):
            key = b"key-%d" % i
            await client.set(key, b"value", noreply=i % 2 == 0)
            await client.get(key)
            await client.get(b"missing-%d" % i)
            await client.increment(b"counter", 1, noreply=True)
            with contextlib.suppress(emcache.NotStoredStorageCommandError):
                await client.add(key, b"again")
            with contextlib.suppress(emcache.NotFoundCommandError):
                await client.delete(b"missing-%d" % i)
        await client.get_many([b"key-%d" % i for i in range(100)])
        await asyncio.gather(*(batching.get(b"key-%d" % i) for i in range(100)))
        await client.stats(node)
        await client.version(node)
    assert _above_debug(caplog) == []


async def test_a_dead_node_logs_events_not_requests(
    launcher: MemcachedLauncher, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Requests to a dead node fail without a line each: the node's fall is logged once."""
    [node] = launcher.start(1)
    client = await make_client([node], timeout=0.2, connection_timeout=0.2)
    await client.set(b"k", b"v")
    with caplog.at_level(logging.DEBUG, logger="emcache"):
        node.kill()
        for _ in range(200):
            with contextlib.suppress(emcache.CacheUnavailableError):
                await client.get(b"k")
    lines = _above_debug(caplog)
    assert 1 <= len(lines) <= 5, [r.getMessage() for r in lines]
    where = f"{node.host}:{node.port}"
    assert any(where in record.getMessage() for record in lines)
