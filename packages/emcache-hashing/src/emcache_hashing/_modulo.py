"""CRC-32 modulo selection, as gomemcache's default ``ServerList`` picks a server.

``ServerList.PickServer(key)`` in github.com/bradfitz/gomemcache:

- no server: an error; one server: that server, without hashing;
- otherwise ``servers[crc32.ChecksumIEEE(key) % len(servers)]``, where the
  checksum is the IEEE CRC-32 (the one of zlib, ``zlib.crc32``) of the key's
  bytes, as an unsigned 32-bit number, and ``servers`` is the list given to
  ``SetServers`` in its order. The key is first copied into a 256-byte buffer,
  so only its first 256 bytes count (memcached keys have at most 250).

A server listed twice in ``SetServers`` gets two slots, hence twice the keys:
that is gomemcache's only weighting, and this hasher keeps repeated entries
for the same reason. The node names never enter the hash, only their order,
so node ids need no host or port here. Any change of the list moves most keys
(about ``1 - 1/n`` when going from ``n`` to ``n + 1`` servers): modulo
hashing is not consistent.
"""

from __future__ import annotations

from collections.abc import Iterable
from zlib import crc32

from emcache_hashing import _picking
from emcache_hashing._picking import PickingHasher
from emcache_hashing._servers import ServerLike, to_server

__all__ = ["Crc32Modulo"]

_BUFFER = 256


def _node_id(node: object) -> str:
    if isinstance(node, str):
        if not node:
            msg = "node id must not be empty"
            raise ValueError(msg)
        return node
    return to_server(node).node_id


class Crc32Modulo(PickingHasher):
    """CRC-32 modulo hashing that routes keys as gomemcache's ``ServerList`` does.

    Give it the nodes in the order the Go client's ``SetServers`` has them.
    Nodes are emcache node ids (``f"{host}{port}"``, or a socket path) or
    servers, which stand for their :attr:`Server.node_id`; it answers with
    the node ids. So the class itself builds a hasher from the cluster's list
    of node ids, as long as that list keeps the Go client's order.

    Args:
        nodes: The node ids or servers, in order; an entry listed twice gets
            two slots, as in gomemcache. May be empty: picking then raises
            :class:`NoNodesError` until a node is added. Server weights are
            ignored.

    Raises:
        TypeError: A node is neither a ``str`` nor a server.
        ValueError: A node id is empty, or a server is invalid.
    """

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Iterable[str | ServerLike]) -> None:
        self._nodes = tuple(_node_id(node) for node in nodes)
        self._rebuild()

    @property
    def nodes(self) -> tuple[str, ...]:
        """The node ids, in order, repeated entries included."""
        return self._nodes

    def add(self, node: str | ServerLike) -> None:
        """Append a node (again, to give it one more slot). Most keys move.

        Raises:
            TypeError, ValueError: As for the constructor.
        """
        self._nodes = (*self._nodes, _node_id(node))
        self._rebuild()

    def remove(self, node: str | ServerLike) -> None:
        """Remove every slot of a node. Most keys move.

        Raises:
            ValueError: The node is not present.
        """
        node_id = _node_id(node)
        if node_id not in self._nodes:
            msg = f"node {node_id!r} is not present"
            raise ValueError(msg)
        self._nodes = tuple(entry for entry in self._nodes if entry != node_id)
        self._rebuild()

    def rebuild(self, nodes: Iterable[str | ServerLike]) -> Crc32Modulo:
        """A new hasher over ``nodes``, in that order (the constructor, for symmetry)."""
        return Crc32Modulo(nodes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._nodes)!r})"

    def __reduce__(self) -> tuple[type[Crc32Modulo], tuple[tuple[str, ...]]]:
        # The pick functions are rebuilt from the node ids, never pickled.
        return type(self), (self._nodes,)

    def _rebuild(self) -> None:
        nodes = self._nodes
        if not nodes:
            self._pick, self._pick_many = _picking.build_empty()
        elif len(nodes) == 1:
            self._pick, self._pick_many = _picking.build_single(nodes[0])
        else:
            self._pick = _build_pick(nodes)
            self._pick_many = _picking.build_grouping(self._pick)


def _build_pick(nodes: tuple[str, ...]) -> _picking.Pick:
    count = len(nodes)
    check_key = _picking.check_key

    def pick(key: bytes) -> str:
        if type(key) is not bytes:
            check_key(key)
        if len(key) > _BUFFER:
            key = key[:_BUFFER]
        return nodes[crc32(key) % count]

    return pick
