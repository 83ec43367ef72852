"""A TCP proxy on loopback that holds back the requests of chosen connections.

Strategy. Each accepted client connection gets its own upstream connection to
the node. Bytes from the node flow back untouched. Bytes from the client wait
in a queue per connection: each chunk goes upstream only after the delay that
``delay(connection_number)`` gave it when it arrived, and never before the
chunks ahead of it. One connection's order is kept while different connections
overtake each other, as a slow network path or a busy proxy makes them do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from emcache_testing._listening import LoopbackServer

__all__ = ["Delay", "DelayProxy"]

Delay = Callable[[int], float]
"""Seconds to hold back the next chunk of the ``n``-th accepted connection (from 0)."""


def _no_delay(connection_number: int) -> float:
    return 0.0


class DelayProxy(LoopbackServer):
    """Forwards a free loopback port to a node, delaying client-to-node chunks.

    Args:
        target_host: The node's address.
        target_port: The node's port.
        delay: See :data:`Delay`; may be replaced at any time through :attr:`delay`.

    Attributes:
        host: ``"127.0.0.1"``.
        port: The port the proxy listens on, once started.
        delay: The delay function in use.
        accepted: How many connections were accepted.
    """

    def __init__(self, target_host: str, target_port: int, delay: Delay = _no_delay) -> None:
        self._target = (target_host, target_port)
        self.delay = delay
        self.accepted = 0
        self._tasks: set[asyncio.Task[None]] = set()
        super().__init__()

    async def _stop_serving(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self.accepted
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._track(up_writer)
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self._spawn(_pump(up_reader, writer))
        self._spawn(_delayed_pump(queue, up_writer))
        loop = asyncio.get_running_loop()
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + self.delay(number), data))
        queue.put_nowait((0.0, b""))


async def _delayed_pump(
    queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(OSError):
        while (item := await queue.get())[1]:
            due, data = item
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
    writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
