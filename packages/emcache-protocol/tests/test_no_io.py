"""The package stays sans-IO: importing and using it loads no I/O module."""

import subprocess
import sys
import textwrap


def test_package_never_imports_io_modules() -> None:
    """Importing the package and parsing a reply loads neither asyncio, socket nor ssl."""
    script = textwrap.dedent(
        """
        import sys
        import emcache_protocol as p
        parser = p.ResponseParser()
        parser.receive_data(b"VALUE k 0 1\\r\\nx\\r\\nEND\\r\\n")
        parser.next_reply(p.retrieval_command(b"get", [b"k"]))
        p.storage_command(b"set", b"k", b"v")
        print(sorted(m for m in ("asyncio", "socket", "ssl", "selectors") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
