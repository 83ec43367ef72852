"""The package never imports OpenTelemetry: tracing is the facade's optional extra."""

import subprocess
import sys
import textwrap


def test_no_module_imports_opentelemetry() -> None:
    """Importing every module of the package loads no opentelemetry module."""
    script = textwrap.dedent(
        """
        import importlib
        import pkgutil
        import sys

        import emcache_cluster as package

        for info in pkgutil.walk_packages(package.__path__, "emcache_cluster."):
            importlib.import_module(info.name)
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
