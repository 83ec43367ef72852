"""Ketama: libmemcached's continuum, checked against its published vectors and pylibmc."""

from __future__ import annotations

import copy
import pickle
from bisect import bisect_left

import pytest

from emcache_hashing import Ketama, NoNodesError, Server, _digests, _ketama
from emcache_hashing._digests import md5

# libmemcached's ketama compatibility vectors (its test suite, weighted
# continuum with md5): key, md5 key hash, continuum point reached, server.
LIBMEMCACHED_WEIGHTS = [600, 300, 200, 350, 1000, 800, 950, 100]
LIBMEMCACHED_SERVERS = [
    Server(f"10.0.1.{index}", 11211, weight)
    for index, weight in enumerate(LIBMEMCACHED_WEIGHTS, start=1)
]
LIBMEMCACHED_VECTORS = [
    (b"SVa_]_V41)", 0x1A7231C5, 0x1A8BF421, "10.0.1.7"),
    (b"*/Z;?V(.\\8", 0x54CFF7AF, 0x55222CB4, "10.0.1.1"),
    (b"30C1*Z*S/_", 0x57CEB9BA, 0x58382AB7, "10.0.1.2"),
    (b"ERR:EC58G>", 0x800E14EF, 0x8141E43D, "10.0.1.7"),
    (b"1I=cTMNTKF", 0xABD24ECB, 0xABF8C23B, "10.0.1.5"),
    (b"]VG<`I*Z8)", 0x41C6BFC7, 0x41DA5509, "10.0.1.5"),
    (b"UUTC`-V159", 0xDD820ECE, 0xDE28EDB0, "10.0.1.5"),
    (b"@7RU6C6T+Z", 0xE63CB315, 0xE6C8C77D, "10.0.1.5"),
    (b"P1[Ma3=K1/", 0x7692AD04, 0x76DA74D0, "10.0.1.8"),
    (b"D[HE+cFXDK", 0x7E2F6868, 0x7E30BFAE, "10.0.1.3"),
    (b"EM75N0+[X1", 0x5CE54DB3, 0x5CF128DB, "10.0.1.4"),
    (b"6,cEI`F_P>", 0xECCD2C7E, 0xECEA39AF, "10.0.1.6"),
]

# Server indexes pylibmc 1.6.3 (libmemcached 1.1.4) picked, Client.hash(key),
# for these keys, server specs and behaviours.
PYLIBMC_KEYS = [b"user:%d" % i for i in range(12)] + ["clé:1".encode(), "日本".encode()]
PYLIBMC_CASES = [
    ("10.0.0.1:11211 10.0.0.2:11211 10.0.0.3:11211", "one_at_a_time", "10002121020222"),
    ("10.0.0.1:11211 10.0.0.2:11211 10.0.0.3:11211", "md5", "01201201221200"),
    ("127.0.0.1:21211 127.0.0.1:21212 127.0.0.1:21213", "one_at_a_time", "01122220101201"),
    ("127.0.0.1:21211 127.0.0.1:21212 127.0.0.1:21213", "md5", "20221021202221"),
    ("/run/mc-a.sock /run/mc-b.sock /run/mc-c.sock", "one_at_a_time", "10122011201202"),
    ("/run/mc-a.sock /run/mc-b.sock /run/mc-c.sock", "md5", "00220222220200"),
    ("10.0.0.1:11211:1 10.0.0.2:11211:2 10.0.0.3:11211:5", "one_at_a_time", "22122221212112"),
    ("10.0.0.1:11211:1 10.0.0.2:11211:2 10.0.0.3:11211:5", "md5", "01221111222222"),
]

TCP = [Server(f"10.0.{i // 200}.{i % 200 + 1}", 11211) for i in range(60)]
KEYS = [b"user:%d:profile" % i for i in range(20_000)]


def parse_specs(specs: str) -> list[Server]:
    """pylibmc's server strings: a path, or host:port[:weight]."""
    servers = []
    for spec in specs.split():
        if spec.startswith("/"):
            servers.append(Server.unix(spec))
        else:
            host, port, *weight = spec.split(":")
            servers.append(Server(host, int(port), int(weight[0]) if weight else 1))
    return servers


@pytest.mark.parametrize(("key", "key_hash", "point", "server"), LIBMEMCACHED_VECTORS)
def test_ketama_reproduces_libmemcached_s_vectors(
    key: bytes, key_hash: int, point: int, server: str
) -> None:
    """Key hash, continuum point and server of libmemcached's weighted md5 vectors."""
    hasher = Ketama(LIBMEMCACHED_SERVERS, key_hash="md5")
    values, _ = _ketama._continuum(LIBMEMCACHED_SERVERS, "md5", weighted=True)
    assert md5(key) == key_hash
    assert values[bisect_left(values, key_hash)] == point
    assert hasher.pick(key) == f"{server}11211"


