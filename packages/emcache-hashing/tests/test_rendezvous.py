"""Rendezvous: routing, tie-breaking, spread, membership changes and bad input."""

from __future__ import annotations

import copy
import pickle
from collections import Counter

import mmh3
import pytest

from emcache_hashing import NoNodesError, Rendezvous, _selector
from emcache_hashing._score import score

TCP = [f"10.0.{i // 200}.{i % 200 + 1}11211" for i in range(100)]
KEYS = [b"user:%d:profile" % i for i in range(20_000)]


def _sx(byte: int) -> int:
    return byte | 0xFFFFFF00 if byte >= 0x80 else byte


def reference_score(data: bytes) -> int:
    """The emcache 1.x formula as written, independent of the package's shortcut."""
    b0, b1, b2, b3 = mmh3.hash_bytes(data)[:4]
    return (_sx(b3) & 0xFF000000) | (_sx(b2) & 0xFFFF0000) | (_sx(b1) & 0xFFFFFF00) | _sx(b0)


def reference_pick(nodes: list[str], key: bytes) -> str:
    """Highest score, then highest id score, then the node listed first."""
    ranks = [
        (reference_score(key + node.encode()), reference_score(node.encode()), -index)
        for index, node in enumerate(nodes)
    ]
    return nodes[ranks.index(max(ranks))]


# Picked by the compiled emcache 1.3.3 over the nodes of PEER_NODES, in that order.
PEER_NODES = ["10.0.0.111211", "10.0.0.211211", "10.0.0.311211", "/var/run/memcached.sock"]
PEER_PICKS = [
    (b"a", "10.0.0.211211"),
    (b"foo", "10.0.0.311211"),
    (b"user:1", "/var/run/memcached.sock"),
    (b"user:2", "10.0.0.311211"),
    (b"user:3", "/var/run/memcached.sock"),
    (b"session:42", "10.0.0.211211"),
    (b"\xff\xfe", "10.0.0.311211"),
    (b"k" * 250, "10.0.0.111211"),
]


@pytest.mark.parametrize(("key", "expected"), PEER_PICKS)
def test_rendezvous_picks_what_emcache_1_picks(key: bytes, expected: str) -> None:
    """Known picks of emcache 1.3.3 over TCP and unix socket ids are reproduced."""
    assert Rendezvous(PEER_NODES).pick(key) == expected


@pytest.mark.parametrize("count", [2, 3, 8, 33, 64, 65])
def test_rendezvous_pick_follows_the_formula(count: int) -> None:
    """Generated and looping picks both take the best score, then id score, then first node."""
    nodes = TCP[:count]
    hasher = Rendezvous(nodes)
    for key in KEYS[:2000]:
        assert hasher.pick(key) == reference_pick(nodes, key), key


def test_rendezvous_tie_goes_to_the_node_whose_id_scores_higher() -> None:
    """On an equal key score the id score decides, whatever the node order (peer-checked vector)."""
    key = b"t245"
    assert score(key + b"n1") == score(key + b"n2") == 0xFFFFFFB6
    assert score(b"n1") == 0xFFFFFF09 > score(b"n2") == 0xFF00007C
    assert Rendezvous(["n1", "n2"]).pick(key) == "n1"
    assert Rendezvous(["n2", "n1"]).pick(key) == "n1"


def test_rendezvous_full_tie_goes_to_the_node_listed_first() -> None:
    """When key scores and id scores both tie, the first listed node wins (peer-checked vector)."""
    a, b, key = "10.0.0.711211", "10.0.0.1311211", b"k103"
    assert score(a.encode()) == score(b.encode()) == 0xFFFFFF4D
    assert score(key + a.encode()) == score(key + b.encode()) == 0xFFFFFF83
    assert Rendezvous([a, b]).pick(key) == a
    assert Rendezvous([b, a]).pick(key) == b
    assert Rendezvous([b, a]).pick_many([key]) == {b: [key]}


def test_rendezvous_full_tie_in_the_exact_pass_goes_to_the_node_listed_first() -> None:
    """A full tie among keys whose best b0 is below 0x80 also keeps the first listed node."""
    a, b = "10.0.0.711211", "10.0.0.1311211"
    for i in range(200_000):
        key = b"x%d" % i
        if score(key + a.encode()) == score(key + b.encode()) < 0xFFFFFF80:
            break
    else:
        pytest.fail("no fully tied key below 0x80 found")
    assert Rendezvous([a, b]).pick(key) == a
    assert Rendezvous([b, a]).pick(key) == b


def test_rendezvous_spreads_keys_evenly_over_eight_nodes() -> None:
    """100k keys over 8 nodes: no node gets more than 3% above the mean."""
    keys = [b"key:%d" % i for i in range(100_000)]
    hasher = Rendezvous(TCP[:8])
    loads = Counter(hasher.pick(key) for key in keys)
    assert len(loads) == 8
    assert max(loads.values()) / (len(keys) / 8) <= 1.03


def test_rendezvous_add_moves_only_keys_to_the_new_node() -> None:
    """Adding a 9th node moves about 1/9 of the keys, every one of them to the new node."""
    hasher = Rendezvous(TCP[:8])
    before = [hasher.pick(key) for key in KEYS]
    hasher.add(TCP[8])
    after = [hasher.pick(key) for key in KEYS]
    moved = [new for old, new in zip(before, after, strict=True) if old != new]
    assert set(moved) == {TCP[8]}
    assert abs(len(moved) / len(KEYS) - 1 / 9) < 0.015


