"""create_client with autodiscovery: a cache outage never stops an application from starting."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

import emcache
from emcache_testing import FakeConfigEndpoint, MemcachedNode
from node_endpoints import endpoint_of


class SilentProtocol(asyncio.Protocol):
    """Accepts a connection and never answers."""


@pytest_asyncio.fixture(name="silent_endpoint")
async def _silent_endpoint() -> AsyncIterator[emcache.MemcachedHostAddress]:
    """A TCP endpoint that accepts connections and never answers: a hung configuration endpoint."""
    transports: list[asyncio.BaseTransport] = []

    class Recording(SilentProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(transport)

    server = await asyncio.get_running_loop().create_server(Recording, "127.0.0.1", 0)
    yield emcache.MemcachedHostAddress("127.0.0.1", server.sockets[0].getsockname()[1])
    server.close()
    for transport in transports:
        transport.close()
    await server.wait_closed()


@pytest.mark.asyncio
async def test_create_client_starts_while_the_endpoint_hangs(
    silent_endpoint: emcache.MemcachedHostAddress, caplog: pytest.LogCaptureFixture
) -> None:
    """create_client returns within autodiscovery_timeout, warns, and operations say why."""
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        client = await emcache.create_client(
            [silent_endpoint], autodiscovery=True, autodiscovery_timeout=0.5
        )
    try:
        assert time.monotonic() - started < 1.0
        assert client.cluster_managment().nodes() == []
        with pytest.raises(emcache.ClusterNoAvailableNodes) as info:
            await client.get(b"key")
        message = str(info.value)
        assert message.startswith("autodiscovery has found no nodes yet: ")
        assert "did not answer `config get cluster` within 0.5 s" in message
        with pytest.raises(emcache.ClusterNoAvailableNodes):
            await client.get_many([b"a", b"b"])
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert any("starting with no nodes" in r.getMessage() for r in warnings)
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_create_client_uses_the_nodes_once_the_endpoint_answers(
    memcached: MemcachedNode, config_endpoint: FakeConfigEndpoint
) -> None:
    """After a failed first discovery, the next poll that succeeds brings the nodes into use."""
    assert memcached.port is not None
    config_endpoint.set_nodes([(memcached.host, memcached.port)])
    config_endpoint.mode = "error"
    client = await emcache.create_client(
        [endpoint_of(config_endpoint)],
        autodiscovery=True,
        autodiscovery_timeout=0.5,
        autodiscovery_poll_interval=0.1,
    )
    try:
        with pytest.raises(emcache.ClusterNoAvailableNodes, match="answered ERROR"):
            await client.set(b"key", b"value")
        config_endpoint.mode = "ok"
        deadline = time.monotonic() + 5.0
        while not client.cluster_managment().nodes():
            assert time.monotonic() < deadline, "the nodes were never discovered"
            await asyncio.sleep(0.02)
        await client.set(b"key", b"value")
        item = await client.get(b"key")
        assert item is not None
        assert item.value == b"value"
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_create_client_asks_the_next_endpoint_when_the_first_hangs(
    memcached: MemcachedNode,
    config_endpoint: FakeConfigEndpoint,
    silent_endpoint: emcache.MemcachedHostAddress,
) -> None:
    """One healthy configuration endpoint is enough, even listed after a hung one."""
    assert memcached.port is not None
    config_endpoint.set_nodes([(memcached.host, memcached.port)])
    started = time.monotonic()
    client = await emcache.create_client(
        [silent_endpoint, endpoint_of(config_endpoint)],
        autodiscovery=True,
        autodiscovery_timeout=2.0,
    )
    try:
        assert time.monotonic() - started < 1.8
        await client.set(b"key", b"value")
        assert client.cluster_managment().nodes() == [
            emcache.MemcachedHostAddress(memcached.host, memcached.port)
        ]
    finally:
        await client.close()
