"""Fixtures of the integration suites: emcache clients over real memcached nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

import emcache
from emcache_testing import MemcachedNode
from tests_integration.helpers import ClientFactory, address


@pytest_asyncio.fixture(name="make_client")
async def _make_client() -> AsyncIterator[ClientFactory]:
    """Create clients that are closed at teardown: ``await make_client(nodes, **options)``."""
    clients: list[emcache.Client] = []

    async def make(nodes: list[MemcachedNode], **options: Any) -> emcache.Client:
        client = await emcache.create_client([address(node) for node in nodes], **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest_asyncio.fixture(name="client")
async def _client(memcached: MemcachedNode, make_client: ClientFactory) -> emcache.Client:
    """A client with default options on one node."""
    return await make_client([memcached])


@pytest_asyncio.fixture(name="cluster_client")
async def _cluster_client(
    memcached_cluster: list[MemcachedNode], make_client: ClientFactory
) -> emcache.Client:
    """A client with default options on three nodes."""
    return await make_client(memcached_cluster)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave the long ``soak`` tests out unless the marker expression names them (``-m soak``)."""
    if "soak" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("soak") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
