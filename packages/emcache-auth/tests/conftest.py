"""Fixtures of the emcache_auth tests.

The pool is not a dependency of this package, so the tests talk to memcached
through :class:`StreamChannel`: the smallest command channel there is, one
request at a time over asyncio streams, with replies parsed by emcache_protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest_asyncio

from emcache_protocol import NEED_DATA, ErrorReply, Request, ResponseParser
from emcache_testing import MemcachedNode

T = TypeVar("T")


class StreamChannel:
    """Sends one request at a time on an asyncio stream and returns its parsed reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = ResponseParser()

    async def execute(self, request: Request[T]) -> T | ErrorReply:
        """Send ``request`` and read until its reply is complete."""
        self._writer.write(request.data)
        await self._writer.drain()
        while (reply := self._parser.next_reply(request)) is NEED_DATA:
            data = await self._reader.read(65536)
            if not data:
                msg = "memcached closed the connection"
                raise ConnectionResetError(msg)
            self._parser.receive_data(data)
        return reply

    async def close(self) -> None:
        """Close the stream and wait until it is closed."""
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


Connect = Callable[..., Awaitable[StreamChannel]]


@pytest_asyncio.fixture(name="connect")
async def _connect() -> AsyncIterator[Connect]:
    """An async ``connect(node, ssl_context=None, server_hostname="localhost")`` for channels."""
    channels: list[StreamChannel] = []

    async def connect(
        node: MemcachedNode,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str = "localhost",
    ) -> StreamChannel:
        reader, writer = await asyncio.open_connection(
            node.host,
            node.port,
            ssl=ssl_context,
            server_hostname=server_hostname if ssl_context is not None else None,
        )
        channel = StreamChannel(reader, writer)
        channels.append(channel)
        return channel

    yield connect
    for channel in channels:
        await channel.close()
