"""Server: the host, port and weight a peer client hashes, and the node id answered."""

from __future__ import annotations

import pytest

from emcache_hashing import Server
from emcache_hashing._servers import to_server


class HostAddress:
    """Looks like emcache_pool's MemcachedHostAddress."""

    def __init__(self, address: str, port: int) -> None:
        self.address = address
        self.port = port


class UnixSocketPath:
    """Looks like emcache_pool's MemcachedUnixSocketPath."""

    def __init__(self, path: str) -> None:
        self.path = path


def test_server_node_id_is_emcache_s() -> None:
    """A TCP server's id is host then port with no separator; a unix socket's is its path."""
    assert Server("10.0.0.1", 11211).node_id == "10.0.0.111211"
    assert Server("::1", 11212).node_id == "::111212"
    assert Server.unix("/run/memcached.sock").node_id == "/run/memcached.sock"


def test_server_defaults_to_port_11211_and_weight_1() -> None:
    """Only the host is required; a unix server has port 0."""
    assert Server("cache-1") == ("cache-1", 11211, 1)
    assert Server.unix("/run/mc.sock", weight=3) == ("/run/mc.sock", 0, 3)
    assert Server.unix("/run/mc.sock").is_unix
    assert not Server("cache-1").is_unix


def test_server_from_endpoint_reads_address_and_port_or_path() -> None:
    """Endpoint-like objects become servers without importing emcache_pool."""
    assert Server.from_endpoint(HostAddress("10.0.0.1", 11212)) == ("10.0.0.1", 11212, 1)
    assert Server.from_endpoint(HostAddress("10.0.0.1", 11212), weight=2).weight == 2
    assert Server.from_endpoint(UnixSocketPath("/run/mc.sock")) == ("/run/mc.sock", 0, 1)
    with pytest.raises(TypeError, match="not an endpoint"):
        Server.from_endpoint(object())


def test_to_server_accepts_tuples_of_two_or_three_fields() -> None:
    """A (host, port) or (host, port, weight) tuple becomes a Server; a Server stays itself."""
    server = Server("a", 1)
    assert to_server(server) is server
    assert to_server(("a", 2)) == Server("a", 2, 1)
    assert to_server(("a", 2, 5)) == Server("a", 2, 5)
    assert isinstance(to_server(("a", 2)), Server)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("10.0.0.1:11211", TypeError, "tuple"),
        (("a",), TypeError, "tuple"),
        (("a", 1, 1, 1), TypeError, "tuple"),
        ((b"a", 1), TypeError, "host must be a str"),
        (("a", "11211"), TypeError, "port must be an int"),
        (("a", True), TypeError, "port must be an int"),
        (("a", 1, 1.5), TypeError, "weight must be an int"),
        (("", 1), ValueError, "empty"),
        (("a", -1), ValueError, "0..65535"),
        (("a", 65536), ValueError, "0..65535"),
        (("a", 1, 0), ValueError, "weight must be 1 or more"),
    ],
)
def test_to_server_rejects_bad_servers(value: object, error: type[Exception], match: str) -> None:
    """A string, a wrong shape or a bad field raises, naming what is wrong."""
    with pytest.raises(error, match=match):
        to_server(value)
