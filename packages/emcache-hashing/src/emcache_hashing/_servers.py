"""How a hasher learns where a node is, and which id it answers with.

Rendezvous hashing as emcache 1.x does it only needs a node's id. The peer
clients' hashes need more: libmemcached's ketama hashes the host and port as it
was given them (and leaves the port out when it is 11211), pymemcache hashes
``"host:port"``. An id like emcache's ``"10.0.0.111211"`` cannot be split back
into host and port, so these hashers are built from :class:`Server` values and
answer with :attr:`Server.node_id`, the id the cluster already uses for its
connection pools (``f"{host}{port}"``, or the socket path).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Server", "ServerLike", "to_server"]

_DEFAULT_PORT = 11211


class Server(NamedTuple):
    """A memcached server as a peer client is given it: host, port and weight.

    A plain ``(host, port)`` or ``(host, port, weight)`` tuple is accepted
    wherever a ``Server`` is.

    Attributes:
        host: The host name or IP address, spelled exactly as the peer client
            is given it (``"localhost"`` and ``"127.0.0.1"`` hash differently;
            an IPv6 address goes without brackets), or the socket path when
            ``port`` is 0.
        port: The TCP port; 0 for a unix socket.
        weight: The server's relative share of keys, 1 or more. Only
            :class:`~emcache_hashing.Ketama` uses it.
    """

    host: str
    port: int = _DEFAULT_PORT
    weight: int = 1

    @classmethod
    def unix(cls, path: str, weight: int = 1) -> Server:
        """A server reached through the unix socket at ``path``."""
        return cls(path, 0, weight)

    @classmethod
    def from_endpoint(cls, endpoint: object, weight: int = 1) -> Server:
        """The server of an emcache endpoint, so that its node id is the cluster's.

        ``MemcachedHostAddress(address, port)`` becomes ``Server(address, port)``
        and ``MemcachedUnixSocketPath(path)`` becomes ``Server.unix(path)``; any
        object with those attributes works, nothing is imported.

        Raises:
            TypeError: ``endpoint`` has neither ``path`` nor ``address`` and ``port``.
        """
        path = getattr(endpoint, "path", None)
        if isinstance(path, str):
            return cls.unix(path, weight)
        address = getattr(endpoint, "address", None)
        port = getattr(endpoint, "port", None)
        if isinstance(address, str) and isinstance(port, int):
            return cls(address, port, weight)
        msg = f"not an endpoint (no path, nor address and port): {endpoint!r}"
        raise TypeError(msg)

    @property
    def is_unix(self) -> bool:
        """Whether the server is a unix socket (port 0, ``host`` is the path)."""
        return self.port == 0

    @property
    def node_id(self) -> str:
        """The id a hasher answers with: ``f"{host}{port}"``, or the socket path.

        It is emcache's node id for the same endpoint, no separator between
        host and port (``Server("10.0.0.1", 11211).node_id == "10.0.0.111211"``).
        """
        return self.host if self.port == 0 else f"{self.host}{self.port}"


ServerLike = Server | tuple[str, int] | tuple[str, int, int]
"""A :class:`Server`, or the tuple of its fields."""


def to_server(value: object) -> Server:
    """Return ``value`` as a checked :class:`Server`.

    Raises:
        TypeError: ``value`` is not a server nor a tuple of two or three fields,
            or a field has the wrong type.
        ValueError: The host is empty, the port is outside 0..65535 or the
            weight is below 1.
    """
    if not isinstance(value, tuple) or not 2 <= len(value) <= 3:
        msg = f"a server is a Server or a (host, port[, weight]) tuple, got {value!r}"
        raise TypeError(msg)
    fields: tuple[object, ...] = tuple(value)
    host, port, weight = fields if len(fields) == 3 else (*fields, 1)
    if not isinstance(host, str):
        msg = f"server host must be a str, got {type(host).__name__}"
        raise TypeError(msg)
    if not isinstance(port, int) or isinstance(port, bool):
        msg = f"server port must be an int, got {type(port).__name__}"
        raise TypeError(msg)
    if not isinstance(weight, int) or isinstance(weight, bool):
        msg = f"server weight must be an int, got {type(weight).__name__}"
        raise TypeError(msg)
    if not host:
        msg = "server host must not be empty"
        raise ValueError(msg)
    if not 0 <= port <= 0xFFFF:
        msg = f"server port must be in 0..65535 (0 for a unix socket), got {port}"
        raise ValueError(msg)
    if weight < 1:
        msg = f"server weight must be 1 or more, got {weight}"
        raise ValueError(msg)
    return value if isinstance(value, Server) else Server(host, port, weight)
