"""Where a memcached node listens: a TCP address or a unix socket path.

Both are frozen attrs classes, so they hash and compare by value and can key dictionaries
(the cluster keys its pools and metrics by endpoint).
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

__all__ = ["Endpoint", "MemcachedHostAddress", "MemcachedUnixSocketPath", "node_id"]


@attrs.frozen
class MemcachedHostAddress:
    """A node reached over TCP (optionally TLS).

    Attributes:
        address: Host name or IP address.
        port: TCP port.
    """

    address: str
    port: int


@attrs.frozen
class MemcachedUnixSocketPath:
    """A node reached over a unix domain socket.

    Attributes:
        path: Filesystem path of the socket.
    """

    path: str


Endpoint: TypeAlias = MemcachedHostAddress | MemcachedUnixSocketPath
"""Where a node listens: a host and port, or a unix socket path."""


def node_id(endpoint: Endpoint) -> str:
    """Return the node identifier used for key routing.

    It is the identifier of emcache 1.x: ``f"{address}{port}"`` (no separator) for TCP and the
    path for unix sockets, so that both clients route every key to the same node.

    Args:
        endpoint: The node.

    Returns:
        The identifier string.
    """
    if isinstance(endpoint, MemcachedHostAddress):
        return f"{endpoint.address}{endpoint.port}"
    return endpoint.path


def endpoint_text(endpoint: Endpoint) -> str:
    """Return a readable ``host:port`` or path, for messages and logs."""
    if isinstance(endpoint, MemcachedHostAddress):
        if ":" in endpoint.address:
            return f"[{endpoint.address}]:{endpoint.port}"
        return f"{endpoint.address}:{endpoint.port}"
    return endpoint.path
