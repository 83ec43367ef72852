"""Measure the hashers of emcache_hashing: ns per pick, rebuild time, keys moved, spread.

Every hasher is timed on the same keys (``user:N:profile``, 15 to 20 bytes)
at 8 and 50 nodes, best of several rounds of a plain loop over 10,000 keys.
The peers' own routing runs in the same loop, taking turns with ours:

- emcache 1.3.3's compiled rendezvous selection (``node_selection``), next to
  ``Rendezvous``, when its venv exists under ``.peers/`` (``python -m peers``);
  it runs there through :func:`peers.run_in`, since its import name is ours;
- pylibmc ``Client.hash(key)``: libmemcached's compiled routing (key hash and
  continuum search in C), plus one Python call into the extension;
- pymemcache ``RendezvousHash.get_node(key)``: pure Python, like ours.

pylibmc and pymemcache are timed when this interpreter imports them (run it
with the compat venv's python, see tools/compat/README.md). gomemcache's
``ServerList`` is Go and is not timed here. Then: the time to build each hasher
over 50 nodes (Ketama once with its point cache empty, once warm, as after a
membership change) and of one ``Rendezvous.add`` or ``remove``, the share of
keys that change node when a ninth node joins eight or one of eight leaves,
and the spread of keys over the nodes (busiest and idlest node against the mean).

Usage::

    hatch run python -m bench.hashing
    PYTHONPATH=tools /tmp/emcache-compat/bin/python -m bench.hashing
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import platform
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import Any

import peers
from emcache_hashing import (
    Crc32Modulo,
    Hasher,
    Ketama,
    PymemcacheRendezvous,
    Rendezvous,
    Server,
    _ketama,
)

TIMED_KEYS = 10_000
ROUNDS = 7
Build = Callable[[Sequence[Server]], Hasher]

HASHERS: dict[str, Build] = {
    "Rendezvous (emcache 1.x)": lambda servers: Rendezvous([s.node_id for s in servers]),
    "Ketama, one_at_a_time": lambda servers: Ketama(servers),
    "Ketama, md5": lambda servers: Ketama(servers, key_hash="md5"),
    "Ketama, weighted md5": lambda servers: Ketama(servers, key_hash="md5", weighted=True),
    "PymemcacheRendezvous, str": lambda servers: PymemcacheRendezvous(servers),
    "Crc32Modulo": lambda servers: Crc32Modulo(servers),
}
# Which peer routing each hasher is timed next to.
PEER_OF = {
    "Rendezvous (emcache 1.x)": "emcache 1.3.3",
    "Ketama, one_at_a_time": "pylibmc",
    "Ketama, md5": "pylibmc md5",
    "Ketama, weighted md5": "pylibmc weighted",
    "PymemcacheRendezvous, str": "pymemcache",
}


# Runs under emcache 1.3.3's interpreter: our timing loop over its selection.
# Input: JSON {"ids": [node id, ...], "keys": [hex, ...], "rounds": n};
# output: ns per key of its single-key selection, best of the rounds.
EMCACHE_1_SCRIPT = """
import json, sys, time
from emcache._cython import cyemcache

spec = json.load(sys.stdin)
keys = [bytes.fromhex(key) for key in spec["keys"]]
nodes = [cyemcache.RendezvousNode(node_id, node_id) for node_id in spec["ids"]]
select = cyemcache.node_selection
times = []
for _ in range(spec["rounds"]):
    start = time.perf_counter_ns()
    [select(key, nodes) for key in keys]
    times.append(time.perf_counter_ns() - start)
