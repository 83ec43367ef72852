"""Shared by every test in the workspace: the repository's names for the emcache-testing fixtures.

The plugin (installed in every environment, loaded through its entry point)
names its fixtures ``memcached_*`` so that they never take a user's own
fixture name. This repository's suites were written with shorter names, kept
here as aliases so that their test bodies stay as they are.

Hypothesis runs without per-example deadlines: the suites share a 2-core
machine with the memcached processes they start, and a slow example there
says nothing about the code under test.
"""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from hypothesis import settings

from emcache_testing import AsciiAuth, FakeConfigEndpoint, MemcachedLauncher, MemcachedNode

SUITE_AUTH = AsciiAuth(username="emcache-user", password="s3cr3t-Pa55")

settings.register_profile("emcache", deadline=None)
settings.load_profile("emcache")


@pytest.fixture(name="launcher")
def _launcher(memcached_launcher: MemcachedLauncher) -> MemcachedLauncher:
    """The test's launcher: ``launcher.start(...)`` nodes die when the test ends."""
    return memcached_launcher


@pytest.fixture(name="memcached")
def _memcached(memcached_node: MemcachedNode) -> MemcachedNode:
    """One plain TCP node on 127.0.0.1."""
    return memcached_node


@pytest.fixture(name="memcached_cluster")
def _memcached_cluster(memcached_cluster_nodes: list[MemcachedNode]) -> list[MemcachedNode]:
    """Three plain TCP nodes."""
    return memcached_cluster_nodes


@pytest.fixture(name="memcached_unix")
def _memcached_unix(memcached_unix_node: MemcachedNode) -> MemcachedNode:
    """One node listening on a unix socket."""
    return memcached_unix_node


@pytest.fixture(name="memcached_tls")
def _memcached_tls(memcached_tls_node: MemcachedNode) -> MemcachedNode:
    """One TLS node whose certificate is signed by a trustme CA (``node.tls.ca_file``)."""
    return memcached_tls_node


@pytest.fixture(name="memcached_auth")
def _memcached_auth(memcached_launcher: MemcachedLauncher) -> MemcachedNode:
    """One node requiring ascii auth with ``node.auth``, which is always ``SUITE_AUTH``.

    Unlike the plugin's node (a random password per test), some suites name
    these credentials directly.
    """
    return memcached_launcher.start(auth=SUITE_AUTH)[0]


@pytest_asyncio.fixture(name="config_endpoint")
async def _config_endpoint() -> AsyncIterator[FakeConfigEndpoint]:
    """A fake ``config get cluster`` endpoint with no node yet, in the test's event loop."""
    async with FakeConfigEndpoint() as endpoint:
        yield endpoint
