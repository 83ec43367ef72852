"""The Hasher protocol and its implementation by Rendezvous."""

from __future__ import annotations

from collections.abc import Iterable

from emcache_hashing import Hasher, Rendezvous


class FirstByte:
    """A toy hasher over int nodes: the first byte of the key modulo the node count."""

    def __init__(self, count: int) -> None:
        self.count = count

    def pick(self, key: bytes) -> int:
        return key[0] % self.count

    def pick_many(self, keys: Iterable[bytes]) -> dict[int, list[bytes]]:
        groups: dict[int, list[bytes]] = {}
        for key in keys:
            groups.setdefault(self.pick(key), []).append(key)
        return groups


def route(hasher: Hasher, keys: list[bytes]) -> dict[str, list[bytes]]:
    """Code written against a bare Hasher, whose nodes are str ids."""
    return hasher.pick_many(keys)


def test_hasher_is_implemented_by_rendezvous() -> None:
    """Rendezvous is a Hasher of str node ids for the type checker and at run time."""
    hasher: Hasher[str] = Rendezvous(["a11211", "b11211"])
    assert route(hasher, [b"x"]) == {hasher.pick(b"x"): [b"x"]}


def test_hasher_can_name_nodes_with_another_type() -> None:
    """A Hasher may name its nodes with any hashable type, here ints."""
    hasher: Hasher[int] = FirstByte(3)
    assert hasher.pick(b"a") == ord("a") % 3
    assert hasher.pick_many([b"a", b"b", b"d"]) == {1: [b"a", b"d"], 2: [b"b"]}