print(min(times) / len(keys))
"""


def servers_for(count: int) -> list[Server]:
    """TCP servers on the default port, as a cluster of hosts would have them."""
    return [Server(f"10.0.{i // 200}.{i % 200 + 1}", 11211) for i in range(count)]


def keys_for(count: int, *, seed: int | None = None) -> list[bytes]:
    """Keys shaped like an application's: a prefix and a numeric id.

    Consecutive ids by default; random ids (distinct, drawn from ``seed``)
    for the spread, which consecutive ids would flatter under CRC-32.
    """
    if seed is None:
        return [b"user:%d:profile" % i for i in range(count)]
    ids = random.Random(seed).sample(range(10**9), count)
    return [b"user:%d:profile" % i for i in ids]


def loop(pick: Callable[[bytes], object], keys: Sequence[bytes]) -> Callable[[], object]:
    """A run that picks every key in turn."""
    return lambda: [pick(key) for key in keys]


def best_ns(run: Callable[[], object], keys: int) -> float:
    """The best of ROUNDS runs, in nanoseconds per key."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter_ns()
        run()
        times.append(time.perf_counter_ns() - started)
    return min(times) / keys


def load(name: str) -> Any:
    """The peer module, or None when this interpreter lacks it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def emcache_1_ns(servers: Sequence[Server], keys: Sequence[bytes]) -> float | None:
    """emcache 1.3.3's ns per key over ``servers``, or None without its venv."""
    python = peers.python_of(peers.EMCACHE_1)
    if not python.exists():
        return None
    spec = {"ids": [s.node_id for s in servers], "keys": [k.hex() for k in keys], "rounds": ROUNDS}
    ns: float = json.loads(peers.run_in(python, EMCACHE_1_SCRIPT, json.dumps(spec)))
    return ns


def peer_picks(servers: Sequence[Server]) -> dict[str, Callable[[bytes], object]]:
    """The peers' own routing functions over ``servers``, those that are importable here."""
    picks: dict[str, Callable[[bytes], object]] = {}
    pylibmc = load("pylibmc")
    if pylibmc is not None:
        specs = [f"{s.host}:{s.port}" for s in servers]
        weighted = [f"{s.host}:{s.port}:2" for s in servers]
        picks["pylibmc"] = pylibmc.Client(specs, behaviors={"ketama": True}).hash
        picks["pylibmc md5"] = pylibmc.Client(specs, behaviors={"ketama": True, "hash": "md5"}).hash
        picks["pylibmc weighted"] = pylibmc.Client(
            weighted, behaviors={"ketama_weighted": True}
        ).hash
    rendezvous = load("pymemcache.client.rendezvous")
    if rendezvous is not None:
        hasher = rendezvous.RendezvousHash([f"{s.host}:{s.port}" for s in servers])
        # HashClient passes the key as the application gave it: a str here.
        picks["pymemcache"] = lambda key: hasher.get_node(key.decode())
    return picks


