"""Every ```python block of the documentation runs against real memcached.

The examples name hosts such as ``localhost:11211`` or an ElastiCache
configuration endpoint. They run unchanged, each on its own (nothing is shared
between blocks), with these substitutions:

* ``MemcachedHostAddress('localhost', 11211)`` (and 11212, 11213) points to one
  of three nodes the test started; a ``*.amazonaws.com`` host points to a fake
  configuration endpoint listing them; ``MemcachedUnixSocketPath(...)`` points
  to a node listening on a unix socket. The same holds when the address classes
  are taken from ``emcache_pool``, and for ``socket.create_connection``.
  Any other address is used as written, so that an example can show a node
  that cannot be reached (nothing listens on port 1 of ``127.0.0.1``).
* A block that says ``ssl=True`` runs against TLS nodes, with the certificate
  authority in ``memcached-ca.pem`` of its working directory; a block that says
  ``username=`` runs against nodes that accept the user ``app`` with the
  password ``app-secret``.
* ``asyncio.run`` works: each block runs in a thread of its own, so a block
  may either use top-level ``await`` or start its own event loop.

A block must create a client through ``emcache.create_client`` or check its
outcome with at least one ``assert`` that runs. Clients a block leaves open
are closed. Every fence whose language looks like Python must be ``python``,
so that no example escapes this test by its spelling.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import re
import shutil
import socket
import textwrap
import types
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

import emcache
import emcache_pool
from emcache_testing import AsciiAuth, FakeConfigEndpoint, MemcachedLauncher, MemcachedNode

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.S | re.M
)
DOCS_AUTH = AsciiAuth(username="app", password="app-secret")
DOCS_CA_FILE = "memcached-ca.pem"
DOCS_PORTS = (11211, 11212, 11213)
CHECK_HOOK = "__docs_example_checked__"
# Pages whose examples are the files of a pytest project, run as such by their own test.
PYTEST_PAGES = {"testing.md": "test_docs_testing_page.py"}


def _python_blocks() -> list[Any]:
    params = []
    for page in sorted(DOCS.rglob("*.md")):
        if page.relative_to(DOCS).as_posix() in PYTEST_PAGES:
            continue
        number = 0
        for match in FENCE.finditer(page.read_text()):
            if match["lang"] != "python":
                continue
            number += 1
            body = textwrap.dedent(match["body"])
            params.append(pytest.param(body, id=f"{page.relative_to(DOCS)}#{number}"))
    return params


class _TrackedCreation:
    """``create_client``'s result, remembering the client it gives so that it gets closed."""

    def __init__(self, creation: emcache.ClientCreation, clients: list[emcache.Client]) -> None:
        self._creation = creation
        self._clients = clients

    def __await__(self) -> Any:
        return self._track().__await__()

    async def _track(self) -> emcache.Client:
        client = await self._creation
        self._clients.append(client)
        return client

    async def __aenter__(self) -> emcache.Client:
        return await self._track()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._creation.__aexit__(*exc_info)


class _Proxy(types.ModuleType):
    """A module that is ``target`` except for the attributes given."""

    def __init__(self, target: types.ModuleType, **overrides: Any) -> None:
        super().__init__(target.__name__, target.__doc__)
        self.__dict__.update(overrides)
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _Example:
    """One documentation block and the substitutions it runs with."""

    def __init__(
        self,
        nodes: list[MemcachedNode],
        unix_node: Callable[[], MemcachedNode],
        endpoint: FakeConfigEndpoint,
    ) -> None:
        self.nodes = {
            ("localhost", port): node for port, node in zip(DOCS_PORTS, nodes, strict=True)
        }
        self.unix_node = unix_node
        self.endpoint = endpoint
        self.clients: list[emcache.Client] = []
        self.checks = 0
        self.modules = self._modules()

    # -- substitutions --------------------------------------------------------------------------
    def host_address(self, host: str, port: int) -> emcache.MemcachedHostAddress:
        if host.endswith(".amazonaws.com"):
            return emcache.MemcachedHostAddress(self.endpoint.host, self.endpoint.port)
        node = self.nodes.get((host, port))
        if node is None:
            return emcache.MemcachedHostAddress(host, port)
        assert node.port is not None
        return emcache.MemcachedHostAddress(node.host, node.port)

    def unix_path(self, path: str) -> emcache.MemcachedUnixSocketPath:
        socket_path = self.unix_node().socket_path
        assert socket_path is not None
        return emcache.MemcachedUnixSocketPath(socket_path)

    def create_connection(
        self, address: tuple[str, int], *args: Any, **kwargs: Any
    ) -> socket.socket:
        real = self.host_address(*address)
        return socket.create_connection((real.address, real.port), *args, **kwargs)

    def create_client(self, *args: Any, **kwargs: Any) -> _TrackedCreation:
        return _TrackedCreation(emcache.create_client(*args, **kwargs), self.clients)

    def run(self, main: Coroutine[Any, Any, Any], **kwargs: Any) -> Any:
        return asyncio.run(self._closing_clients(main), **kwargs)

    async def _closing_clients(self, main: Coroutine[Any, Any, Any]) -> Any:
        first = len(self.clients)
        try:
            return await main
        finally:
            for client in self.clients[first:]:
                await client.close()

    def _modules(self) -> dict[str, types.ModuleType]:
        addresses = {
            "MemcachedHostAddress": _mapped(emcache.MemcachedHostAddress, self.host_address),
            "MemcachedUnixSocketPath": _mapped(emcache.MemcachedUnixSocketPath, self.unix_path),
        }
        return {
            "emcache": _Proxy(emcache, create_client=self.create_client, **addresses),
            "emcache_pool": _Proxy(emcache_pool, **addresses),
            "socket": _Proxy(socket, create_connection=self.create_connection),
            "asyncio": _Proxy(asyncio, run=self.run),
        }

    def _import(self, name: str, *args: Any, **kwargs: Any) -> Any:
        fromlist = kwargs.get("fromlist", args[2] if len(args) > 2 else None)
        if name in self.modules:
            return self.modules[name]
        module = builtins.__import__(name, *args, **kwargs)
        top = name.partition(".")[0]
        if not fromlist and top in self.modules:
            return self.modules[top]
        return module

    # -- running --------------------------------------------------------------------------------
    def _checked(self) -> None:
        self.checks += 1

    def compile(self, source: str) -> types.CodeType:
        tree = ast.parse(source)
        _CountAsserts().visit(tree)
        ast.fix_missing_locations(tree)
        code: types.CodeType = compile(
            tree, "<docs example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        return code

    def execute(self, source: str) -> None:
        """Run the block as a script would: top-level await, or its own ``asyncio.run``."""
        code = self.compile(source)
        namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": {**vars(builtins), "__import__": self._import},
            CHECK_HOOK: self._checked,
            **self.modules,
        }
        result = eval(code, namespace)
        if asyncio.iscoroutine(result):
            self.run(result)


