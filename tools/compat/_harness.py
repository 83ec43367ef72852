"""What every compat check shares: real nodes, a key set, where each key really is.

A check stores a key set through a peer client into throwaway memcached nodes,
then asks every node which keys it holds (``lru_crawler metadump all``, one
reply per node listing its keys URL-encoded) and compares that with the node
our hasher picks for each key. A key found on no node or on two is reported
too: the comparison is only as good as the storage.
"""

from __future__ import annotations

import argparse
import importlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import unquote_to_bytes

from emcache_hashing import Server
from emcache_testing import MemcachedLauncher, MemcachedNode, NodeError

__all__ = [
    "KEY_COUNT",
    "NODE_COUNTS",
    "Outcome",
    "check",
    "compare",
    "flush",
    "load_peer",
    "locate",
    "make_keys",
    "parse_arguments",
    "picks_index",
    "print_outcomes",
    "servers_of",
    "start_default_port_nodes",
    "start_nodes",
]

KEY_COUNT = 100_000
NODE_COUNTS = (2, 3, 8, 50)
_END = b"END\r\n"
_BUSY = b"BUSY currently processing crawler request\r\n"
_PRINTABLE = bytes(range(0x21, 0x7F))
_HIGH = bytes(range(0x80, 0x100))
_WORDS = ("user", "session", "cart", "feed", "profile", "clé", "日本", "ключ")


def parse_arguments(doc: str) -> argparse.Namespace:
    """The options every check takes: ``--keys N`` and ``--nodes 2 3 ...``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--keys", type=int, default=KEY_COUNT)
    parser.add_argument("--nodes", type=int, nargs="*", default=list(NODE_COUNTS))
    return parser.parse_args()


def load_peer(name: str) -> ModuleType:
    """Import a peer client, or exit with how to set up the venv that has it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise SystemExit(
            f"{name} is not importable from this interpreter: run the check with the "
            "python of the compat venv (see tools/compat/README.md)"
        ) from None


def make_keys(count: int = KEY_COUNT, *, utf8_only: bool = False, seed: int = 22) -> list[bytes]:
    """``count`` distinct valid memcached keys, the same on every run.

    Mostly application-shaped keys (``user:123:profile``), then random
    printable ASCII up to 250 bytes, UTF-8 text with non-ASCII characters and,
    unless ``utf8_only``, arbitrary bytes >= 0x80 (a ``str`` key can only be
    UTF-8, and libmemcached hashes high bytes through a signed char).
    """
    rng = random.Random(seed)
    keys: dict[bytes, None] = {}
    kind = 0
    while len(keys) < count:
        kind = (kind + 1) % 10
        if kind < 6:
            word = _WORDS[rng.randrange(5)]
            key = f"{word}:{rng.randrange(10**9)}:{_WORDS[rng.randrange(5)]}".encode()
        elif kind < 8:
            size = 250 if rng.random() < 0.01 else rng.randint(1, 60)
            key = bytes(rng.choices(_PRINTABLE, k=size))
        elif kind < 9 or utf8_only:
            key = f"{_WORDS[rng.randrange(5, 8)]}:{rng.randrange(10**6)}".encode()
        else:
            key = bytes(rng.choices(_PRINTABLE + _HIGH, k=rng.randint(1, 40)))
        keys[key] = None
    return list(keys)


def start_nodes(
    launcher: MemcachedLauncher, count: int, *, unix: bool = False
) -> list[MemcachedNode]:
    """``count`` fresh nodes on loopback (or unix sockets)."""
    return launcher.start(count, unix=unix, memory_mb=64)


def start_default_port_nodes(launcher: MemcachedLauncher, count: int) -> list[MemcachedNode]:
    """``count`` nodes on port 11211 of 127.0.0.2, 127.0.0.3, ... (all loopback).

    libmemcached leaves port 11211 out of what it hashes, which only a node on
    that port shows. Returns no node when one of those addresses is taken.
    """
    nodes = []
    for index in range(count):
        try:
            nodes += launcher.start(host=f"127.0.0.{index + 2}", port=11211)
        except NodeError:
            return []
    return nodes


def servers_of(
    nodes: Sequence[MemcachedNode], weights: Sequence[int] | None = None
) -> list[Server]:
    """Our servers for the nodes (with ``weights``, in node order), spelled as the peer's."""
    servers = []
    for index, node in enumerate(nodes):
        weight = weights[index] if weights else 1
        if node.socket_path is not None:
            servers.append(Server.unix(node.socket_path, weight))
        else:
            assert node.port is not None
            servers.append(Server(node.host, node.port, weight))
    return servers


