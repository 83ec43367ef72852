"""Where a memcached node listens: a TCP address or a unix socket path.

Both are frozen attrs classes, so they hash and compare by value and can key dictionaries
(the cluster keys its pools and metrics by endpoint).
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

__all__ = ["Endpoint", "MemcachedHostAddress", "MemcachedUnixSocketPath", "endpoint_text"]


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


def endpoint_text(endpoint: Endpoint) -> str:
    """Return where ``endpoint`` listens as people write it, for messages and logs.

    ``host:port`` for TCP, with an IPv6 address in brackets (``[::1]:11211``) so the
    port cannot be read as part of it, and the path for a unix socket.

    Args:
        endpoint: The node.

    Returns:
        The text, e.g. ``"10.0.0.1:11211"``, ``"[::1]:11211"`` or ``"/run/mc.sock"``.
    """
    if isinstance(endpoint, MemcachedHostAddress):
        if ":" in endpoint.address:
            return f"[{endpoint.address}]:{endpoint.port}"
        return f"{endpoint.address}:{endpoint.port}"
    return endpoint.path
