"""The life cycle the package's fake servers share: listen on a loopback port, then close.

:class:`FakeConfigEndpoint`, :class:`HostileServer` and :class:`DelayProxy`
differ in what they answer, not in how they start and stop: each listens on a
free loopback port (or the port it had, when started again), records the
writer of every connection it accepts, and on close stops listening, ends
whatever it still serves and drops those connections before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

__all__ = ["LoopbackServer"]


class LoopbackServer:
    """Base of a fake server; subclasses implement :meth:`_serve` for one connection.

    Attributes:
        host: The loopback address it listens on.
        port: The port, once started (kept when it is started again after close).
    """

    _read_limit = 1 << 16
    """The line limit of each connection's ``StreamReader``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._closing = asyncio.Event()

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``: what the client under test connects to."""
        return (self.host, self.port)

    async def start(self) -> Self:
        """Listen on a free loopback port, or on the port it had before a close.

        The port is bound here, in this process, so no other process can take it first.
        """
        self._closing.clear()
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=self._read_limit
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening, end what is being served and drop every connection."""
        self._closing.set()
        if self._server is not None:
            self._server.close()
        writers, self._writers = self._writers, []
        for writer in writers:
            writer.close()
        await self._stop_serving()
        for writer in writers:
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _track(self, writer: asyncio.StreamWriter) -> None:
        """Drop ``writer``'s connection on close (the accepted ones are tracked already)."""
        self._writers.append(writer)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track(writer)
        await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _stop_serving(self) -> None:
        """End the subclass's own work on close, after the connections are closed."""
