"""Check that emcache_hashing routes keys exactly as the emcache 1.x client does.

The compiled emcache 1.x lives in its own virtualenv under ``.peers/`` (its
import name is ``emcache``, like our facade), so its node selection runs there
(:func:`peers.run_in`) and reports the node index it picked for every key. Both
sides see the same node ids and keys (the compat key set: readable names,
printable ASCII, UTF-8 and arbitrary bytes); the check prints the number of keys
routed differently for each node count and exits with status 1 if there is any.
Unlike the other compat checks it needs no memcached: emcache 1.x exposes its
routing function, and the check asks it directly.

Usage::

    hatch run python -m compat.emcache1_rendezvous [--keys 100000] [--peer-python PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import peers
from compat._harness import KEY_COUNT, NODE_COUNTS, make_keys
from emcache_hashing import Rendezvous

# Runs under the peer's interpreter. Input (standard input): node ids (one per line), a
# blank line, then the keys in hex. Output: one byte per key, the index of the
# node the peer picked, then the same through its many-keys selection.
PEER_SCRIPT = """
import sys
from emcache._cython import cyemcache

text = sys.stdin.read()
ids, _, keys = text.partition("\\n\\n")
nodes = [cyemcache.RendezvousNode(node_id, index) for index, node_id in enumerate(ids.split("\\n"))]
keys = [bytes.fromhex(key) for key in keys.split()]
single = bytes(cyemcache.node_selection(key, nodes) for key in keys)
owner = {}
for index, group in cyemcache.nodes_selection(keys, nodes).items():
    for key in group:
        owner[key] = index
sys.stdout.buffer.write(single + bytes(owner[key] for key in keys))
"""


def node_ids(count: int) -> list[str]:
    """Node ids as emcache 1.x builds them: host and port glued, or a socket path."""
    ids = [f"10.0.{i // 200}.{i % 200 + 1}11211" for i in range(count - 1)]
    ids.append("/var/run/memcached/memcached.sock" if count % 2 else "cache-a.example.com11212")
    return ids


def peer_picks(peer_python: Path, ids: list[str], keys: list[bytes]) -> tuple[bytes, bytes]:
    """The peer's node index per key, by single-key and by many-keys selection."""
    spec = "\n".join(ids) + "\n\n" + "\n".join(key.hex() for key in keys)
    out = peers.run_in(peer_python, PEER_SCRIPT, spec)
    return out[: len(keys)], out[len(keys) :]


def our_picks(ids: list[str], keys: list[bytes]) -> tuple[bytes, bytes]:
    """Our node index per key, by pick() and by pick_many()."""
    hasher = Rendezvous(ids)
    index = {node_id: i for i, node_id in enumerate(ids)}
    single = bytes(index[hasher.pick(key)] for key in keys)
    owner = {key: index[node] for node, group in hasher.pick_many(keys).items() for key in group}
    return single, bytes(owner[key] for key in keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=KEY_COUNT, help="number of keys")
    parser.add_argument("--nodes", type=int, nargs="*", default=list(NODE_COUNTS))
    parser.add_argument("--peer-python", type=Path, default=peers.python_of(peers.EMCACHE_1))
    args = parser.parse_args(argv)
    keys = make_keys(args.keys)
    total = 0
    for count in args.nodes:
        ids = node_ids(count)
        peer_single, peer_many = peer_picks(args.peer_python, ids, keys)
        single, many = our_picks(ids, keys)
        by_pick = sum(a != b for a, b in zip(single, peer_single, strict=True))
        by_many = sum(a != b for a, b in zip(many, peer_many, strict=True))
        total += by_pick + by_many
        print(f"{count:>3} nodes, {len(keys)} keys: {by_pick} mismatches (pick), ", end="")
        print(f"{by_many} (pick_many)", flush=True)
    print(f"total mismatches: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
