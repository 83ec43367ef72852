"""Check that emcache_hashing routes keys exactly as the emcache 1.x client does.

The compiled emcache 1.x lives in its own virtualenv (its import name is
``emcache``, like our facade), so its node selection runs in a subprocess with
that interpreter and reports the node index it picked for every key. Both sides
see the same node ids and keys; the script prints the number of keys routed
differently for each node count and exits with status 1 if there is any.

Usage::

    hatch run python tools/hashing_compat.py [--keys 100000] [--peer-python PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from emcache_hashing import Rendezvous

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PEER = ROOT / ".peers" / "emcache-1.3.3" / "bin" / "python"
NODE_COUNTS = (2, 3, 8, 50)

# Runs under the peer's interpreter. Input file: node ids (one per line), a
# blank line, then the keys in hex. Output: one byte per key, the index of the
# node the peer picked, then the same through its many-keys selection.
PEER_SCRIPT = """
import sys
from emcache._cython import cyemcache

text = open(sys.argv[1]).read()
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


def sample_keys(count: int, seed: int = 20240607) -> list[bytes]:
    """Keys of the shapes met in practice: readable names and arbitrary bytes."""
    rng = random.Random(seed)
    keys: dict[bytes, None] = {}
    i = 0
    while len(keys) < count:
        if i % 3 == 0:
            key = b"user:%d:profile" % rng.randrange(10**9)
        elif i % 3 == 1:
            key = b"k%d" % i
        else:
            key = bytes(rng.randrange(0x21, 0x100) for _ in range(rng.randrange(1, 64)))
        keys[key] = None
        i += 1
    return list(keys)


def peer_picks(peer_python: Path, ids: list[str], keys: list[bytes]) -> tuple[bytes, bytes]:
    """The peer's node index per key, by single-key and by many-keys selection."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(ids) + "\n\n" + "\n".join(key.hex() for key in keys))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        out = subprocess.run(
            [str(peer_python), "-c", PEER_SCRIPT, handle.name],
            check=True,
            capture_output=True,
            env=env,
        ).stdout
    finally:
        os.unlink(handle.name)
    return out[: len(keys)], out[len(keys) :]


def our_picks(ids: list[str], keys: list[bytes]) -> tuple[bytes, bytes]:
    """Our node index per key, by pick() and by pick_many()."""
    hasher = Rendezvous(ids)
    index = {node_id: i for i, node_id in enumerate(ids)}
    single = bytes(index[hasher.pick(key)] for key in keys)
    owner = {key: index[node] for node, group in hasher.pick_many(keys).items() for key in group}
    return single, bytes(owner[key] for key in keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=100_000, help="number of keys (default 100000)")
    parser.add_argument("--peer-python", type=Path, default=DEFAULT_PEER)
    args = parser.parse_args()
    keys = sample_keys(args.keys)
    total = 0
    for count in NODE_COUNTS:
        ids = node_ids(count)
        peer_single, peer_many = peer_picks(args.peer_python, ids, keys)
        single, many = our_picks(ids, keys)
        by_pick = sum(a != b for a, b in zip(single, peer_single, strict=True))
        by_many = sum(a != b for a, b in zip(many, peer_many, strict=True))
        total += by_pick + by_many
        print(f"{count:>3} nodes, {len(keys)} keys: {by_pick} mismatches (pick), ", end="")
        print(f"{by_many} (pick_many)")
    print(f"total mismatches: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
