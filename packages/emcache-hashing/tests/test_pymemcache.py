"""PymemcacheRendezvous: HashClient's default rendezvous hash, checked against pymemcache."""

from __future__ import annotations

import copy
import pickle

import mmh3
import pytest

from emcache_hashing import NoNodesError, PymemcacheRendezvous, Server
from emcache_hashing._pymemcache import node_name

# Nodes named as HashClient names them, and the node indexes pymemcache 4.0.0's
# RendezvousHash picked for these keys given as str, then as bytes.
PEER_SERVERS = [
    Server("10.0.0.1", 11211),
    Server("10.0.0.2", 11211),
    Server("10.0.0.3", 11212),
    Server.unix("/var/run/memcached.sock"),
]
PEER_KEYS = [f"user:{i}" for i in range(12)] + ["clé:1", "日本"]
PEER_PICKS_STR = "11310112032123"
PEER_PICKS_BYTES = "33301200311220"

TCP = [Server(f"10.0.{i // 200}.{i % 200 + 1}", 11211) for i in range(60)]
KEYS = [b"user:%d:profile" % i for i in range(20_000)]


def reference_pick(servers: list[Server], text: str) -> str:
    """The highest murmur3_32 of "name-text", then the greatest name (text all ASCII here)."""
    ranks = [
        (mmh3.hash(f"{node_name(s)}-{text}".encode(), 0, False), node_name(s)) for s in servers
    ]
    return servers[ranks.index(max(ranks))].node_id


def test_node_names_are_hashclient_s() -> None:
    """ "host:port" with the port always written; a unix socket by its path."""
    assert node_name(Server("10.0.0.1", 11211)) == "10.0.0.1:11211"
    assert node_name(Server("::1", 11212)) == "::1:11212"
    assert node_name(Server.unix("/run/mc.sock")) == "/run/mc.sock"


@pytest.mark.parametrize(
    ("key_type", "picks"), [("str", PEER_PICKS_STR), ("bytes", PEER_PICKS_BYTES)]
)
def test_pymemcache_rendezvous_picks_what_pymemcache_picks(key_type: str, picks: str) -> None:
    """str keys (non-ASCII ones too) and bytes keys route as pymemcache's RendezvousHash."""
    hasher = PymemcacheRendezvous(PEER_SERVERS, key_type=key_type)  # type: ignore[arg-type]
    expected = [PEER_SERVERS[int(index)].node_id for index in picks]
    assert [hasher.pick(key.encode()) for key in PEER_KEYS] == expected


def test_pymemcache_rendezvous_follows_the_formula() -> None:
    """Highest score of "name-key" wins, over 2 to 60 servers."""
    for count in (2, 3, 8, 60):
        hasher = PymemcacheRendezvous(TCP[:count])
        for key in KEYS[:500]:
            assert hasher.pick(key) == reference_pick(TCP[:count], key.decode())


def test_pymemcache_rendezvous_bytes_keys_hash_their_repr() -> None:
    """key_type="bytes" hashes b'...' as pymemcache formats a bytes key."""
    hasher = PymemcacheRendezvous(TCP[:8], key_type="bytes")
    for key in (b"a", b"it's", b"\xff\x00x", b'"q"'):
        assert hasher.pick(key) == reference_pick(TCP[:8], repr(key))


def test_pymemcache_rendezvous_tie_goes_to_the_greater_name() -> None:
    """Equal scores go to the greater node name, whatever the order (pymemcache-checked)."""
    low, high = Server("10.0.0.1", 420), Server("10.0.0.3", 46418)
    assert mmh3.hash(b"10.0.0.1:420-tie", 0, False) == 3921004333
    assert mmh3.hash(b"10.0.0.3:46418-tie", 0, False) == 3921004333
    assert PymemcacheRendezvous([low, high]).pick(b"tie") == high.node_id
    assert PymemcacheRendezvous([high, low]).pick(b"tie") == high.node_id


def test_pymemcache_rendezvous_non_utf8_keys_hash_their_bytes() -> None:
    """Bytes that no str key encodes to still route, each invalid byte as itself."""
    hasher = PymemcacheRendezvous(TCP[:8])
    ranks = [
        (mmh3.hash(f"{node_name(s)}-".encode() + b"\xff\xfe", 0, False), node_name(s))
        for s in TCP[:8]
    ]
    assert hasher.pick(b"\xff\xfe") == TCP[:8][ranks.index(max(ranks))].node_id


def test_pymemcache_rendezvous_membership_changes_move_few_keys() -> None:
    """Adding moves keys only to the new server; removing moves only the removed one's keys."""
    hasher = PymemcacheRendezvous(TCP[:8])
    before = [hasher.pick(key) for key in KEYS[:5000]]
    hasher.add(TCP[8])
    after = [hasher.pick(key) for key in KEYS[:5000]]
    assert all(new in (old, TCP[8].node_id) for old, new in zip(before, after, strict=True))
    hasher.remove(TCP[8])
    assert [hasher.pick(key) for key in KEYS[:5000]] == before


def test_pymemcache_rendezvous_rebuild_and_order() -> None:
    """rebuild keeps key_type and takes ids or servers; server order never matters."""
    hasher = PymemcacheRendezvous(TCP[:4], key_type="bytes")
    rebuilt = hasher.rebuild([TCP[2].node_id, TCP[0], TCP[5]])
    assert rebuilt.nodes == (TCP[2].node_id, TCP[0].node_id, TCP[5].node_id)
    assert rebuilt.key_type == "bytes"
    reordered = PymemcacheRendezvous([TCP[5], TCP[2], TCP[0]], key_type="bytes")
    assert [rebuilt.pick(k) for k in KEYS[:2000]] == [reordered.pick(k) for k in KEYS[:2000]]
    with pytest.raises(ValueError, match="not present"):
        hasher.rebuild(["nope11211"])


def test_pymemcache_rendezvous_pick_many_and_edges() -> None:
    """pick_many groups like pick; one server needs no hashing; none raises NoNodesError."""
    hasher = PymemcacheRendezvous(TCP[:5])
    groups = hasher.pick_many(KEYS[:300])
    for node, group in groups.items():
        assert group == [key for key in KEYS[:300] if hasher.pick(key) == node]
    assert PymemcacheRendezvous(TCP[:1]).pick_many([b"a"]) == {TCP[0].node_id: [b"a"]}
    with pytest.raises(NoNodesError):
        PymemcacheRendezvous([]).pick(b"a")


def test_pymemcache_rendezvous_pickle_repr_and_bad_arguments() -> None:
    """Clones route alike; repr shows servers and key_type; bad arguments raise."""
    hasher = PymemcacheRendezvous(TCP[:3], key_type="bytes")
    for clone in (pickle.loads(pickle.dumps(hasher)), copy.deepcopy(hasher)):
        assert repr(clone) == repr(hasher)
        assert [clone.pick(k) for k in KEYS[:100]] == [hasher.pick(k) for k in KEYS[:100]]
    assert repr(PymemcacheRendezvous([("a", 1)])) == (
        "PymemcacheRendezvous([Server(host='a', port=1, weight=1)], key_type='str')"
    )
    with pytest.raises(ValueError, match="key_type"):
        PymemcacheRendezvous(TCP[:2], key_type="text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already present"):
        PymemcacheRendezvous([TCP[0], TCP[0]])
    with pytest.raises(TypeError, match="key must be bytes"):
        hasher.pick("a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not present"):
        hasher.remove(TCP[7])
