"""Every ```python block of the documentation runs against real memcached.

The examples name hosts such as ``localhost:11211`` or an ElastiCache
configuration endpoint. They run unchanged: the ``emcache`` they see is the
real module, except that ``MemcachedHostAddress`` maps the documented
addresses onto the nodes the test started (and the endpoint name onto a fake
configuration endpoint listing them). Clients an example leaves open are closed.
"""

from __future__ import annotations

import ast
import asyncio
import re
import types
from pathlib import Path
from typing import Any

import pytest

import emcache
from emcache_tools import FakeConfigEndpoint, MemcachedProcess

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> list[Any]:
    params = []
    for page in sorted(DOCS.rglob("*.md")):
        for number, match in enumerate(BLOCK.finditer(page.read_text()), start=1):
            name = f"{page.relative_to(DOCS)}#{number}"
            params.append(pytest.param(match.group(1), id=name))
    return params


def _shim(
    nodes: list[MemcachedProcess], endpoint: FakeConfigEndpoint, clients: list[emcache.Client]
) -> types.SimpleNamespace:
    ports = {("localhost", 11211 + i): (n.host, n.port) for i, n in enumerate(nodes)}

    def host_address(host: str, port: int) -> emcache.MemcachedHostAddress:
        if host.endswith(".amazonaws.com") or host.endswith(".memorystore"):
            return emcache.MemcachedHostAddress(endpoint.host, endpoint.port)
        real_host, real_port = ports[(host, port)]
        assert real_port is not None
        return emcache.MemcachedHostAddress(real_host, real_port)

    async def create_client(*args: Any, **kwargs: Any) -> emcache.Client:
        client = await emcache.create_client(*args, **kwargs)
        clients.append(client)
        return client

    shim = types.SimpleNamespace(**{name: getattr(emcache, name) for name in emcache.__all__})
    shim.MemcachedHostAddress = host_address
    shim.create_client = create_client
    return shim


@pytest.mark.asyncio
@pytest.mark.parametrize("source", _blocks())
async def test_docs_example_runs(
    source: str, memcached_cluster: list[MemcachedProcess], config_endpoint: FakeConfigEndpoint
) -> None:
    """The documented example runs unchanged and leaves nothing open."""
    config_endpoint.set_nodes([(n.host, n.port or 0) for n in memcached_cluster])
    clients: list[emcache.Client] = []
    namespace = {"emcache": _shim(memcached_cluster, config_endpoint, clients), "asyncio": asyncio}
    code = compile(source, "<docs example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    try:
        result = eval(code, namespace)
        if asyncio.iscoroutine(result):
            await result
    finally:
        for client in clients:
            await client.close()
    assert clients, "the example created no client"