def _request(
    node: MemcachedNode, request: bytes, until: tuple[bytes, ...], timeout: float = 60.0
) -> bytes:
    """Send ``request`` and read until the reply ends with one of ``until``."""
    with node.connect(timeout) as sock:
        sock.sendall(request)
        reply = bytearray()
        while not reply.endswith(until):
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"{node.address_text} closed the connection")
            reply += chunk
        return bytes(reply)


def flush(nodes: Sequence[MemcachedNode]) -> None:
    """Empty every node, and make sure its metadump is empty."""
    for node in nodes:
        _request(node, b"flush_all\r\n", (b"OK\r\n",))
    time.sleep(0.01)
    for node in nodes:
        if held_keys(node):
            raise RuntimeError(f"{node.address_text} still lists keys after flush_all")


def held_keys(node: MemcachedNode) -> list[bytes]:
    """The keys ``node`` holds, read with ``lru_crawler metadump all``."""
    for _ in range(100):
        reply = _request(node, b"lru_crawler metadump all\r\n", (_END, _BUSY))
        if reply != _BUSY:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"{node.address_text}: the LRU crawler stayed busy")
    keys = []
    for line in reply[: -len(_END)].split(b"\n"):
        if line.startswith(b"key="):
            keys.append(unquote_to_bytes(line[4 : line.index(b" ")]))
    return keys


def locate(nodes: Sequence[MemcachedNode]) -> tuple[dict[bytes, int], int]:
    """Map each stored key to the index of the node holding it; count keys on two nodes."""
    where: dict[bytes, int] = {}
    doubles = 0
    for index, node in enumerate(nodes):
        for key in held_keys(node):
            if key in where:
                doubles += 1
            where[key] = index
    return where, doubles


@dataclass
class Outcome:
    """One scenario's figures."""

    scenario: str
    nodes: int
    keys: int
    missing: int = 0
    doubles: int = 0
    mismatches: int = 0
    peer_disagrees: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.doubles or self.mismatches or self.peer_disagrees)


def check(
    name: str,
    peer: str,
    nodes: Sequence[MemcachedNode],
    keys: Sequence[bytes],
    store: Callable[[Sequence[bytes]], int],
    ours: Callable[[bytes], int],
    peers: Callable[[bytes], int] | None = None,
) -> Outcome:
    """One scenario: empty the nodes, store the keys, find them, compare with the picks.

    ``store`` stores a batch of keys through the peer client and returns how many it
    could not; ``ours`` and ``peers`` are as for :func:`compare`.
    """
    started = time.perf_counter()
    outcome = Outcome(name, len(nodes), len(keys))
    flush(nodes)
    for start in range(0, len(keys), 5000):
        failed = store(keys[start : start + 5000])
        if failed:
            raise RuntimeError(f"{peer} could not store {failed} keys")
    where, outcome.doubles = locate(nodes)
    compare(outcome, keys, where, ours, peers)
    outcome.seconds = time.perf_counter() - started
    return outcome


def picks_index(hasher: Any, servers: Sequence[Server]) -> Callable[[bytes], int]:
    """``hasher.pick`` as the index of the server it names in ``servers``."""
    index = {server.node_id: i for i, server in enumerate(servers)}
    return lambda key: index[hasher.pick(key)]


def compare(
    outcome: Outcome,
    keys: Sequence[bytes],
    where: dict[bytes, int],
    ours: Callable[[bytes], int],
    peers: Callable[[bytes], int] | None = None,
) -> None:
    """Count keys stored nowhere, and keys our hasher (or the peer's own routing) misplaces."""
    for key in keys:
        held = where.get(key)
        if held is None:
            outcome.missing += 1
            continue
        picked = ours(key)
        if picked != held:
            outcome.mismatches += 1
            if len(outcome.examples) < 5:
                outcome.examples.append(f"{key!r}: on node {held}, we pick {picked}")
        if peers is not None and peers(key) != held:
            outcome.peer_disagrees += 1


def print_outcomes(title: str, outcomes: Sequence[Outcome]) -> None:
    """A table of the outcomes, then the first mismatching keys of each."""
    print(f"\n{title}")
    header = f"{'scenario':<42} {'nodes':>5} {'keys':>7} {'missing':>7} {'on 2':>4} "
    print(header + f"{'mismatches':>10} {'peer':>5} {'seconds':>7}")
    for o in outcomes:
        print(
            f"{o.scenario:<42} {o.nodes:>5} {o.keys:>7} {o.missing:>7} {o.doubles:>4} "
            f"{o.mismatches:>10} {o.peer_disagrees:>5} {o.seconds:>7.1f}"
        )
    for o in outcomes:
        for example in o.examples:
            print(f"  {o.scenario}: {example}")
    print("\nmismatches: keys stored on another node than ours picks; peer: keys the peer's")
    print("own routing function places elsewhere than where they were stored (a sanity check)")
