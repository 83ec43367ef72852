"""Check PymemcacheRendezvous against the real pymemcache HashClient and real nodes.

For each scenario, 100,000 keys are stored through ``pymemcache.HashClient``
(its default hasher) into throwaway nodes; then every node is asked which keys
it holds and each key's node is compared with the one
``emcache_hashing.PymemcacheRendezvous`` picks. HashClient hashes the key
object it is given, so every node count runs twice: with ``str`` keys
(``allow_unicode_keys=True``, so non-ASCII text is in the set) and with
``bytes`` keys (arbitrary bytes included). A last row uses unix sockets. Exit
status 1 if any key is misplaced.

Run it with the compat venv's python (tools/compat/README.md)::

    PYTHONPATH=tools /tmp/emcache-compat/bin/python -m compat.pymemcache_hashclient
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compat import _harness as harness
from emcache_hashing import PymemcacheRendezvous
from emcache_testing import MemcachedLauncher, MemcachedNode


def run(
    pymemcache: Any, name: str, nodes: list[MemcachedNode], keys: list[bytes], key_type: str
) -> harness.Outcome:
    """Store the keys through HashClient, then compare where they are with our picks."""
    servers = harness.servers_of(nodes)
    client = pymemcache.HashClient(
        [s.host if s.is_unix else (s.host, s.port) for s in servers],
        allow_unicode_keys=True,
        default_noreply=False,
        connect_timeout=5,
        timeout=30,
    )

    def as_given(key: bytes) -> str | bytes:
        """The key as the pymemcache application hands it over."""
        return key.decode() if key_type == "str" else key

    def store(batch: Sequence[bytes]) -> int:
        return len(client.set_many({as_given(key): b"1" for key in batch}, noreply=False))

    names = {(s.host if s.is_unix else f"{s.host}:{s.port}"): i for i, s in enumerate(servers)}
    try:
        hasher = PymemcacheRendezvous(servers, key_type=key_type)  # type: ignore[arg-type]
        return harness.check(
            name,
            "pymemcache",
            nodes,
            keys,
            store,
            harness.picks_index(hasher, servers),
            lambda key: names[client.hasher.get_node(as_given(key))],
        )
    finally:
        client.close()


def main() -> int:
    args = harness.parse_arguments(__doc__)
    pymemcache = harness.load_peer("pymemcache")
    text_keys = harness.make_keys(args.keys, utf8_only=True)
    byte_keys = harness.make_keys(args.keys)
    outcomes = []
    with MemcachedLauncher() as launcher:
        tcp: list[MemcachedNode] = []
        for count in args.nodes:
            if len(tcp) < count:
                tcp += harness.start_nodes(launcher, count - len(tcp))
            for key_type, keys in (("str", text_keys), ("bytes", byte_keys)):
                name = f"{key_type} keys, {count} nodes"
                outcomes.append(run(pymemcache, name, tcp[:count], keys, key_type))
                print(f"{name}: {outcomes[-1].mismatches} mismatches", flush=True)
        unix = harness.start_nodes(launcher, 3, unix=True)
        outcomes.append(run(pymemcache, "str keys, 3 unix sockets", unix, text_keys, "str"))
    version = getattr(pymemcache, "__version__", "?")
    harness.print_outcomes(f"PymemcacheRendezvous vs pymemcache {version} HashClient", outcomes)
    return 0 if all(outcome.ok for outcome in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
