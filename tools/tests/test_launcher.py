"""The memcached launcher does what it says, checked through real sockets."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from emcache_tools import FakeConfigEndpoint, MemcachedLauncher, MemcachedProcess
from emcache_tools.launcher import MemcachedNotInstalledError, find_memcached


def test_start_node_answers_version(memcached: MemcachedProcess) -> None:
    """A started node answers `version` on its loopback port."""
    assert memcached.host == "127.0.0.1"
    assert memcached.command_reply(b"version\r\n").startswith(b"VERSION 1.")


def test_start_cluster_uses_distinct_ports(memcached_cluster: list[MemcachedProcess]) -> None:
    """Three nodes listen on three different ports and keep separate data."""
    ports = {node.port for node in memcached_cluster}
    assert len(ports) == 3
    first, second, _ = memcached_cluster
    assert first.command_reply(b"set k 0 0 1\r\nx\r\n") == b"STORED\r\n"
    assert second.command_reply(b"get k\r\n", until=b"END\r\n") == b"END\r\n"


def test_ipv6_loopback_node(launcher: MemcachedLauncher) -> None:
    """A node can listen on ::1."""
    node = launcher.start(host="::1")[0]
    assert node.command_reply(b"version\r\n").startswith(b"VERSION")


def test_non_loopback_host_is_refused(launcher: MemcachedLauncher) -> None:
    """The launcher never binds anything but loopback."""
    with pytest.raises(ValueError, match="loopback"):
        launcher.start(host="0.0.0.0")


def test_unix_socket_node(memcached_unix: MemcachedProcess) -> None:
    """A unix-socket node answers on its path."""
    assert memcached_unix.socket_path is not None
    assert os.path.exists(memcached_unix.socket_path)
    assert memcached_unix.command_reply(b"version\r\n").startswith(b"VERSION")


def test_kill_closes_the_port(memcached: MemcachedProcess) -> None:
    """After SIGKILL nobody accepts on the port."""
    memcached.kill()
    assert not memcached.is_running
    with pytest.raises(OSError):
        socket.create_connection((memcached.host, memcached.port), timeout=1).close()


def test_restart_on_same_port_loses_data(memcached: MemcachedProcess) -> None:
    """restart() brings a fresh process back on the same port."""
    port, pid = memcached.port, memcached.pid
    memcached.command_reply(b"set k 0 0 1\r\nx\r\n")
    memcached.restart()
    assert memcached.port == port
    assert memcached.pid != pid
    assert memcached.command_reply(b"get k\r\n", until=b"END\r\n") == b"END\r\n"


def test_pause_stops_answers_and_resume_restores_them(memcached: MemcachedProcess) -> None:
    """SIGSTOP makes the node silent; SIGCONT lets it answer the queued request."""
    memcached.pause()
    with memcached.connect(timeout=0.3) as sock:
        sock.sendall(b"version\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(100)
        memcached.resume()
        sock.settimeout(2)
        assert sock.recv(100).startswith(b"VERSION")


def test_stop_terminates_every_process() -> None:
    """close() leaves no process behind."""
    launcher = MemcachedLauncher()
    nodes = launcher.start(2)
    pids = [node.pid for node in nodes]
    launcher.close()
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_tls_node_needs_the_ca(memcached_tls: MemcachedProcess) -> None:
    """A TLS node speaks TLS with a certificate signed by the trustme CA."""
    import ssl

    assert memcached_tls.tls is not None
    assert memcached_tls.command_reply(b"version\r\n").startswith(b"VERSION")
    untrusting = ssl.create_default_context()
    with (
        socket.create_connection((memcached_tls.host, memcached_tls.port), timeout=2) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusting.wrap_socket(raw, server_hostname="localhost")


def test_auth_node_requires_credentials(memcached_auth: MemcachedProcess) -> None:
    """An auth node refuses commands before auth and accepts them after."""
    with memcached_auth.connect() as sock:
        sock.sendall(b"version\r\n")
        assert sock.recv(100).startswith(b"CLIENT_ERROR unauthenticated")
    assert memcached_auth.command_reply(b"version\r\n").startswith(b"VERSION")


def test_missing_binary_gives_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without memcached the error says how to install it."""
    monkeypatch.setenv("MEMCACHED_BIN", "")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(os, "access", lambda *_: False)
    with pytest.raises(MemcachedNotInstalledError, match="apt-get install -y memcached"):
        find_memcached()


@pytest.mark.asyncio
async def test_fake_config_endpoint_serves_and_bumps_version() -> None:
    """The fake endpoint answers config get cluster and ERROR to anything else."""
    async with FakeConfigEndpoint([("127.0.0.1", 11211)]) as endpoint:
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
        writer.write(b"config get cluster\r\n")
        first = await reader.readuntil(b"END\r\n")
        assert b"\r\n1\n127.0.0.1|127.0.0.1|11211\n\r\nEND\r\n" in first
        endpoint.set_nodes([("127.0.0.1", 1), ("127.0.0.1", 2)])
        writer.write(b"config get cluster\r\n")
        second = await reader.readuntil(b"END\r\n")
        assert b"\r\n2\n127.0.0.1|127.0.0.1|1 127.0.0.1|127.0.0.1|2\n\r\n" in second
        writer.write(b"get foo\r\n")
        assert await reader.readline() == b"ERROR\r\n"
        writer.close()
        await writer.wait_closed()
