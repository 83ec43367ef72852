"""Fixtures of the emcache_pool tests: pools that close themselves, a fake transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from emcache_pool import (
    ConnectionPool,
    MemcachedHostAddress,
    MemcachedUnixSocketPath,
    PoolConfig,
)
from node_endpoints import endpoint_of

PoolFactory = Callable[..., ConnectionPool]


@pytest_asyncio.fixture(name="black_hole")
async def _black_hole() -> AsyncIterator[MemcachedHostAddress]:
    """A server answering `get good`; after `get evil` its connection reads on, never answering."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent = False
        while line := await reader.readline():
            silent = silent or line.startswith(b"get evil")
            if not silent:
                writer.write(b"VALUE good 0 2\r\nok\r\nEND\r\n")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield MemcachedHostAddress("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@pytest_asyncio.fixture(name="make_pool")
async def _make_pool() -> AsyncIterator[PoolFactory]:
    """Build pools with ``make_pool(node_or_endpoint, **config)``; all are closed at teardown."""
    pools: list[ConnectionPool] = []

    def make(target: Any, on_health_change: Any = None, **config: Any) -> ConnectionPool:
        endpoint = (
            target
            if isinstance(target, (MemcachedHostAddress, MemcachedUnixSocketPath))
            else endpoint_of(target)
        )
        pool = ConnectionPool(endpoint, PoolConfig(**config), on_health_change)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


class FakeTransport(asyncio.Transport):
    """Records writes; closing it calls ``connection_lost`` on the next loop iteration."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


@pytest.fixture(name="fake_transport")
def _fake_transport() -> Callable[[asyncio.Protocol], FakeTransport]:
    """Attach a :class:`FakeTransport` to a protocol with ``fake_transport(protocol)``."""

    def attach(protocol: asyncio.Protocol) -> FakeTransport:
        transport = FakeTransport(protocol)
        protocol.connection_made(transport)
        return transport

    return attach
