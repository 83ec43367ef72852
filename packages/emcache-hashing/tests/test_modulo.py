"""Crc32Modulo: gomemcache's ServerList selection, checked against CRC-32 vectors."""

from __future__ import annotations

import copy
import pickle

import pytest

from emcache_hashing import Crc32Modulo, NoNodesError, Server

# IEEE CRC-32 values of Go's hash/crc32 golden tests (ChecksumIEEE), which
# ServerList.PickServer reduces modulo the server count.
GO_GOLDEN = [
    (b"a", 0xE8B7BE43),
    (b"ab", 0x9E83486D),
    (b"abc", 0x352441C2),
    (b"abcd", 0xED82CD11),
    (b"abcdefghij", 0x3981703A),
    (b"Discard medicine more than two years old.", 0x6B9CDFE7),
    (b"Nepal premier won't resign.", 0x4C418325),
    (b"C is as portable as Stonehedge!!", 0x7D0A377F),
]
NODES = [f"10.0.0.{i}11211" for i in range(1, 9)]


@pytest.mark.parametrize(("key", "checksum"), GO_GOLDEN)
@pytest.mark.parametrize("count", [2, 3, 5, 8])
def test_crc32_modulo_picks_checksum_modulo_count(key: bytes, checksum: int, count: int) -> None:
    """The node at index ChecksumIEEE(key) % count, in the given order."""
    assert Crc32Modulo(NODES[:count]).pick(key) == NODES[checksum % count]


def test_crc32_modulo_reads_only_the_first_256_bytes() -> None:
    """gomemcache copies the key into a 256-byte buffer before hashing it."""
    hasher = Crc32Modulo(NODES)
    long_keys = [b"k" * 256 + tail for tail in (b"a", b"bb", b"cdefgh")]
    assert {hasher.pick(key) for key in long_keys} == {hasher.pick(b"k" * 256)}


def test_crc32_modulo_repeated_nodes_get_more_slots() -> None:
    """A node listed twice owns two slots, gomemcache's way of weighting."""
    hasher = Crc32Modulo(["a", "b", "a"])
    assert hasher.nodes == ("a", "b", "a")
    keys = [b"user:%d" % i for i in range(3000)]
    share = sum(hasher.pick(key) == "a" for key in keys) / len(keys)
    assert 0.6 < share < 0.73
    hasher.remove("a")
    remaining: tuple[str, ...] = hasher.nodes
    assert remaining == ("b",)


def test_crc32_modulo_takes_servers_as_their_node_ids() -> None:
    """A Server stands for its node id; the order of the list is the routing."""
    hasher = Crc32Modulo([Server("10.0.0.1", 11211), "10.0.0.211211", Server.unix("/run/mc")])
    assert hasher.nodes == ("10.0.0.111211", "10.0.0.211211", "/run/mc")
    assert hasher.pick(b"abc") == hasher.nodes[0x352441C2 % 3]
    hasher.add(Server("10.0.0.4", 11211))
    last: str = hasher.nodes[-1]
    assert last == "10.0.0.411211"
    assert hasher.rebuild(reversed(hasher.nodes)).nodes == tuple(reversed(hasher.nodes))


def test_crc32_modulo_edges() -> None:
    """One node needs no hashing; none raises NoNodesError; bad input raises."""
    assert Crc32Modulo(["only"]).pick(b"x") == "only"
    assert Crc32Modulo(["only"]).pick_many([b"x", b"y"]) == {"only": [b"x", b"y"]}
    with pytest.raises(NoNodesError):
        Crc32Modulo([]).pick(b"x")
    with pytest.raises(ValueError, match="empty"):
        Crc32Modulo([""])
    with pytest.raises(TypeError, match="tuple"):
        Crc32Modulo([7])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not present"):
        Crc32Modulo(["a"]).remove("b")
    with pytest.raises(TypeError, match="key must be bytes"):
        Crc32Modulo(["a", "b"]).pick("x")  # type: ignore[arg-type]


def test_crc32_modulo_pick_many_pickle_and_repr() -> None:
    """pick_many groups like pick; clones route alike; repr lists the nodes."""
    hasher = Crc32Modulo(NODES[:5])
    keys = [b"user:%d" % i for i in range(500)]
    for node, group in hasher.pick_many(keys).items():
        assert group == [key for key in keys if hasher.pick(key) == node]
    for clone in (pickle.loads(pickle.dumps(hasher)), copy.deepcopy(hasher)):
        assert clone.nodes == hasher.nodes
        assert [clone.pick(k) for k in keys] == [hasher.pick(k) for k in keys]
    assert repr(Crc32Modulo(["a", "b"])) == "Crc32Modulo(['a', 'b'])"
