"""The part of the demo that talks to the nodes through the emcache facade."""

from __future__ import annotations

from collections.abc import Sequence

from emcache_tools.launcher import MemcachedProcess


def run_examples(nodes: Sequence[MemcachedProcess]) -> None:
    """Run the client-creation examples against ``nodes`` and print the outcome."""
    print(f"{len(nodes)} nodes are up; the facade's create_client is not built yet.")
