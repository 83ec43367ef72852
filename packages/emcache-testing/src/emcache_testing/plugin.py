"""The pytest plugin: fixtures with throwaway memcached nodes, and the options that find memcached.

Registered through the ``pytest11`` entry point, so installing the
distribution is enough. Every fixture name starts with ``memcached_`` so that
it does not take a name a project already uses for its own fixture (such as
``memcached`` or ``cache``).

Node fixtures are synchronous and function-scoped: a test may kill, pause or
restart its nodes without disturbing the next one, and they work the same
under pytest-asyncio, anyio, or no async plugin at all. The fake servers of
the fixtures run in a thread of their own for the same reason; a test that
wants them in its own event loop uses ``async with`` on the classes instead.

Finding memcached: ``--memcached-bin``, else the ``EMCACHE_TESTING_MEMCACHED``
environment variable, else the ``memcached_bin`` ini value, else ``PATH``.
When it is missing, every test that asks for a node fails with one line
saying how to install it, or is skipped with ``--memcached-skip-missing`` (or
``memcached_skip_missing = true`` in the ini file).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emcache_testing.__about__ import __version__
from emcache_testing._binary import ENV_VAR, find_memcached, memcached_version
from emcache_testing._config_endpoint import FakeConfigEndpoint
from emcache_testing._hostile import HostileServer
from emcache_testing._launcher import MemcachedLauncher
from emcache_testing._node import AsciiAuth, MemcachedNode
from emcache_testing._thread import serve_in_thread
from emcache_testing.errors import MemcachedNotFoundError

__all__ = [
    "memcached_auth_node",
    "memcached_binary",
    "memcached_cluster_nodes",
    "memcached_config_endpoint",
    "memcached_hostile_server",
    "memcached_launcher",
    "memcached_node",
    "memcached_tls_node",
    "memcached_unix_node",
]

CLUSTER_SIZE = 3
_OPTION_NAMES = ("memory_mb", "threads", "max_connections", "extra_args")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("emcache-testing", "throwaway memcached nodes (emcache-testing)")
    group.addoption(
        "--memcached-bin",
        dest="memcached_bin",
        default=None,
        metavar="PATH",
        help=f"memcached binary to start (default: ${ENV_VAR}, the memcached_bin ini value, PATH)",
    )
    group.addoption(
        "--memcached-skip-missing",
        dest="memcached_skip_missing",
        action="store_true",
        default=False,
        help="skip the tests that need memcached when it is not installed, instead of failing",
    )
    parser.addini("memcached_bin", "memcached binary to start (default: PATH)", default="")
    parser.addini(
        "memcached_skip_missing",
        "skip the tests that need memcached when it is not installed",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "memcached_options(memory_mb=64, threads=2, max_connections=1024, extra_args=()): "
        "options of the nodes that the memcached_* fixtures start for this test",
    )
    if hasattr(config, "workerinput"):
        _exit_when_orphaned()


def _exit_when_orphaned(interval: float = 0.1) -> None:
    """End this pytest-xdist worker, and so its nodes, once its controller is gone.

    A worker whose controller was killed goes on running its current test, and
    its nodes with it, for as long as that test lasts. Nothing can use its
    results any more, so it exits, and its nodes die with it.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="emcache-testing-orphan-watch", daemon=True).start()


def pytest_report_header(config: pytest.Config) -> str:
    try:
        binary = _find_binary(config)
        return f"emcache-testing {__version__}: memcached {memcached_version(binary)} at {binary}"
    except MemcachedNotFoundError as exc:
        return f"emcache-testing {__version__}: {exc}"


def _find_binary(config: pytest.Config) -> str:
    explicit = config.getoption("memcached_bin") or os.environ.get(ENV_VAR)
    ini_value = config.getini("memcached_bin")
    return find_memcached(explicit or ini_value or None)


@pytest.fixture(scope="session")
def memcached_binary(pytestconfig: pytest.Config) -> str:
    """The memcached binary the nodes run; fails (or skips) with one line when there is none."""
    try:
        binary = _find_binary(pytestconfig)
        memcached_version(binary)
        return binary
    except MemcachedNotFoundError as exc:
        problem = str(exc)
    # Outside the except block, so that the report is the one line and no chained traceback.
    if pytestconfig.getoption("memcached_skip_missing") or pytestconfig.getini(
        "memcached_skip_missing"
    ):
        pytest.skip(problem)
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def memcached_launcher(memcached_binary: str) -> Iterator[MemcachedLauncher]:
    """A :class:`MemcachedLauncher` whose nodes are killed when the test ends."""
    with MemcachedLauncher(memcached_binary) as launcher:
        yield launcher


@pytest.fixture
def memcached_node(
    memcached_launcher: MemcachedLauncher, request: pytest.FixtureRequest
) -> MemcachedNode:
    """One TCP node on 127.0.0.1."""
    return memcached_launcher.start(**_marked_options(request))[0]


@pytest.fixture
def memcached_cluster_nodes(
    memcached_launcher: MemcachedLauncher, request: pytest.FixtureRequest
) -> list[MemcachedNode]:
    """Three TCP nodes, each with its own data."""
    return memcached_launcher.start(CLUSTER_SIZE, **_marked_options(request))


@pytest.fixture
def memcached_unix_node(
    memcached_launcher: MemcachedLauncher, request: pytest.FixtureRequest
) -> MemcachedNode:
    """One node on a unix socket (``node.socket_path``)."""
    return memcached_launcher.start(unix=True, **_marked_options(request))[0]


@pytest.fixture
def memcached_tls_node(
    memcached_launcher: MemcachedLauncher, request: pytest.FixtureRequest
) -> MemcachedNode:
    """One TLS node; a client trusts ``node.tls.ca_file`` or ``node.tls.ssl_context()``."""
    return memcached_launcher.start(tls=True, **_marked_options(request))[0]


@pytest.fixture
def memcached_auth_node(
    memcached_launcher: MemcachedLauncher, request: pytest.FixtureRequest
) -> MemcachedNode:
    """One node requiring ascii auth; ``node.auth`` holds the username and a random password."""
    auth = AsciiAuth(username="emcache-testing", password=secrets.token_urlsafe(12))
    return memcached_launcher.start(auth=auth, **_marked_options(request))[0]


@pytest.fixture
def memcached_config_endpoint() -> Iterator[FakeConfigEndpoint]:
    """A fake ``config get cluster`` endpoint serving no node yet, in a thread of its own."""
    with serve_in_thread(FakeConfigEndpoint()) as endpoint:
        yield endpoint


@pytest.fixture
def memcached_hostile_server() -> Iterator[HostileServer]:
    """A scripted fake memcached, honest until attacked, in a thread of its own."""
    with serve_in_thread(HostileServer()) as server:
        yield server


def _marked_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("memcached_options"))):
        options.update(marker.kwargs)
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        msg = f"memcached_options: unknown {', '.join(unknown)}; use {', '.join(_OPTION_NAMES)}"
        pytest.fail(msg, pytrace=False)
    return options
