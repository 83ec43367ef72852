"""Pick functions shared by every hasher: no node, one node, and key checks.

Each hasher rebuilds a ``pick`` and a ``pick_many`` function when its node set
changes, specialised to that set. With no node both raise
:class:`NoNodesError`; with one node every key goes to it and no key is
hashed, as every peer client does too. Keys must be ``bytes``; the check costs
one ``type(key) is bytes`` test on the hot path and only looks further for
anything else (a ``bytes`` subclass passes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from emcache_hashing.errors import NoNodesError

__all__ = [
    "Pick",
    "PickMany",
    "PickingHasher",
    "build_empty",
    "build_grouping",
    "build_single",
    "check_key",
]

Pick = Callable[[bytes], str]
PickMany = Callable[[Iterable[bytes]], dict[str, list[bytes]]]

_NO_NODES = "no node to route the key to: the hasher holds no node"


class PickingHasher:
    """The ``pick``/``pick_many`` of a hasher, through the functions built for its nodes.

    Each hasher sets ``_pick`` and ``_pick_many`` when its node set changes.
    """

    __slots__ = ("_pick", "_pick_many")

    _pick: Pick
    _pick_many: PickMany

    def pick(self, key: bytes) -> str:
        """Return the id of the node that owns ``key``.

        Raises:
            TypeError: ``key`` is not ``bytes``.
            NoNodesError: There is no node.
        """
        return self._pick(key)

    def pick_many(self, keys: Iterable[bytes]) -> dict[str, list[bytes]]:
        """Group ``keys`` by the id of the node that owns each, keeping their order.

        Raises:
            TypeError: A key is not ``bytes``.
            NoNodesError: There is no node.
        """
        return self._pick_many(keys)


def check_key(key: object) -> None:
    """Raise TypeError unless ``key`` is bytes (called only when its type is not exactly bytes)."""
    if not isinstance(key, bytes):
        msg = f"key must be bytes, got {type(key).__name__}"
        raise TypeError(msg)


def build_empty() -> tuple[Pick, PickMany]:
    """The pick functions of a hasher that holds no node."""

    def pick(key: bytes) -> str:
        if type(key) is not bytes:
            check_key(key)
        raise NoNodesError(_NO_NODES)

    def pick_many(keys: Iterable[bytes]) -> dict[str, list[bytes]]:
        raise NoNodesError(_NO_NODES)

    return pick, pick_many


def build_single(name: str) -> tuple[Pick, PickMany]:
    """The pick functions of a hasher that holds the one node ``name``."""

    def pick(key: bytes) -> str:
        if type(key) is not bytes:
            check_key(key)
        return name

    def pick_many(keys: Iterable[bytes]) -> dict[str, list[bytes]]:
        batch = list(keys)
        for key in batch:
            if type(key) is not bytes:
                check_key(key)
        return {name: batch} if batch else {}

    return pick, pick_many


def build_grouping(pick: Pick) -> PickMany:
    """A ``pick_many`` that groups keys by ``pick``, keeping their order in each group."""

    def pick_many(keys: Iterable[bytes]) -> dict[str, list[bytes]]:
        groups: dict[str, list[bytes]] = {}
        for key in keys:
            node = pick(key)
            group = groups.get(node)
            if group is None:
                groups[node] = [key]
            else:
                group.append(key)
        return groups

    return pick_many
