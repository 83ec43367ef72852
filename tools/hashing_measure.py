"""Measure emcache_hashing: spread, keys moved on membership changes, cost per pick.

The cost per pick is measured side by side with the compiled node selection of
emcache 1.x, run in a subprocess with its own interpreter (its import name,
``emcache``, is also our facade's) over the same node ids and keys, in the same
run. Each figure is the best of several rounds of a plain loop over the keys.

Usage::

    hatch run python tools/hashing_measure.py [--keys 1000000] [--peer-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import mmh3

from emcache_hashing import Rendezvous

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PEER = ROOT / ".peers" / "emcache-1.3.3" / "bin" / "python"
TIMED_NODE_COUNTS = (1, 2, 8, 64)
TIMED_KEYS = 10_000
ROUNDS = 5
ATTEMPTS = 5

# Runs under the peer's interpreter: the same loops as ours, over the peer's
# selection functions. Input: a JSON file {"sets": [[node id, ...], ...],
# "keys": [hex, ...], "rounds": n}; output: JSON [{"pick": ns, "pick_many": ns}]
# per node set, in nanoseconds per key.
PEER_SCRIPT = """
import json, sys, time
from emcache._cython import cyemcache

spec = json.load(open(sys.argv[1]))
keys = [bytes.fromhex(key) for key in spec["keys"]]
select, select_many = cyemcache.node_selection, cyemcache.nodes_selection

def best(run):
    times = []
    for _ in range(spec["rounds"]):
        start = time.perf_counter_ns()
        run()
        times.append(time.perf_counter_ns() - start)
    return min(times) / len(keys)

results = []
for ids in spec["sets"]:
    nodes = [cyemcache.RendezvousNode(node_id, node_id) for node_id in ids]

    def one():
        for key in keys:
            select(key, nodes)

    results.append({"pick": best(one), "pick_many": best(lambda: select_many(keys, nodes))})
print(json.dumps(results))
"""


def node_ids(count: int) -> list[str]:
    """TCP node ids as emcache 1.x builds them: host and port with no separator."""
    return [f"10.0.{i // 200}.{i % 200 + 1}11211" for i in range(count)]


def keys_for(count: int) -> list[bytes]:
    """Keys shaped like an application's: a prefix and a numeric id."""
    return [b"user:%d:profile" % i for i in range(count)]


def best_ns(run: Callable[[], object], per: int) -> float:
    """Best of ROUNDS runs of ``run``, in nanoseconds per item."""
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        run()
        times.append(time.perf_counter_ns() - start)
    return min(times) / per


def spread(keys: list[bytes]) -> None:
    """Print the load of the busiest and idlest of 8 nodes relative to the mean."""
    groups = Rendezvous(node_ids(8)).pick_many(keys)
    loads = sorted(len(group) for group in groups.values())
    mean = len(keys) / 8
    print(f"spread, 8 nodes, {len(keys)} keys: max/mean {loads[-1] / mean:.4f}, ", end="")
    print(f"min/mean {loads[0] / mean:.4f}")


def moved(keys: list[bytes]) -> None:
    """Print the share of keys that change node when a node joins or leaves 8."""
    ids = node_ids(9)
    before = owners(ids[:8], keys)
    added = owners(ids, keys)
    removed = owners(ids[:3] + ids[4:8], keys)
    share_added = sum(a != b for a, b in zip(before, added, strict=True)) / len(keys)
    share_removed = sum(a != b for a, b in zip(before, removed, strict=True)) / len(keys)
    print(f"moved, 8 -> 9 nodes: {share_added:.2%} of keys (ideal 1/9 = {1 / 9:.2%})")
    print(f"moved, 8 -> 7 nodes: {share_removed:.2%} of keys (ideal 1/8 = {1 / 8:.2%})")


def membership_cost() -> None:
    """Print the cost of one add or remove, once the code for each node count is compiled."""
    ids = node_ids(65)
    cells = []
    for count in (2, 8, 64):
        hasher = Rendezvous(ids[:count])
        hasher.add(ids[count])
        hasher.remove(ids[count])

        def change(hasher: Rendezvous = hasher, node: str = ids[count]) -> None:
            for _ in range(100):
                hasher.add(node)
                hasher.remove(node)

        cells.append(f"{best_ns(change, 200) / 1000:.1f} us at {count} nodes")
    print("add or remove: " + ", ".join(cells))