def time_picks(counts: Sequence[int]) -> None:
    keys = keys_for(TIMED_KEYS)
    print("\nns per key (pick, pick_many; peer: its own routing function, same keys)\n")
    print("| hasher | nodes | `pick` | `pick_many` | peer | peer ns | ratio |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for count in counts:
        servers = servers_for(count)
        picks = peer_picks(servers)
        for name, build in HASHERS.items():
            hasher = build(servers)
            ours = best_ns(loop(hasher.pick, keys), len(keys))
            many = best_ns(functools.partial(hasher.pick_many, keys), len(keys))
            peer_name = PEER_OF.get(name, "")
            peer = picks.get(peer_name)
            theirs = best_ns(loop(peer, keys), len(keys)) if peer is not None else None
            if peer_name == "emcache 1.3.3":
                theirs = emcache_1_ns(servers, keys)
            if theirs is None:
                row = f"| {name} | {count} | {ours:.0f} | {many:.0f} | {peer_name or '-'} | | |"
            else:
                ratio = ours / theirs
                row = (
                    f"| {name} | {count} | {ours:.0f} | {many:.0f} | {peer_name} "
                    f"| {theirs:.0f} | {ratio:.2f}x |"
                )
            print(row, flush=True)


def time_rebuilds(count: int) -> None:
    servers = servers_for(count)
    print(f"\nbuilding a hasher over {count} nodes (best of {ROUNDS}, ms)\n")
    print("| hasher | build | one node removed (`rebuild`) |")
    print("| --- | ---: | ---: |")
    for name, build in HASHERS.items():
        cold = ""
        if name.startswith("Ketama"):
            timings = []
            for _ in range(ROUNDS):
                _ketama._POINT_CACHE.clear()
                started = time.perf_counter_ns()
                build(servers)
                timings.append(time.perf_counter_ns() - started)
            cold = f" (point cache empty: {min(timings) / 1e6:.2f})"
        built = build(servers)
        warm = best_ns(functools.partial(build, servers), 1) / 1e6
        rebuild: Callable[[list[str]], object] = built.rebuild  # type: ignore[attr-defined]
        ids = [server.node_id for server in servers[1:]]
        removed = best_ns(functools.partial(rebuild, ids), 1) / 1e6
        print(f"| {name} | {warm:.2f}{cold} | {removed:.2f} |", flush=True)


def time_membership(counts: Sequence[int]) -> None:
    """One ``Rendezvous.add`` or ``remove``, once the code for each node count is compiled."""
    ids = [server.node_id for server in servers_for(max(counts) + 1)]
    cells = []
    for count in counts:
        hasher = Rendezvous(ids[:count])

        def change(hasher: Rendezvous = hasher, node: str = ids[count]) -> None:
            for _ in range(100):
                hasher.add(node)
                hasher.remove(node)

        change()
        cells.append(f"{best_ns(change, 200) / 1000:.1f} us at {count} nodes")
    print("\nRendezvous, one add or remove: " + ", ".join(cells), flush=True)


def spread(hasher: Hasher, keys: Sequence[bytes], nodes: Sequence[str]) -> tuple[float, float]:
    """Busiest and idlest node's key count, against the mean."""
    counts = Counter(hasher.pick(key) for key in keys)
    mean = len(keys) / len(nodes)
    return max(counts.values()) / mean, min(counts.get(node, 0) for node in nodes) / mean


def moves(keys_count: int) -> None:
    keys = keys_for(keys_count, seed=22)
    print(f"\nkeys moved and spread ({keys_count:,} keys)\n")
    print("| hasher | 8 → 9 nodes | 8 → 7 nodes | spread 8 nodes max/mean, min/mean |")
    print("| --- | ---: | ---: | ---: |")
    servers = servers_for(9)
    for name, build in HASHERS.items():
        eight = build(servers[:8])
        before = [eight.pick(key) for key in keys]
        grown = build(servers)
        after = [grown.pick(key) for key in keys]
        moved_in = sum(old != new for old, new in zip(before, after, strict=True))
        to_new = sum(
            old != new and new == servers[8].node_id for old, new in zip(before, after, strict=True)
        )
        shrunk = build(servers[:3] + servers[4:8])
        gone = servers[3].node_id
        moved_out = sum(old != shrunk.pick(key) for key, old in zip(keys, before, strict=True))
        owned = sum(old == gone for old in before)
        high, low = spread(eight, keys, [server.node_id for server in servers[:8]])
        print(
            f"| {name} | {moved_in / len(keys):.2%} ({to_new / max(moved_in, 1):.0%} to the new) "
            f"| {moved_out / len(keys):.2%} (removed node owned {owned / len(keys):.2%}) "
            f"| {high:.3f}, {low:.3f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="*", default=[8, 50])
    parser.add_argument("--move-keys", type=int, default=200_000)
    args = parser.parse_args()
    versions = [f"Python {platform.python_version()}", f"mmh3 {version('mmh3')}"]
    for name in ("pylibmc", "pymemcache"):
        if load(name) is not None:
            versions.append(f"{name} {version(name)}")
    print(", ".join(versions))
    time_picks(args.nodes)
    time_rebuilds(50)
    time_membership([2, 8, 64])
    moves(args.move_keys)


if __name__ == "__main__":
    main()
