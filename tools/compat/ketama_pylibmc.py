"""Check Ketama against the real pylibmc (libmemcached) through real memcached nodes.

For each scenario, 100,000 keys are stored through ``pylibmc.Client`` with the
scenario's behaviours into fresh throwaway nodes; then every node is asked
which keys it holds and each key's node is compared with the one
``emcache_hashing.Ketama`` picks. The main matrix is 2, 3, 8 and 50 nodes with
``{"ketama": True}``, without and with weights; further rows cover the md5 key
hash, ``ketama_weighted``, weights whose point counts need single precision,
unix sockets, and nodes on the default port 11211 (which libmemcached leaves
out of what it hashes). Exit status 1 if any key is misplaced.

Run it with the compat venv's python (tools/compat/README.md)::

    PYTHONPATH=tools /tmp/emcache-compat/bin/python -m compat.ketama_pylibmc
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from compat import _harness as harness
from emcache_hashing import Ketama, Server
from emcache_testing import MemcachedLauncher, MemcachedNode


@dataclass(frozen=True)
class Scenario:
    """Nodes, their weights, pylibmc behaviours and the matching Ketama options."""

    name: str
    count: int
    behaviors: dict[str, Any]
    options: dict[str, Any]
    weights: tuple[int, ...] | None = None
    where: str = "tcp"  # "tcp", "unix" or "default-port"


KETAMA: dict[str, Any] = {"ketama": True}
MD5: dict[str, Any] = {"ketama": True, "hash": "md5"}
WEIGHTED: dict[str, Any] = {"ketama_weighted": True}


def scenarios(counts: tuple[int, ...]) -> list[Scenario]:
    """The main matrix, then the extra rows."""
    rows = []
    for count in counts:
        rows.append(Scenario(f'{{"ketama": True}}, {count} nodes', count, KETAMA, {}))
        weights = tuple(1 + index % 4 for index in range(count))
        rows.append(
            Scenario(f'{{"ketama": True}}, {count} nodes, weights 1-4', count, KETAMA, {}, weights)
        )
    rows += [
        Scenario('{"ketama": True, "hash": "md5"}, 8 nodes', 8, MD5, {"key_hash": "md5"}),
        Scenario(
            '{"ketama_weighted": True}, 8 nodes',
            8,
            WEIGHTED,
            {"key_hash": "md5", "weighted": True},
        ),
        Scenario(
            '{"ketama": True}, 9 nodes, weights 4,7,7,1...',
            9,
            KETAMA,
            {},
            (4, 7, 7, 1, 1, 1, 1, 1, 1),
        ),
        Scenario('{"ketama": True}, 3 unix sockets', 3, KETAMA, {}, where="unix"),
        Scenario('{"ketama": True}, 3 nodes on port 11211', 3, KETAMA, {}, where="default-port"),
    ]
    return rows


def pylibmc_spec(server: Server) -> str:
    """pylibmc's server string: the path, or host:port[:weight]."""
    if server.is_unix:
        return server.host
    return f"{server.host}:{server.port}:{server.weight}"


def run(
    pylibmc: Any, scenario: Scenario, nodes: list[MemcachedNode], keys: list[bytes]
) -> harness.Outcome:
    """Store the keys through pylibmc, then compare where they are with Ketama's picks."""
    servers = harness.servers_of(nodes, scenario.weights)
    client = pylibmc.Client([pylibmc_spec(s) for s in servers], behaviors=scenario.behaviors)

    def store(batch: Sequence[bytes]) -> int:
        return len(client.set_multi(dict.fromkeys(batch, b"1")))

    try:
        ours = harness.picks_index(Ketama(servers, **scenario.options), servers)
        return harness.check(scenario.name, "pylibmc", nodes, keys, store, ours, client.hash)
    finally:
        client.disconnect_all()


def linked_library(name: str) -> str:
    """The file of the shared library ``name`` this process has loaded (Linux only)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if name in path.rsplit("/", 1)[-1]:
                    return path
    except OSError:
        pass
    return "?"


def main() -> int:
    args = harness.parse_arguments(__doc__)
    pylibmc = harness.load_peer("pylibmc")
    keys = harness.make_keys(args.keys)
    outcomes = []
    with MemcachedLauncher() as launcher:
        pool: dict[str, list[MemcachedNode]] = {"tcp": [], "unix": [], "default-port": []}
        for scenario in scenarios(tuple(args.nodes)):
            nodes = pool[scenario.where]
            if len(nodes) < scenario.count:
                if scenario.where == "default-port":
                    nodes += harness.start_default_port_nodes(launcher, scenario.count)
                else:
                    unix = scenario.where == "unix"
                    nodes += harness.start_nodes(launcher, scenario.count - len(nodes), unix=unix)
            if len(nodes) < scenario.count:
                print(f"skipped ({scenario.name}): 127.0.0.2-4:11211 are not all free")
                continue
            outcomes.append(run(pylibmc, scenario, nodes[: scenario.count], keys))
            print(f"{scenario.name}: {outcomes[-1].mismatches} mismatches", flush=True)
    version = getattr(pylibmc, "__version__", "?")
    libmemcached = getattr(pylibmc, "libmemcached_version", "?")
    library = linked_library("libmemcached")
    title = f"Ketama vs pylibmc {version}, libmemcached {libmemcached} from {library}"
    harness.print_outcomes(title, outcomes)
    return 0 if all(outcome.ok for outcome in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