def owners(ids: list[str], keys: list[bytes]) -> list[str]:
    owner = {key: node for node, group in Rendezvous(ids).pick_many(keys).items() for key in group}
    return [owner[key] for key in keys]


def ours(ids: list[str], keys: list[bytes]) -> dict[str, float]:
    hasher = Rendezvous(ids)
    pick, pick_many = hasher.pick, hasher.pick_many

    def one() -> None:
        for key in keys:
            pick(key)

    return {
        "pick": best_ns(one, len(keys)),
        "pick_many": best_ns(lambda: pick_many(keys), len(keys)),
    }


def peer(peer_python: Path, sets: list[list[str]], keys: list[bytes]) -> list[dict[str, float]]:
    spec = {"sets": sets, "keys": [key.hex() for key in keys], "rounds": ROUNDS}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        out = subprocess.run(
            [str(peer_python), "-c", PEER_SCRIPT, handle.name],
            check=True,
            capture_output=True,
            env=env,
            text=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    result: list[dict[str, float]] = json.loads(out)
    return result


def timings(peer_python: Path, attempts: int) -> None:
    """Print ns per key for pick and pick_many, ours next to the peer's.

    The two sides take turns ``attempts`` times and each figure is the best seen,
    so a burst of load on the machine does not land on one side only.
    """
    keys = keys_for(TIMED_KEYS)
    sets = [node_ids(count) for count in TIMED_NODE_COUNTS]
    best: dict[tuple[str, int, str], float] = {}
    for _ in range(attempts):
        for side, figures in (
            ("peer", peer(peer_python, sets, keys)),
            ("ours", [ours(ids, keys) for ids in sets]),
        ):
            for count, figure in zip(TIMED_NODE_COUNTS, figures, strict=True):
                for name, ns in figure.items():
                    slot = (side, count, name)
                    best[slot] = min(ns, best.get(slot, ns))
    print(f"ns per key ({TIMED_KEYS} keys, best of {attempts} x {ROUNDS} rounds);", end=" ")
    print("peer = emcache 1.3.3, compiled")
    print("nodes | pick: ours  peer  ratio | pick_many: ours  peer  ratio")
    for count in TIMED_NODE_COUNTS:
        cells = []
        for name in ("pick", "pick_many"):
            a, b = best["ours", count, name], best["peer", count, name]
            cells.append(f"{a:6.0f} {b:5.0f} {a / b:5.2f}x")
        print(f"{count:>5} |  {cells[0]}      |  {cells[1]}")


def alternatives() -> None:
    """Print the cost of ways to get the ranking byte or the 32-bit word from mmh3."""
    ids = [node_id.encode() for node_id in node_ids(8)]
    key = b"user:123456:profile"
    word = struct.Struct("<I").unpack_from
    ways: dict[str, Callable[[bytes], int]] = {
        "hash_bytes(data)[0]": lambda data: mmh3.hash_bytes(data)[0],
        "hash128(data) & 0xFF": lambda data: mmh3.hash128(data) & 0xFF,
        "hash64(data)[0] & 0xFF": lambda data: mmh3.hash64(data)[0] & 0xFF,
        "int.from_bytes(hash_bytes(data)[:4])": lambda data: int.from_bytes(
            mmh3.hash_bytes(data)[:4], "little"
        ),
        "struct.unpack_from('<I', hash_bytes(data))": lambda data: word(mmh3.hash_bytes(data))[0],
    }
    print("per node, 8 nodes, including key + node_id and the call (ns):")
    for name, way in ways.items():

        def run(way: Callable[[bytes], int] = way) -> None:
            for _ in range(1000):
                for node_id in ids:
                    way(key + node_id)

        print(f"  {best_ns(run, 8000):5.0f}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys for the spread")
    parser.add_argument("--peer-python", type=Path, default=DEFAULT_PEER)
    parser.add_argument("--attempts", type=int, default=ATTEMPTS, help="turns taken by each side")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, mmh3 {version('mmh3')}, {os.cpu_count()} cpus")
    keys = keys_for(args.keys)
    spread(keys)
    moved(keys)
    membership_cost()
    timings(args.peer_python, args.attempts)
    alternatives()
    return 0


if __name__ == "__main__":
    sys.exit(main())