def test_ketama_wraps_past_the_last_point() -> None:
    """A hash past the last point goes to the owner of the first (libmemcached's VDEAAAAA)."""
    hasher = Ketama(LIBMEMCACHED_SERVERS, key_hash="md5")
    values, owners = _ketama._continuum(LIBMEMCACHED_SERVERS, "md5", weighted=True)
    assert md5(b"VDEAAAAA") == 0xFFFCD1B5 > values[-1]
    assert hasher.pick(b"VDEAAAAA") == owners[0] == "10.0.1.311211"


@pytest.mark.parametrize(("specs", "key_hash", "picks"), PYLIBMC_CASES)
def test_ketama_picks_what_pylibmc_picks(specs: str, key_hash: str, picks: str) -> None:
    """Default port, other ports, unix sockets and weights route as pylibmc {"ketama": True}."""
    servers = parse_specs(specs)
    hasher = Ketama(servers, key_hash=key_hash)  # type: ignore[arg-type]
    expected = [servers[int(index)].node_id for index in picks]
    assert [hasher.pick(key) for key in PYLIBMC_KEYS] == expected


def test_ketama_labels_leave_out_the_default_port_only() -> None:
    """libmemcached hashes "host" for port 11211, "host:port" otherwise, "path:0" for a socket."""
    assert _ketama.label(Server("10.0.0.1", 11211)) == "10.0.0.1"
    assert _ketama.label(Server("10.0.0.1", 11212)) == "10.0.0.1:11212"
    assert _ketama.label(Server("::1", 11212)) == "::1:11212"
    assert _ketama.label(Server.unix("/run/mc.sock")) == "/run/mc.sock:0"


def test_ketama_weighted_point_counts_are_computed_in_single_precision() -> None:
    """Weights 4, 7, 7 and six 1s give the 7s 416 points, not the 420 of double precision."""
    weights = [4, 7, 7, 1, 1, 1, 1, 1, 1]
    counts = [_ketama.weighted_point_count(w, sum(weights), len(weights)) for w in weights]
    assert counts == [240, 416, 416, 60, 60, 60, 60, 60, 60]
    assert [_ketama.weighted_point_count(1, 3, 3)] * 3 == [160, 160, 160]


def test_ketama_continuum_sizes() -> None:
    """100 points a server unweighted; weighted, counts in steps of 4 around 160 a server."""
    values, owners = _ketama._continuum(TCP[:8], "one_at_a_time", weighted=False)
    assert len(values) == 800
    assert len(owners) == 801
    assert values == sorted(values)
    weighted, _ = _ketama._continuum(LIBMEMCACHED_SERVERS, "md5", weighted=True)
    assert len(weighted) == 1264


def test_ketama_weights_switch_to_the_weighted_continuum_unless_told() -> None:
    """weighted=None follows the weights, as pylibmc does; a bool forces either way."""
    assert not Ketama(TCP[:3]).is_weighted
    assert Ketama([*TCP[:2], Server("10.9.9.9", 11211, 2)]).is_weighted
    assert Ketama(TCP[:3], weighted=True).is_weighted
    unweighted = Ketama(LIBMEMCACHED_SERVERS, weighted=False)
    assert not unweighted.is_weighted
    plain = Ketama([Server(s.host, s.port) for s in LIBMEMCACHED_SERVERS])
    assert [unweighted.pick(k) for k in KEYS[:500]] == [plain.pick(k) for k in KEYS[:500]]


def test_ketama_adding_a_server_moves_keys_only_to_it() -> None:
    """Unweighted, a new server takes about 1/n of the keys and no other key moves."""
    hasher = Ketama(TCP[:8])
    before = [hasher.pick(key) for key in KEYS]
    hasher.add(TCP[8])
    moved = [key for key, old in zip(KEYS, before, strict=True) if hasher.pick(key) != old]
    assert all(hasher.pick(key) == TCP[8].node_id for key in moved)
    assert 0.05 < len(moved) / len(KEYS) < 0.2


def test_ketama_removing_a_server_moves_only_its_keys() -> None:
    """Unweighted, only the removed server's keys move."""
    hasher = Ketama(TCP[:8])
    before = [hasher.pick(key) for key in KEYS]
    hasher.remove(TCP[3].node_id)
    for key, old in zip(KEYS, before, strict=True):
        if old != TCP[3].node_id:
            assert hasher.pick(key) == old


