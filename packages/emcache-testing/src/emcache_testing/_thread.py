"""Running an asyncio test server in a thread of its own.

The fake servers of this package are asyncio servers. In the test's own event
loop they are used with ``async with``; a test that has no asyncio loop (a
synchronous client, trio, a plain sync fixture) runs them here instead: a
private loop in a daemon thread serves the sockets, and the test thread reads
and changes the server's plain attributes and calls its plain methods
(``set_nodes``, ``mode``, ``attack``, ``clear``...), which only touch Python
objects that the serving loop reads on its next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

__all__ = ["AsyncServer", "serve_in_thread"]

_TIMEOUT = 10.0


class AsyncServer(Protocol):
    """A server started and closed by coroutines, as the fake servers of this package are."""

    async def start(self) -> Any: ...

    async def close(self) -> None: ...


S = TypeVar("S", bound=AsyncServer)


@contextlib.contextmanager
def serve_in_thread(server: S) -> Iterator[S]:
    """Start ``server`` on an event loop in a daemon thread; close it on exit.

    Example::

        with serve_in_thread(FakeConfigEndpoint([node.address])) as endpoint:
            endpoint.set_nodes([])
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="emcache-testing-server", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(_TIMEOUT)
        try:
            yield server
        finally:
            asyncio.run_coroutine_threadsafe(server.close(), loop).result(_TIMEOUT)
            asyncio.run_coroutine_threadsafe(_cancel_the_rest(), loop).result(_TIMEOUT)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_TIMEOUT)
        loop.close()


async def _cancel_the_rest() -> None:
    """Cancel what the server left running, so that no task is destroyed pending."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