def test_rendezvous_remove_moves_only_the_removed_nodes_keys() -> None:
    """Removing a node moves exactly the keys it owned; adding it back restores every owner."""
    hasher = Rendezvous(TCP[:8])
    before = [hasher.pick(key) for key in KEYS]
    hasher.remove(TCP[3])
    after = [hasher.pick(key) for key in KEYS]
    for old, new in zip(before, after, strict=True):
        assert (old == new) == (old != TCP[3])
    hasher.add(TCP[3])
    assert [hasher.pick(key) for key in KEYS] == before


def test_rendezvous_membership_changes_match_a_fresh_hasher() -> None:
    """A hasher changed by add and remove routes like one built with the final node list."""
    hasher = Rendezvous([])
    for node in TCP[:10]:
        hasher.add(node)
    hasher.remove(TCP[0])
    hasher.remove(TCP[5])
    fresh = Rendezvous([node for node in TCP[:10] if node not in (TCP[0], TCP[5])])
    assert hasher.nodes == fresh.nodes
    assert [hasher.pick(key) for key in KEYS[:3000]] == [fresh.pick(key) for key in KEYS[:3000]]


@pytest.mark.parametrize("count", [1, 2, 8, 65])
def test_rendezvous_pick_many_groups_like_pick(count: int) -> None:
    """pick_many puts each key under pick's node, in the keys' order, duplicates included."""
    hasher = Rendezvous(TCP[:count])
    keys = [*KEYS[:500], KEYS[0]]
    groups = hasher.pick_many(iter(keys))
    assert sum(len(group) for group in groups.values()) == len(keys)
    for node, group in groups.items():
        assert group == [key for key in keys if hasher.pick(key) == node]


def test_rendezvous_pick_many_of_no_keys_is_empty() -> None:
    """No keys give an empty dict, with one node or many."""
    assert Rendezvous(TCP[:1]).pick_many([]) == {}
    assert Rendezvous(TCP[:3]).pick_many([]) == {}


def test_rendezvous_single_node_does_no_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """With one node every key goes to it and MurmurHash3 is never called."""
    hasher = Rendezvous(["/run/memcached.sock"])

    def no_hashing(data: bytes) -> bytes:
        raise AssertionError("a single node must not hash")

    monkeypatch.setattr(_selector, "hash_bytes", no_hashing)
    assert hasher.pick(b"any") == "/run/memcached.sock"
    assert hasher.pick_many([b"a", b"b"]) == {"/run/memcached.sock": [b"a", b"b"]}


def test_rendezvous_nodes_keep_their_order() -> None:
    """nodes lists the ids in the order given, added ones last, and repr shows them."""
    hasher = Rendezvous(["b11211", "a11211"])
    hasher.add("c11211")
    assert hasher.nodes == ("b11211", "a11211", "c11211")
    assert repr(hasher) == "Rendezvous(['b11211', 'a11211', 'c11211'])"


def test_rendezvous_survives_pickle_and_copy() -> None:
    """A pickled or copied hasher has the same nodes and routes alike."""
    hasher = Rendezvous(TCP[:5])
    for clone in (pickle.loads(pickle.dumps(hasher)), copy.copy(hasher), copy.deepcopy(hasher)):
        assert clone.nodes == hasher.nodes
        assert [clone.pick(key) for key in KEYS[:300]] == [hasher.pick(key) for key in KEYS[:300]]


def test_rendezvous_accepts_a_bytes_subclass_key() -> None:
    """A key whose type derives from bytes routes like the plain bytes."""

    class Key(bytes):
        pass

    hasher = Rendezvous(TCP[:3])
    assert hasher.pick(Key(b"foo")) == hasher.pick(b"foo")


@pytest.mark.parametrize("count", [0, 1, 2, 8, 65])
@pytest.mark.parametrize("key", ["foo", bytearray(b"foo"), memoryview(b"foo"), 7, None])
def test_rendezvous_rejects_a_key_that_is_not_bytes(count: int, key: object) -> None:
    """A str, bytearray, memoryview, int or None key raises TypeError naming its type."""
    hasher = Rendezvous(TCP[:count])
    with pytest.raises(TypeError, match=type(key).__name__):
        hasher.pick(key)  # type: ignore[arg-type]
    if count:
        with pytest.raises(TypeError, match=type(key).__name__):
            hasher.pick_many([b"ok", key])  # type: ignore[list-item]


def test_rendezvous_without_nodes_raises_no_nodes_error() -> None:
    """Picking with no node raises NoNodesError, a ValueError, also after the last node leaves."""
    with pytest.raises(NoNodesError):
        Rendezvous([]).pick(b"foo")
    with pytest.raises(ValueError, match="no node"):
        Rendezvous([]).pick_many([b"foo"])
    hasher = Rendezvous(["a11211"])
    hasher.remove("a11211")
    with pytest.raises(NoNodesError):
        hasher.pick(b"foo")
    hasher.add("b11211")
    assert hasher.pick(b"foo") == "b11211"


def test_rendezvous_rejects_bad_node_ids() -> None:
    """A non-str id is a TypeError; an empty, duplicate or unknown id a ValueError."""
    with pytest.raises(TypeError, match="bytes"):
        Rendezvous([b"a11211"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="empty"):
        Rendezvous([""])
    with pytest.raises(ValueError, match="already present"):
        Rendezvous(["a11211", "a11211"])
    hasher = Rendezvous(["a11211"])
    with pytest.raises(ValueError, match="already present"):
        hasher.add("a11211")
    with pytest.raises(ValueError, match="not present"):
        hasher.remove("b11211")
    assert hasher.nodes == ("a11211",)


def test_rendezvous_node_ids_are_never_source_text() -> None:
    """Ids that look like code are plain data to the generated pick functions."""
    nodes = ['"); raise SystemExit #', "{0}\n    return 1", "I0", "S1"]
    hasher = Rendezvous(nodes)
    for key in KEYS[:200]:
        assert hasher.pick(key) == reference_pick(nodes, key)
