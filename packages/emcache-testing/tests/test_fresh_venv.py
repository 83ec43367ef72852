"""Installing the distribution into a fresh virtual environment is all a user needs.

The check builds the package from this directory with pip, installs it into a
new virtual environment that holds nothing else of this repository, and runs
a small user test file there: pytest finds the plugin through its entry point,
and the fixtures start real nodes. It takes a few seconds with pip's cache
warm and needs the package index (or its cache) for pytest and trustme.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent

# A user's tests that know nothing of emcache: plain sockets and the fixtures.
USER_TESTS = textwrap.dedent(
    """
    import socket

    import pytest


    def ask(address, request, until=b"\\r\\n", ssl_context=None):
        with socket.create_connection(address, timeout=2) as sock:
            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock, server_hostname="localhost")
            sock.sendall(request)
            data = b""
            while not data.endswith(until):
                data += sock.recv(4096)
            return data


    def test_set_then_get(memcached_node):
        stored = ask(memcached_node.address, b"set greeting 0 0 5\\r\\nhello\\r\\n")
        assert stored == b"STORED\\r\\n"
        reply = ask(memcached_node.address, b"get greeting\\r\\n", until=b"END\\r\\n")
        assert reply == b"VALUE greeting 0 5\\r\\nhello\\r\\nEND\\r\\n"


    def test_a_killed_node_refuses_connections(memcached_cluster_nodes):
        down, up, _ = memcached_cluster_nodes
        down.kill()
        with pytest.raises(ConnectionRefusedError):
            ask(down.address, b"version\\r\\n")
        assert ask(up.address, b"version\\r\\n").startswith(b"VERSION")


    def test_tls_node(memcached_tls_node):
        context = memcached_tls_node.tls.ssl_context()
        reply = ask(memcached_tls_node.address, b"version\\r\\n", ssl_context=context)
        assert reply.startswith(b"VERSION")


    def test_auth_node(memcached_auth_node):
        assert memcached_auth_node.command_reply(b"version\\r\\n").startswith(b"VERSION")
        assert memcached_auth_node.auth.username == "emcache-testing"


    def test_autodiscovery_endpoint(memcached_config_endpoint, memcached_node):
        memcached_config_endpoint.set_nodes([memcached_node.address])
        reply = ask(memcached_config_endpoint.address, b"config get cluster\\r\\n", b"END\\r\\n")
        assert b"127.0.0.1|127.0.0.1|%d" % memcached_node.port in reply
    """
)


_PROBE = (
    "import importlib.util as u; "
    "print(sorted(n for n in ('emcache', 'emcache_protocol', 'emcache_pool', "
    "'emcache_auth', 'emcache_cluster', 'emcache_hashing', 'emcache_tools', "
    "'emcache_testing', 'trustme', 'pytest') if u.find_spec(n)))"
)


def _fresh_venv(home: Path) -> Path:
    """A new virtual environment with this package installed by pip, and nothing else of ours."""
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", str(PACKAGE)],
        check=True,
        timeout=300,
    )
    return python


def test_a_user_test_file_runs_against_real_nodes(tmp_path: Path, memcached_binary: str) -> None:
    """In a fresh environment with only this package, pytest finds the plugin and the tests pass."""
    python = _fresh_venv(tmp_path / "venv")
    found = subprocess.run([python, "-I", "-c", _PROBE], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "['emcache_testing', 'pytest', 'trustme']"
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_my_cache.py").write_text(USER_TESTS)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.pop("PYTHONPATH", None)
    env["EMCACHE_TESTING_MEMCACHED"] = memcached_binary
    done = subprocess.run(
        [python, "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(done.stdout)  # the user's session, shown with -s or -rP
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    assert "emcache-testing 0.1.0: memcached" in done.stdout