def test_ketama_membership_changes_match_a_fresh_hasher() -> None:
    """add and remove (by id or by server) route like a hasher built with the final list."""
    hasher = Ketama([], key_hash="md5")
    for server in TCP[:10]:
        hasher.add(server)
    hasher.remove(TCP[0])
    hasher.remove(TCP[5].node_id)
    fresh = Ketama([s for s in TCP[:10] if s not in (TCP[0], TCP[5])], key_hash="md5")
    assert hasher.servers == fresh.servers
    assert [hasher.pick(k) for k in KEYS[:3000]] == [fresh.pick(k) for k in KEYS[:3000]]


def test_ketama_rebuild_keeps_options_and_weights() -> None:
    """rebuild takes node ids or servers; held servers keep their weight, new ones bring theirs."""
    hasher = Ketama(
        [Server("a", 11211, 3), Server("b", 11211), Server("c", 11212, 2)], key_hash="md5"
    )
    rebuilt = hasher.rebuild(["c11212", Server("a", 11211), Server("d", 11211, 4)])
    assert rebuilt.servers == (Server("c", 11212, 2), Server("a", 11211, 3), Server("d", 11211, 4))
    assert rebuilt.key_hash == "md5"
    assert rebuilt.is_weighted
    assert hasher.nodes == ("a11211", "b11211", "c11212")
    with pytest.raises(ValueError, match="not present"):
        hasher.rebuild(["z11211"])


def test_ketama_order_decides_nothing_but_equal_points() -> None:
    """The continuum is sorted, so listing servers in another order routes the same keys alike."""
    forward = Ketama(TCP[:8])
    backward = Ketama(list(reversed(TCP[:8])))
    assert [forward.pick(k) for k in KEYS[:3000]] == [backward.pick(k) for k in KEYS[:3000]]


def test_ketama_pick_many_groups_like_pick() -> None:
    """pick_many puts each key under pick's node, in the keys' order."""
    hasher = Ketama(TCP[:5])
    keys = [*KEYS[:500], KEYS[0]]
    groups = hasher.pick_many(iter(keys))
    assert sum(len(group) for group in groups.values()) == len(keys)
    for node, group in groups.items():
        assert group == [key for key in keys if hasher.pick(key) == node]


def test_ketama_single_server_does_no_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """With one server every key goes to it, as in libmemcached, without hashing."""

    def no_hashing(data: bytes) -> int:
        raise AssertionError("a single server must not hash")

    monkeypatch.setitem(_digests.KEY_HASHES, "one_at_a_time", no_hashing)
    hasher = Ketama([Server.unix("/run/mc.sock")])
    assert hasher.pick(b"any") == "/run/mc.sock"
    assert hasher.pick_many([b"a", b"b"]) == {"/run/mc.sock": [b"a", b"b"]}


def test_ketama_survives_pickle_and_copy() -> None:
    """A pickled or copied hasher keeps servers and options and routes alike."""
    hasher = Ketama([*TCP[:4], Server("10.9.9.9", 11212, 3)], key_hash="md5", weighted=True)
    for clone in (pickle.loads(pickle.dumps(hasher)), copy.copy(hasher), copy.deepcopy(hasher)):
        assert repr(clone) == repr(hasher)
        assert [clone.pick(key) for key in KEYS[:300]] == [hasher.pick(key) for key in KEYS[:300]]


def test_ketama_repr_shows_servers_and_options() -> None:
    """repr names the servers and the options."""
    assert repr(Ketama([("a", 1)])) == (
        "Ketama([Server(host='a', port=1, weight=1)], key_hash='one_at_a_time', weighted=None)"
    )


def test_ketama_rejects_bad_arguments() -> None:
    """Unknown key hash, non-bool weighted, a str server, duplicates and unknown removals."""
    with pytest.raises(ValueError, match="key_hash"):
        Ketama(TCP[:2], key_hash="crc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="weighted"):
        Ketama(TCP[:2], weighted=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tuple"):
        Ketama(["10.0.0.111211"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="already present"):
        Ketama([TCP[0], TCP[0]])
    hasher = Ketama(TCP[:2])
    with pytest.raises(ValueError, match="not present"):
        hasher.remove("nope11211")


def test_ketama_without_servers_raises_no_nodes_error() -> None:
    """Picking with no server raises NoNodesError, also after the last one leaves."""
    hasher = Ketama([TCP[0]])
    hasher.remove(TCP[0])
    with pytest.raises(NoNodesError):
        hasher.pick(b"foo")
    with pytest.raises(NoNodesError):
        hasher.pick_many([b"foo"])
