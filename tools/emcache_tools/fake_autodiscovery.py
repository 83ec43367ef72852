"""A fake autodiscovery configuration endpoint (AWS ElastiCache / GCP Memorystore style).

An asyncio server on loopback that answers ``config get cluster`` with

    CONFIG cluster 0 <length>\\r\\n<version>\\n<host>|<ip>|<port> ...\\n\\r\\nEND\\r\\n

and every other command the way a memcached without that extension would not
know it: with ``ERROR``. A test changes the node list (which bumps the
version) or switches the endpoint into a faulty ``mode`` at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Literal

__all__ = ["FakeConfigEndpoint", "Mode"]

Mode = Literal["ok", "error", "garbage", "hang"]


class FakeConfigEndpoint:
    """Serve a node list; ``set_nodes`` bumps the version unless one is given."""

    def __init__(self, nodes: Iterable[tuple[str, int]] = (), *, version: int = 1) -> None:
        self.nodes: list[tuple[str, int]] = list(nodes)
        self.version = version
        self.mode: Mode = "ok"
        self.requests = 0
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._closing = asyncio.Event()

    async def start(self) -> FakeConfigEndpoint:
        self._closing.clear()
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening, end hanging answers and drop every open connection."""
        self._closing.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeConfigEndpoint:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def set_nodes(self, nodes: Iterable[tuple[str, int]], *, version: int | None = None) -> None:
        self.nodes = list(nodes)
        self.version = self.version + 1 if version is None else version

    def config_reply(self) -> bytes:
        body = b"%d\n" % self.version
        body += b" ".join(b"%s|%s|%d" % (h.encode(), h.encode(), p) for h, p in self.nodes) + b"\n"
        return b"CONFIG cluster 0 %d\r\n%s\r\nEND\r\n" % (len(body), body)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                await self._answer(line.strip(), writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter) -> None:
        if line != b"config get cluster":
            writer.write(b"ERROR\r\n")
        else:
            self.requests += 1
            if self.mode == "ok":
                writer.write(self.config_reply())
            elif self.mode == "error":
                writer.write(b"ERROR\r\n")
            elif self.mode == "garbage":
                writer.write(b"CONFIG cluster 0 5\r\nzz\r\n\r\nEND\r\n")
            elif self.mode == "hang":
                await self._closing.wait()
        await writer.drain()
