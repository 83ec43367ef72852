"""The server set of a hasher that hashes hosts and ports: :class:`ServerHasher`.

:class:`~emcache_hashing.Ketama` and :class:`~emcache_hashing.PymemcacheRendezvous`
keep their :class:`Server` values by node id, in the order given, and rebuild their
pick functions whenever that set changes. What they share lives here: adding,
removing and resolving servers, ``rebuild`` and ``repr`` from the hasher's options,
and the cases of no server and of one. A hasher adds its options and how it builds
``pick`` over two servers or more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

from emcache_hashing import _picking
from emcache_hashing._picking import PickingHasher
from emcache_hashing._servers import Server, ServerLike, to_server

__all__ = ["ServerHasher"]


class ServerHasher(PickingHasher):
    """A hasher over :class:`Server` values, held by node id in the order given.

    A subclass takes its servers and keyword options in its constructor, sets its
    options, then calls :meth:`_set_servers`.
    """

    __slots__ = ("_servers",)

    _servers: dict[str, Server]

    def _set_servers(self, servers: Iterable[ServerLike]) -> None:
        self._servers = {}
        for server in servers:
            self._insert(server)
        self._rebuild()

    @property
    def servers(self) -> tuple[Server, ...]:
        """The servers, in order."""
        return tuple(self._servers.values())

    @property
    def nodes(self) -> tuple[str, ...]:
        """The node ids of the servers, in order."""
        return tuple(self._servers)

    def _options(self) -> Mapping[str, Any]:
        """The keyword options of the constructor, as this hasher has them."""
        raise NotImplementedError

    def _build_pick(self, servers: tuple[Server, ...]) -> _picking.Pick:
        """The ``pick`` function over ``servers`` (two or more)."""
        raise NotImplementedError

    def add(self, server: ServerLike) -> None:
        """Add ``server`` after the others and rebuild.

        Raises:
            TypeError, ValueError: As for the constructor.
        """
        self._insert(server)
        self._rebuild()

    def remove(self, node: str | ServerLike) -> None:
        """Remove a server, named by its node id or given whole, and rebuild.

        Raises:
            ValueError: The server is not present.
        """
        del self._servers[self._held_id(node)]
        self._rebuild()

    def rebuild(self, servers: Iterable[str | ServerLike]) -> Self:
        """A new hasher with the same options over ``servers``, in that order.

        This is how a cluster follows its routing set. An entry is a node id of a
        server this hasher holds, or a server; in a :class:`~emcache_hashing.Ketama`, a
        server it holds (same node id) keeps the weight it has there.

        Raises:
            TypeError, ValueError: As for the constructor, or a node id is unknown.
        """
        resolved = [self._resolve(entry) for entry in servers]
        return type(self)(resolved, **self._options())  # type: ignore[call-arg]

    def __repr__(self) -> str:
        options = "".join(f", {name}={value!r}" for name, value in self._options().items())
        return f"{type(self).__name__}({list(self._servers.values())!r}{options})"

    def _insert(self, value: object) -> None:
        server = to_server(value)
        if server.node_id in self._servers:
            msg = f"server {server.node_id!r} is already present"
            raise ValueError(msg)
        self._servers[server.node_id] = server

    def _held_id(self, node: object) -> str:
        node_id = node if isinstance(node, str) else to_server(node).node_id
        if node_id not in self._servers:
            msg = f"server {node_id!r} is not present"
            raise ValueError(msg)
        return node_id

    def _resolve(self, entry: object) -> Server:
        """The server a ``rebuild`` entry stands for: a held one when named by its id."""
        if isinstance(entry, str):
            return self._servers[self._held_id(entry)]
        return to_server(entry)

    def _rebuild(self) -> None:
        servers = tuple(self._servers.values())
        if not servers:
            self._pick, self._pick_many = _picking.build_empty()
        elif len(servers) == 1:
            self._pick, self._pick_many = _picking.build_single(servers[0].node_id)
        else:
            self._pick = self._build_pick(servers)
            self._pick_many = _picking.build_grouping(self._pick)
