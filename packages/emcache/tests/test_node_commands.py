"""The node commands check the type of the node address they are given."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

import emcache
from emcache_testing import MemcachedNode

NodeCommand = Callable[[emcache.Client, Any], Awaitable[object]]

COMMANDS: dict[str, NodeCommand] = {
    "stats": lambda client, node: client.stats(node),
    "version": lambda client, node: client.version(node),
    "flush_all": lambda client, node: client.flush_all(node),
    "verbosity": lambda client, node: client.verbosity(node, 1),
    "cache_memlimit": lambda client, node: client.cache_memlimit(node, 64),
}


@pytest_asyncio.fixture(name="client")
async def _client(memcached: MemcachedNode) -> AsyncIterator[emcache.Client]:
    assert memcached.port is not None
    client = await emcache.create_client(
        [emcache.MemcachedHostAddress(memcached.host, memcached.port)]
    )
    yield client
    await client.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("address", [("127.0.0.1", 11211), "127.0.0.1:11211", None])
async def test_node_command_refuses_a_wrong_address_type(
    client: emcache.Client, command: str, address: object
) -> None:
    """A tuple, a str or None is a TypeError naming the accepted address types."""
    with pytest.raises(TypeError, match="MemcachedHostAddress or a MemcachedUnixSocketPath"):
        await COMMANDS[command](client, address)


@pytest.mark.asyncio
@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_node_command_accepts_the_node_address(
    client: emcache.Client, memcached: MemcachedNode, command: str
) -> None:
    """The node's MemcachedHostAddress is accepted by every node command."""
    assert memcached.port is not None
    await COMMANDS[command](client, emcache.MemcachedHostAddress(memcached.host, memcached.port))
