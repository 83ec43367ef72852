"""pytest fixtures that start real memcached nodes on loopback with the launcher.

Every fixture is function-scoped: a test may kill, pause or restart its nodes
without disturbing the next test. All processes are stopped at teardown, and
the launcher's death signal stops them even if pytest itself is killed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from emcache_tools.fake_autodiscovery import FakeConfigEndpoint
from emcache_tools.launcher import AuthConfig, MemcachedLauncher, MemcachedProcess

AUTH = AuthConfig(username="emcache-user", password="s3cr3t-Pa55")


@pytest.fixture(name="launcher")
def _launcher() -> Iterator[MemcachedLauncher]:
    with MemcachedLauncher() as launcher:
        yield launcher


@pytest.fixture(name="memcached")
def _memcached(launcher: MemcachedLauncher) -> MemcachedProcess:
    """One plain TCP node on 127.0.0.1."""
    return launcher.start()[0]


@pytest.fixture(name="memcached_cluster")
def _memcached_cluster(launcher: MemcachedLauncher) -> list[MemcachedProcess]:
    """Three plain TCP nodes."""
    return launcher.start(3)


@pytest.fixture(name="memcached_unix")
def _memcached_unix(launcher: MemcachedLauncher) -> MemcachedProcess:
    """One node listening on a unix socket."""
    return launcher.start(unix=True)[0]


@pytest.fixture(name="memcached_tls")
def _memcached_tls(launcher: MemcachedLauncher) -> MemcachedProcess:
    """One TLS node whose certificate is signed by a trustme CA (``node.tls.ca_file``)."""
    return launcher.start(tls=True)[0]


@pytest.fixture(name="memcached_auth")
def _memcached_auth(launcher: MemcachedLauncher) -> MemcachedProcess:
    """One node requiring ascii auth with ``node.auth`` credentials."""
    return launcher.start(auth=AUTH)[0]


@pytest_asyncio.fixture(name="config_endpoint")
async def _config_endpoint() -> AsyncIterator[FakeConfigEndpoint]:
    """A fake ``config get cluster`` endpoint with an empty node list."""
    async with FakeConfigEndpoint() as endpoint:
        yield endpoint
