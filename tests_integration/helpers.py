"""Helpers shared by the integration suites."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import emcache
from emcache_tools import MemcachedProcess

ClientFactory = Callable[..., Awaitable[emcache.Client]]


def address(
    node: MemcachedProcess,
) -> emcache.MemcachedHostAddress | emcache.MemcachedUnixSocketPath:
    """The emcache address of a launcher node."""
    if node.socket_path is not None:
        return emcache.MemcachedUnixSocketPath(node.socket_path)
    assert node.port is not None
    return emcache.MemcachedHostAddress(node.host, node.port)
