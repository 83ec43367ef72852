"""Only ``emcache.otel`` imports OpenTelemetry, and only when the user imports it."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from emcache_testing import MemcachedNode

PACKAGES = Path(__file__).resolve().parents[2]
ADAPTER = PACKAGES / "emcache" / "src" / "emcache" / "otel"


def _imports(source: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_source_outside_the_adapter_imports_opentelemetry() -> None:
    """No module of any package but ``emcache.otel`` has an opentelemetry import."""
    sources = [p for p in PACKAGES.glob("*/src/**/*.py") if ADAPTER not in p.parents]
    assert len(sources) > 50
    for source in sources:
        imported = _imports(source)
        assert not any(name.split(".")[0] == "opentelemetry" for name in imported), source


LOWER_PACKAGES = ["emcache_protocol", "emcache_hashing", "emcache_auth", "emcache_pool",
                  "emcache_cluster"]  # fmt: skip


def _assert_no_opentelemetry_loaded(script: str) -> None:
    """Run ``script`` in a fresh interpreter; it prints the opentelemetry modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


@pytest.mark.parametrize("package", LOWER_PACKAGES)
def test_no_module_of_a_lower_package_loads_opentelemetry(package: str) -> None:
    """Importing every module of a package below the facade loads no opentelemetry module:
    tracing is the facade's optional extra. (OpenTelemetry is installed here, the package
    environments lack it, so this runs in the workspace environment only.)"""
    script = textwrap.dedent(
        f"""
        import importlib
        import pkgutil
        import sys

        import {package} as package

        for info in pkgutil.walk_packages(package.__path__, "{package}."):
            importlib.import_module(info.name)
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
        """
    )
    _assert_no_opentelemetry_loaded(script)


def test_a_client_runs_without_loading_opentelemetry(memcached_node: MemcachedNode) -> None:
    """Importing emcache (every module but the adapter) and using a client loads no OTel module.

    OpenTelemetry is installed in this environment, so only an import would load it.
    """
    host, port = memcached_node.address
    script = textwrap.dedent(
        f"""
        import asyncio
        import importlib
        import pkgutil
        import sys

        import emcache

        # iter_modules, not walk_packages: walking imports every subpackage, the adapter too.
        for info in pkgutil.iter_modules(emcache.__path__, "emcache."):
            if info.name != "emcache.otel":
                importlib.import_module(info.name)

        async def main():
            address = emcache.MemcachedHostAddress({host!r}, {port})
            async with await emcache.create_client([address], autobatching=True) as client:
                await client.set(b"k", b"v")
                assert (await client.get(b"k")).value == b"v"
                await client.get_many([b"k", b"other"])

        asyncio.run(main())
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
        """
    )
    _assert_no_opentelemetry_loaded(script)
