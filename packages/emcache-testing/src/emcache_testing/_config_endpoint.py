"""A fake autodiscovery configuration endpoint (ElastiCache / Memorystore style).

It answers ``config get cluster`` with

    CONFIG cluster 0 <length>\\r\\n<version>\\n<host>|<ip>|<port> ...\\n\\r\\nEND\\r\\n

and anything else with ``ERROR``, as a memcached without that extension does.
A test changes the node list (which bumps the version) or switches the
endpoint into a faulty :attr:`FakeConfigEndpoint.mode` while clients poll it.

It is an asyncio server: run it in the test's own event loop with
``async with FakeConfigEndpoint() as endpoint``, or in a thread of its own
with :func:`serve_in_thread` (the ``memcached_config_endpoint`` fixture does
that, so that it works whatever async library the test uses).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Literal

from emcache_testing._listening import LoopbackServer

__all__ = ["FakeConfigEndpoint", "Mode"]

Mode = Literal["ok", "error", "garbage", "hang"]
"""``ok`` answers the node list; ``error`` answers ``ERROR``; ``garbage`` answers
a reply that cannot be parsed; ``hang`` holds each request unanswered until the
mode changes or the endpoint closes (the held requests are never answered)."""


class FakeConfigEndpoint(LoopbackServer):
    """Serves a node list over ``config get cluster`` on a free loopback port.

    Args:
        nodes: ``(host, port)`` pairs, e.g. ``[node.address for node in nodes]``.
        version: The configuration version first served.

    Attributes:
        nodes: The node list served now.
        version: The version served now.
        mode: How the endpoint answers, see :data:`Mode`.
        requests: How many ``config get cluster`` requests arrived.
        host: ``"127.0.0.1"``.
        port: The port, once started.
    """

    def __init__(self, nodes: Iterable[tuple[str, int]] = (), *, version: int = 1) -> None:
        self.nodes: list[tuple[str, int]] = list(nodes)
        self.version = version
        self.mode: Mode = "ok"
        self.requests = 0
        super().__init__()

    def set_nodes(self, nodes: Iterable[tuple[str, int]], *, version: int | None = None) -> None:
        """Serve ``nodes`` from now on, under ``version`` or the current version plus one."""
        self.nodes = list(nodes)
        self.version = self.version + 1 if version is None else version

    def config_reply(self) -> bytes:
        """The reply to ``config get cluster`` in ``ok`` mode."""
        entries = b" ".join(b"%s|%s|%d" % (h.encode(), h.encode(), p) for h, p in self.nodes)
        body = b"%d\n%s\n" % (self.version, entries)
        return b"CONFIG cluster 0 %d\r\n%s\r\nEND\r\n" % (len(body), body)

    # -- serving -------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                reply = await self._reply(line.strip())
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _reply(self, line: bytes) -> bytes:
        if line != b"config get cluster":
            return b"ERROR\r\n"
        self.requests += 1
        if self.mode == "hang":
            # Polled rather than awaited: the mode may be changed from another thread.
            while self.mode == "hang" and not self._closing.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            return b""
        if self.mode == "error":
            return b"ERROR\r\n"
        if self.mode == "garbage":
            return b"CONFIG cluster 0 5\r\nzz\r\n\r\nEND\r\n"
        return self.config_reply()
