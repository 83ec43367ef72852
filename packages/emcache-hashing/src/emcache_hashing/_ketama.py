"""Ketama consistent hashing, routing every key as libmemcached (and pylibmc) does.

libmemcached's consistent distribution (``MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA``,
what pylibmc's ``{"ketama": True}`` behaviour selects) places points for every
server on a ring of 32-bit values, the *continuum*, and sends a key to the
first point at or after the key's hash, wrapping to the first point past the
end. As libmemcached 1.0 and 1.1 build it:

- A server's *label* is its host as given, followed by ``":port"`` unless the
  port is 11211: ``"10.0.0.1"`` for ``10.0.0.1:11211``, ``"10.0.0.1:11212"``
  otherwise, ``"/path/to.sock:0"`` for a unix socket. Point ``i`` hashes
  ``f"{label}-{i}"``.
- Unweighted (the default): 100 points per server, each the *key hash* of its
  string (one-at-a-time unless pylibmc's ``"hash"`` says otherwise).
- Weighted (libmemcached switches to it as soon as a server is added with a
  weight above 1 while the distribution is consistent, and pylibmc sets its
  behaviours before adding servers; or ``{"ketama_weighted": True}``): a server
  gets ``floor(w / W * 160 / 4 * n + 1e-10) * 4`` points (``W`` the total weight,
  ``n`` the server count), computed in single-precision floats as the C code
  does, and each MD5 digest of its strings gives four points, its four
  little-endian words, whatever the key hash.
- Points are sorted by value, then by server position, so on equal values the
  server listed first owns the point. The key hash is the same function
  (one-at-a-time or md5, see ``_digests``).

The continuum is rebuilt whenever the server set changes. A server's points
depend only on its label (and, weighted, on how many it gets), so they are
kept in a module cache: rebuilding a 50-server continuum is then a sort of
5,000 ints, not 5,000 hashes. The pick functions read the new continuum from
their closure, so a rebuild never exposes a half-built one.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from emcache_hashing import _digests, _picking
from emcache_hashing._server_hasher import ServerHasher
from emcache_hashing._servers import Server, ServerLike

__all__ = ["Ketama", "label", "weighted_point_count"]

_DEFAULT_PORT = 11211
_POINTS_PER_SERVER = 100  # MEMCACHED_POINTS_PER_SERVER
_POINTS_PER_SERVER_WEIGHTED = 160  # MEMCACHED_POINTS_PER_SERVER_KETAMA
_F32 = struct.Struct("f")

# (label, point kind) -> the first points of that label, extended on demand and
# replaced (never mutated), so a reader always sees a consistent tuple.
_POINT_CACHE: dict[tuple[str, str], tuple[int, ...]] = {}
_POINT_CACHE_LIMIT = 4096
_WEIGHTED = "md5 words"


def _f32(value: float) -> float:
    """Round ``value`` to the nearest single-precision float."""
    rounded: float = _F32.unpack(_F32.pack(value))[0]
    return rounded


_EPSILON = _f32(1e-10)


def label(server: Server) -> str:
    """The string libmemcached hashes for ``server``, before ``"-<point index>"``."""
    if server.port == _DEFAULT_PORT:
        return server.host
    return f"{server.host}:{server.port}"


def weighted_point_count(weight: int, total_weight: int, servers: int) -> int:
    """Points a server of ``weight`` gets on a weighted continuum.

    ``floor(weight / total_weight * 160 / 4 * servers + 1e-10) * 4``, each step
    rounded to single precision as libmemcached computes it in ``float``:
    with weights 4, 7, 7 and six 1s, double precision would give the
    weight-7 servers 420 points where libmemcached gives them 416.
    """
    share = _f32(_f32(weight) / _f32(total_weight))
    scaled = _f32(_f32(share * _POINTS_PER_SERVER_WEIGHTED) / 4)
    return math.floor(_f32(_f32(scaled * _f32(servers)) + _EPSILON)) * 4


def _points(name: str, kind: str, count: int) -> tuple[int, ...]:
    """The first ``count`` points of the server labelled ``name``."""
    known = _POINT_CACHE.get((name, kind), ())
    if len(known) < count:
        if kind == _WEIGHTED:
            more: list[int] = []
            for index in range(len(known) // 4, count // 4):
                more.extend(_digests.md5_words(f"{name}-{index}".encode()))
        else:
            digest = _digests.KEY_HASHES[kind]
            more = [digest(f"{name}-{index}".encode()) for index in range(len(known), count)]
        known += tuple(more)
        if len(_POINT_CACHE) >= _POINT_CACHE_LIMIT:
            _POINT_CACHE.clear()
        _POINT_CACHE[name, kind] = known
    return known[:count]


def _continuum(
    servers: Sequence[Server], key_hash: str, weighted: bool
) -> tuple[list[int], list[str]]:
    """The sorted point values and, for each point, the id of its server.

    The owners list has one more entry than the values, the owner of the first
    point, so that a hash past the last point wraps around without a branch.
    """
    total = sum(server.weight for server in servers)
    shift = max(len(servers) - 1, 1).bit_length()
    entries: list[int] = []
    for index, server in enumerate(servers):
        if weighted:
            count = weighted_point_count(server.weight, total, len(servers))
            points = _points(label(server), _WEIGHTED, count)
        else:
            points = _points(label(server), key_hash, _POINTS_PER_SERVER)
        entries.extend([value << shift | index for value in points])
    entries.sort()
    ids = [server.node_id for server in servers]
    mask = (1 << shift) - 1
    values = [entry >> shift for entry in entries]
    owners = [ids[entry & mask] for entry in entries]
    owners.append(owners[0])
    return values, owners


class Ketama(ServerHasher):
    """Ketama consistent hashing that routes keys as libmemcached and pylibmc do.

    Give it the servers in the order the peer client has them, with the same
    host spellings; it answers with each server's :attr:`Server.node_id`, the
    id the emcache cluster gives the same endpoint.

    | pylibmc behaviours | `Ketama` options |
    | --- | --- |
    | `{"ketama": True}` | the defaults |
    | `{"ketama": True, "hash": "md5"}` | `key_hash="md5"` |
    | `{"ketama_weighted": True}` | `key_hash="md5", weighted=True` |

    Args:
        servers: The servers, in the peer client's order: :class:`Server`
            values or ``(host, port[, weight])`` tuples. May be empty: picking
            then raises :class:`NoNodesError` until a server is added.
        key_hash: ``"one_at_a_time"`` (libmemcached's default) or ``"md5"``;
            hashes the keys, and the points of an unweighted continuum.
        weighted: Build the weighted continuum. ``None`` (the default) does as
            pylibmc given its behaviours at construction: weighted when a
            server's weight is above 1.

    Raises:
        TypeError: A server is not a server, or ``weighted`` is not a bool or None.
        ValueError: A server is invalid or listed twice (by node id), or
            ``key_hash`` is unknown.
    """

    __slots__ = ("_key_hash", "_weighted")

    def __init__(
        self,
        servers: Iterable[ServerLike],
        *,
        key_hash: _digests.KeyHash = "one_at_a_time",
        weighted: bool | None = None,
    ) -> None:
        if key_hash not in _digests.KEY_HASHES:
            msg = f"key_hash must be one of {sorted(_digests.KEY_HASHES)}, got {key_hash!r}"
            raise ValueError(msg)
        given: object = weighted
        if not isinstance(given, bool | None):
            msg = f"weighted must be a bool or None, got {type(given).__name__}"
            raise TypeError(msg)
        self._key_hash: _digests.KeyHash = key_hash
        self._weighted = weighted
        self._set_servers(servers)

    @property
    def key_hash(self) -> _digests.KeyHash:
        """The key hash: ``"one_at_a_time"`` or ``"md5"``."""
        return self._key_hash

    @property
    def is_weighted(self) -> bool:
        """Whether the continuum is the weighted one, for the current servers."""
        if self._weighted is not None:
            return self._weighted
        return any(server.weight > 1 for server in self._servers.values())

    def add(self, server: ServerLike) -> None:
        """Add ``server`` after the others and rebuild the continuum.

        Unweighted, only keys that now land on the new server's points move, all
        to it. Weighted with unequal weights, every server's point count
        changes, so some keys move between the old servers too.

        Raises:
            TypeError, ValueError: As for the constructor.
        """
        super().add(server)

    def _options(self) -> dict[str, object]:
        return {"key_hash": self._key_hash, "weighted": self._weighted}

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # The pick functions are rebuilt from the servers, never pickled.
        return _restore, (self.servers, self._key_hash, self._weighted)

    def _resolve(self, entry: object) -> Server:
        # a server this hasher holds (same node id) keeps the weight it has here
        server = super()._resolve(entry)
        return self._servers.get(server.node_id, server)

    def _build_pick(self, servers: tuple[Server, ...]) -> _picking.Pick:
        values, owners = _continuum(servers, self._key_hash, self.is_weighted)
        return _continuum_pick(values, owners, _digests.KEY_HASHES[self._key_hash])


def _continuum_pick(values: list[int], owners: list[str], digest: _digests.Digest) -> _picking.Pick:
    check_key = _picking.check_key

    def pick(key: bytes) -> str:
        if type(key) is not bytes:
            check_key(key)
        return owners[bisect_left(values, digest(key))]

    return pick


def _restore(
    servers: tuple[Server, ...], key_hash: _digests.KeyHash, weighted: bool | None
) -> Ketama:
    return Ketama(servers, key_hash=key_hash, weighted=weighted)