def _mapped(real: type, mapper: Callable[..., Any]) -> type:
    """A stand-in for the address class ``real`` whose instances are built by ``mapper``.

    ``isinstance`` and ``issubclass`` answer as for ``real``, so examples may test addresses.
    """

    class _Meta(type):
        def __instancecheck__(cls, instance: Any) -> bool:
            return isinstance(instance, real)

        def __subclasscheck__(cls, subclass: type) -> bool:
            return issubclass(subclass, real)

    class _Mapped(metaclass=_Meta):
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return mapper(*args, **kwargs)

    _Mapped.__name__ = _Mapped.__qualname__ = real.__name__
    return _Mapped


class _CountAsserts(ast.NodeTransformer):
    """Counts every ``assert`` that runs, so that a block's checks are known to be reached."""

    def visit_Assert(self, node: ast.Assert) -> list[ast.stmt]:
        call = ast.Call(func=ast.Name(id=CHECK_HOOK, ctx=ast.Load()), args=[], keywords=[])
        return [ast.Expr(value=call), node]


def _flavour(source: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "ssl=True" in source:
        options["tls"] = True
    if "username=" in source:
        options["auth"] = DOCS_AUTH
    return options


def test_docs_python_fences_are_spelled_python() -> None:
    """Examples are fenced as ``python`` so that the runner below finds every one of them."""
    wrong = [
        f"{page.relative_to(DOCS)}: ```{match['lang']}"
        for page in sorted(DOCS.rglob("*.md"))
        for match in FENCE.finditer(page.read_text())
        if match["lang"] != "python" and match["lang"].lower() in {"py", "python3", "pycon", "py3"}
    ]
    assert not wrong


def test_docs_have_examples() -> None:
    """The runner finds the examples of every documentation page that has Python in it."""
    pages = {param.id.partition("#")[0] for param in _python_blocks()}
    for page in ("index.md", "client-creation.md", "operations.md"):
        assert page in pages


@pytest.mark.asyncio
@pytest.mark.parametrize("source", _python_blocks())
async def test_docs_example_runs(
    source: str,
    launcher: MemcachedLauncher,
    config_endpoint: FakeConfigEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented example runs unchanged, checks what it shows and leaves nothing open."""
    flavour = _flavour(source)
    nodes = launcher.start(len(DOCS_PORTS), **flavour)
    if flavour.get("tls"):
        shutil.copy(launcher.tls_material().ca_file, tmp_path / DOCS_CA_FILE)
    monkeypatch.chdir(tmp_path)
    unix_nodes: list[MemcachedNode] = []

    def unix_node() -> MemcachedNode:
        if not unix_nodes:
            unix_nodes.extend(launcher.start(unix=True, **flavour))
        return unix_nodes[0]

    config_endpoint.set_nodes([(n.host, n.port or 0) for n in nodes])
    example = _Example(nodes, unix_node, config_endpoint)
    await asyncio.to_thread(example.execute, source)
    assert example.clients or example.checks, (
        "the example neither created a client nor checked anything with assert"
    )
    assert all(client.closed for client in example.clients)
