"""The emcache endpoint of a test node or fake server, for every suite of the workspace.

Nodes from emcache-testing know where they listen (``address`` for TCP,
``socket_path`` for a unix socket), and so do its fake servers; the client
packages take :class:`emcache_pool.MemcachedHostAddress` or
:class:`emcache_pool.MemcachedUnixSocketPath`. This is the one place that turns
the first into the second (emcache re-exports the same two classes). It needs
only emcache-pool, so the pool, cluster and facade tests and the integration
suites all share it.
"""

from __future__ import annotations

from typing import Protocol

from emcache_pool import MemcachedHostAddress, MemcachedUnixSocketPath

__all__ = ["endpoint_of"]


class Listening(Protocol):
    """Anything with a TCP ``address``: a node, a fake configuration endpoint, a proxy."""

    @property
    def address(self) -> tuple[str, int]: ...


def endpoint_of(target: Listening) -> MemcachedHostAddress | MemcachedUnixSocketPath:
    """The endpoint a client uses to reach ``target`` (a unix-socket node by its path)."""
    socket_path: str | None = getattr(target, "socket_path", None)
    if socket_path is not None:
        return MemcachedUnixSocketPath(socket_path)
    return MemcachedHostAddress(*target.address)
