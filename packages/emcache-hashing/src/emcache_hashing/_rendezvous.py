"""Rendezvous (highest random weight) hashing, routing-compatible with emcache 1.x.

Every node scores every key and the node with the highest score owns it, so
adding a node only moves the keys the new node wins, and removing one only
moves the keys it owned. The score is emcache 1.x's (see ``_score``); it takes
few distinct values, so equal scores are common and the tie-break is part of
the routing: the node whose own id scores higher wins, and when that ties too
the node listed first wins, as emcache 1.x keeps the first best it meets.

Picking is on the hot path of every request, so it reads the score table
backwards. A node with b0 >= 0x80 outranks any node with b0 < 0x80, and among
those nodes the score is b0 itself. One pass that reads only byte 0 of each
digest and keeps the best ``(b0, id score)`` in node order therefore decides
the key whenever that best b0 is >= 0x80: for n nodes, every key but a share
of 2**-n. The rest get a second pass with exact scores.

Everything that does not depend on the key is done when the node set changes:
id bytes and id scores are computed once per node, and the pick functions are
rebuilt for the new set (``_selector``). One node owns every key with no
hashing at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from emcache_hashing import _selector
from emcache_hashing._picking import PickingHasher
from emcache_hashing._score import score
from emcache_hashing._servers import ServerLike, to_server

__all__ = ["Rendezvous"]


class Rendezvous(PickingHasher):
    """Rendezvous hashing over nodes named by strings, as emcache 1.x routes keys.

    A node's id is ``f"{host}{port}"`` for TCP (no separator, e.g.
    ``"10.0.0.111211"``) and the socket path for a unix socket; any other
    string works too, but routes like emcache 1.x only with those ids. The
    order of the nodes matters only when a key scores the same on two nodes
    whose ids score the same too; then the node listed first wins, as in
    emcache 1.x given the nodes in the same order.

    A :class:`Server` stands for its :attr:`~Server.node_id`, so the class
    itself builds a hasher from a cluster's list of servers, as every hasher
    of this package does.

    Args:
        nodes: The node ids or servers, in order. May be empty: picking then
            raises :class:`NoNodesError` until a node is added.

    Raises:
        TypeError: A node is neither a ``str`` nor a server.
        ValueError: A node id is empty or listed twice, or a server is invalid.
    """

    __slots__ = ("_entries", "_nodes")

    def __init__(self, nodes: Iterable[str | ServerLike]) -> None:
        self._entries: dict[str, _selector.Entry] = {}
        for node in nodes:
            self._insert(node)
        self._rebuild()

    @property
    def nodes(self) -> tuple[str, ...]:
        """The node ids, in order."""
        return self._nodes

    def add(self, node: str | ServerLike) -> None:
        """Add ``node`` (an id, or a server) after the existing nodes.

        Only keys that ``node`` now wins move, all of them to ``node``.

        Raises:
            TypeError: ``node`` is neither a ``str`` nor a server.
            ValueError: ``node`` is empty, already present or an invalid server.
        """
        self._insert(node)
        self._rebuild()

    def remove(self, node: str) -> None:
        """Remove ``node``; only the keys it owned move, each to its next best node.

        Raises:
            ValueError: ``node`` is not present.
        """
        if node not in self._entries:
            msg = f"node {node!r} is not present"
            raise ValueError(msg)
        del self._entries[node]
        self._rebuild()

    def rebuild(self, nodes: Iterable[str | ServerLike]) -> Rendezvous:
        """A new hasher over ``nodes``, in that order.

        An entry is a node id, or a :class:`Server` standing for its
        :attr:`~Server.node_id`, so a cluster can rebuild every hasher of this
        package from the same list.

        Raises:
            TypeError, ValueError: As for the constructor, or a server is invalid.
        """
        return Rendezvous(nodes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._nodes)!r})"

    def __reduce__(self) -> tuple[type[Rendezvous], tuple[tuple[str, ...]]]:
        # The pick functions are rebuilt from the node ids, never pickled.
        return type(self), (self._nodes,)

    def _insert(self, node: object) -> None:
        if isinstance(node, tuple):
            node = to_server(node).node_id
        elif not isinstance(node, str):
            msg = f"node must be a str id or a Server, got {type(node).__name__}"
            raise TypeError(msg)
        if not node:
            msg = "node id must not be empty"
            raise ValueError(msg)
        if node in self._entries:
            msg = f"node {node!r} is already present"
            raise ValueError(msg)
        node_id = node.encode()
        self._entries[node] = (node, node_id, score(node_id))

    def _rebuild(self) -> None:
        self._nodes = tuple(self._entries)
        self._pick, self._pick_many = _selector.build(tuple(self._entries.values()))
