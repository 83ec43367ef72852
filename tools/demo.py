"""Start a throwaway 3-node memcached on loopback, run the client-creation
examples against it, print what happened, and stop the nodes."""

from __future__ import annotations

import sys

from emcache_testing import MemcachedLauncher


def main() -> int:
    with MemcachedLauncher() as launcher:
        nodes = launcher.start(3)
        for node in nodes:
            print(f"memcached started at {node.address_text} (pid {node.pid})")
        try:
            import emcache  # noqa: F401
        except ImportError:
            print("the emcache facade is not installed in this environment")
            return 1
        from demo_client import run_examples

        run_examples(nodes)
    print("memcached nodes stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
