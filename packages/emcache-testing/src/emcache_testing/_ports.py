"""A loopback port on which nothing listens, for tests of refused connections.

Not for starting servers: a port found free here may be taken by the time a
child process binds it. Nodes choose their own ports (see ``_node.py``), and
the fake servers bind port 0 in this process and keep the socket.
"""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (connecting to it is refused)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port
