"""Nodes do what they say, checked through real sockets and the process table."""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path

import pytest

from emcache_testing import (
    AsciiAuth,
    MemcachedLauncher,
    MemcachedNode,
    NodeError,
    TLSMaterial,
    free_port,
    make_tls_material,
)


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


def test_node_answers_on_loopback(memcached_node: MemcachedNode) -> None:
    """A node listens on 127.0.0.1 and answers version."""
    host, port = memcached_node.address
    assert host == "127.0.0.1"
    assert port > 0
    assert memcached_node.command_reply(b"version\r\n").startswith(b"VERSION 1.")


def test_cluster_nodes_have_distinct_ports_and_data(
    memcached_cluster_nodes: list[MemcachedNode],
) -> None:
    """Three nodes listen on three ports and keep separate items."""
    assert len({node.port for node in memcached_cluster_nodes}) == 3
    first, second, _ = memcached_cluster_nodes
    assert first.command_reply(b"set k 0 0 1\r\nx\r\n") == b"STORED\r\n"
    assert second.command_reply(b"get k\r\n", until=b"END\r\n") == b"END\r\n"


def test_unix_socket_node(memcached_unix_node: MemcachedNode) -> None:
    """A unix-socket node answers on its path, which only its owner may open."""
    path = memcached_unix_node.socket_path
    assert path is not None
    assert os.stat(path).st_mode & 0o077 == 0
    assert memcached_unix_node.command_reply(b"version\r\n").startswith(b"VERSION")


def test_ipv6_loopback_node(memcached_launcher: MemcachedLauncher) -> None:
    """A node can listen on ::1."""
    node = memcached_launcher.start(host="::1")[0]
    assert node.address_text.startswith("[::1]:")
    assert node.command_reply(b"version\r\n").startswith(b"VERSION")


def test_unix_socket_node_has_no_tcp_address(memcached_unix_node: MemcachedNode) -> None:
    """Asking a unix-socket node for a (host, port) address says where it listens instead."""
    with pytest.raises(ValueError, match="socket_path"):
        memcached_unix_node.address  # noqa: B018


def test_a_fixed_port_on_another_loopback_address(memcached_launcher: MemcachedLauncher) -> None:
    """A node can take a given port on any 127.x.y.z, e.g. 11211 where that is free."""
    free = free_port("127.0.0.3")
    node = memcached_launcher.start(host="127.0.0.3", port=free)[0]
    assert node.address == ("127.0.0.3", free)
    assert node.command_reply(b"version\r\n").startswith(b"VERSION")


def test_a_taken_fixed_port_is_an_error(
    memcached_launcher: MemcachedLauncher, memcached_node: MemcachedNode
) -> None:
    """Asking for a port another node holds fails with memcached's words, not a hang."""
    with pytest.raises(NodeError, match="in use"):
        memcached_launcher.start(port=memcached_node.port)
    with pytest.raises(ValueError, match="one node"):
        memcached_launcher.start(2, port=memcached_node.port)


@pytest.mark.parametrize("host", ["0.0.0.0", "localhost", "::", "10.0.0.1"])
def test_only_loopback_addresses_are_accepted(
    memcached_launcher: MemcachedLauncher, host: str
) -> None:
    """Nothing but 127.0.0.1 or ::1 is ever bound."""
    with pytest.raises(ValueError, match="loopback"):
        memcached_launcher.start(host=host)


@pytest.mark.parametrize("flag", ["-d", "-l", "--port=11211", "-s"])
def test_flags_the_node_sets_itself_are_refused(
    memcached_launcher: MemcachedLauncher, flag: str
) -> None:
    """A flag that would move the node off loopback or out of reach is refused."""
    with pytest.raises(ValueError, match="set by the node itself"):
        memcached_launcher.start(extra_args=[flag])


def test_node_options_pass_through(memcached_launcher: MemcachedLauncher) -> None:
    """Memory, threads, connections and extra flags reach memcached."""
    node = memcached_launcher.start(
        memory_mb=16, threads=3, max_connections=64, extra_args=["-I", "2m"]
    )[0]
    settings = node.stats("settings")
    assert settings["maxbytes"] == str(16 * 1024 * 1024)
    assert settings["num_threads"] == "3"
    assert settings["maxconns"] == "64"
    assert settings["item_size_max"] == str(2 * 1024 * 1024)


@pytest.mark.memcached_options(memory_mb=8, threads=1)
def test_marker_sets_the_options_of_the_fixtures(memcached_node: MemcachedNode) -> None:
    """memcached_options on a test reaches the nodes its fixtures start."""
    settings = memcached_node.stats("settings")
    assert settings["maxbytes"] == str(8 * 1024 * 1024)
    assert settings["num_threads"] == "1"


def test_kill_closes_the_port_and_reaps_the_process(memcached_node: MemcachedNode) -> None:
    """After kill() the process is gone and the port refuses connections."""
    pid = memcached_node.pid
    assert pid is not None
    memcached_node.kill()
    assert not memcached_node.is_running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(memcached_node.address, timeout=1).close()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_pause_is_confirmed_by_the_process_state(memcached_node: MemcachedNode) -> None:
    """pause() returns once the process is stopped; resume() once it runs again."""
    pid = memcached_node.pid
    assert pid is not None
    memcached_node.pause()
    assert _state(pid) in "Tt"
    assert memcached_node.is_paused
    memcached_node.resume()
    assert _state(pid) not in "Tt"
    assert not memcached_node.is_paused


