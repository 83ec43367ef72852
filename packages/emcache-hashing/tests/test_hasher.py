"""The Hasher protocol and its implementation by Rendezvous."""

from __future__ import annotations

from collections.abc import Iterable

from emcache_hashing import Crc32Modulo, Hasher, Ketama, PymemcacheRendezvous, Rendezvous, Server


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


def test_every_hasher_of_the_package_is_a_hasher() -> None:
    """Ketama, PymemcacheRendezvous and Crc32Modulo route through a bare Hasher."""
    servers = [Server("10.0.0.1", 11211), Server("10.0.0.2", 11211)]
    hashers: list[Hasher] = [
        Ketama(servers),
        PymemcacheRendezvous(servers),
        Crc32Modulo(servers),
        Rendezvous([server.node_id for server in servers]),
    ]
    for hasher in hashers:
        assert route(hasher, [b"x"]) == {hasher.pick(b"x"): [b"x"]}
        assert hasher.pick(b"x") in ("10.0.0.111211", "10.0.0.211211")


def test_every_hasher_rebuilds_from_servers_with_the_cluster_s_ids() -> None:
    """rebuild over Server values answers with the ids the cluster names its pools by."""
    servers = [Server("10.0.0.1", 11211), Server("10.0.0.2", 11212), Server.unix("/run/mc")]
    ids = {"10.0.0.111211", "10.0.0.211212", "/run/mc"}
    for template in (Ketama([]), PymemcacheRendezvous([]), Crc32Modulo([]), Rendezvous([])):
        rebuilt = template.rebuild(servers)
        assert set(rebuilt.nodes) == ids
        assert set(rebuilt.pick_many([b"user:%d" % i for i in range(200)])) == ids


def test_every_hasher_class_builds_from_servers_with_the_cluster_s_ids() -> None:
    """Each class, called on Server values, is a factory answering with the cluster's ids."""
    servers = [Server("10.0.0.1", 11211), Server("10.0.0.2", 11212), Server.unix("/run/mc")]
    ids = ("10.0.0.111211", "10.0.0.211212", "/run/mc")
    for factory in (Ketama, PymemcacheRendezvous, Crc32Modulo, Rendezvous):
        built = factory(servers)
        assert built.nodes == ids
        assert set(built.pick_many([b"user:%d" % i for i in range(200)])) == set(ids)
    keys = [b"user:%d" % i for i in range(500)]
    by_ids = Rendezvous(ids)
    assert [Rendezvous(servers).pick(key) for key in keys] == [by_ids.pick(key) for key in keys]