def test_paused_node_answers_nothing_until_resumed(memcached_node: MemcachedNode) -> None:
    """A paused node keeps the connection open and answers the queued request on resume."""
    memcached_node.pause()
    with memcached_node.connect(timeout=0.3) as sock:
        sock.sendall(b"version\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(100)
        memcached_node.resume()
        sock.settimeout(2)
        assert sock.recv(100).startswith(b"VERSION")


def test_pause_of_a_killed_node_is_an_error(memcached_node: MemcachedNode) -> None:
    """Pausing a node that is not running says so instead of pretending."""
    memcached_node.kill()
    with pytest.raises(NodeError, match="not running"):
        memcached_node.pause()


def test_restart_comes_back_on_the_same_port_without_data(memcached_node: MemcachedNode) -> None:
    """restart() brings a new, empty process back on the same port."""
    port, pid = memcached_node.port, memcached_node.pid
    memcached_node.command_reply(b"set k 0 0 1\r\nx\r\n")
    memcached_node.restart()
    assert (memcached_node.port, memcached_node.pid != pid) == (port, True)
    assert memcached_node.command_reply(b"get k\r\n", until=b"END\r\n") == b"END\r\n"


def test_restart_after_kill(memcached_node: MemcachedNode) -> None:
    """A killed node can be brought back."""
    memcached_node.kill()
    memcached_node.restart()
    assert memcached_node.command_reply(b"version\r\n").startswith(b"VERSION")


def test_restart_of_a_unix_socket_node(memcached_unix_node: MemcachedNode) -> None:
    """A unix-socket node comes back on the same path."""
    path = memcached_unix_node.socket_path
    memcached_unix_node.restart()
    assert memcached_unix_node.socket_path == path
    assert memcached_unix_node.command_reply(b"version\r\n").startswith(b"VERSION")


def test_flush_and_stats(memcached_node: MemcachedNode) -> None:
    """stats() counts the items that flush() drops."""
    memcached_node.command_reply(b"set a 0 0 1\r\nx\r\n")
    memcached_node.command_reply(b"set b 0 0 1\r\nx\r\n")
    assert memcached_node.stats()["curr_items"] == "2"
    memcached_node.flush()
    assert memcached_node.command_reply(b"get a b\r\n", until=b"END\r\n") == b"END\r\n"


def test_tls_node_is_trusted_through_its_ca(memcached_tls_node: MemcachedNode) -> None:
    """The TLS node's certificate is signed by the exposed CA and by nothing the system trusts."""
    tls = memcached_tls_node.tls
    assert tls is not None
    assert tls.ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    address = memcached_tls_node.address
    with (
        socket.create_connection(address, timeout=2) as raw,
        tls.ssl_context().wrap_socket(raw, server_hostname=tls.hostname) as sock,
    ):
        sock.sendall(b"version\r\n")
        assert sock.recv(100).startswith(b"VERSION")
    with (
        socket.create_connection(address, timeout=2) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")


def test_auth_node_requires_its_credentials(memcached_auth_node: MemcachedNode) -> None:
    """An auth node refuses commands before auth; command_reply authenticates first."""
    auth = memcached_auth_node.auth
    assert auth is not None
    assert auth.password not in repr(memcached_auth_node)
    with memcached_auth_node.connect() as sock:
        sock.sendall(b"version\r\n")
        assert sock.recv(100).startswith(b"CLIENT_ERROR unauthenticated")
    assert memcached_auth_node.command_reply(b"version\r\n").startswith(b"VERSION")


def test_a_tls_node_whose_certificate_fails_checks_still_starts(
    memcached_launcher: MemcachedLauncher, tmp_path: Path
) -> None:
    """A certificate meant to fail a client's checks does not keep the node from starting."""
    material = make_tls_material(tmp_path)
    wrong_name = TLSMaterial(material.ca_file, material.cert_file, material.key_file, "elsewhere")
    node = memcached_launcher.start(tls=wrong_name)[0]
    assert node.command_reply(b"version\r\n").startswith(b"VERSION")
    with (
        socket.create_connection(node.address, timeout=2) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        wrong_name.ssl_context().wrap_socket(raw, server_hostname=wrong_name.hostname)


def test_tls_and_auth_together(memcached_launcher: MemcachedLauncher) -> None:
    """A node may serve TLS and require auth at once."""
    node = memcached_launcher.start(tls=True, auth=AsciiAuth("user", "pass"))[0]
    assert node.command_reply(b"version\r\n").startswith(b"VERSION")


def test_a_node_that_cannot_start_reports_memcached_s_words(
    memcached_launcher: MemcachedLauncher,
) -> None:
    """memcached's own complaint ends up in the error, without waiting for a timeout."""
    with pytest.raises(NodeError, match="exited"):
        memcached_launcher.start(extra_args=["--no-such-flag"])


def test_close_kills_every_node(memcached_binary: str) -> None:
    """close() leaves no process and no directory behind."""
    launcher = MemcachedLauncher(memcached_binary)
    nodes = launcher.start(2)
    pids = [node.pid for node in nodes]
    launcher.close()
    assert not launcher.workdir.exists()
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
