"""The seam between node selection and whatever routes requests with it.

A cluster needs two questions answered: which node owns one key, and how a
batch of keys splits over the nodes (one multi-key request per node). Any
object with these two methods can route a cluster; :class:`Rendezvous` is the
one compatible with emcache 1.x.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    # A default makes a bare ``Hasher`` mean ``Hasher[str]`` (PEP 696). The
    # runtime TypeVar only gains ``default`` in Python 3.13, and the runtime
    # dependency of this package is mmh3 alone, so the default lives where
    # only type checkers look.
    from typing_extensions import TypeVar

    NodeT = TypeVar("NodeT", default=str)
else:
    from typing import TypeVar

    NodeT = TypeVar("NodeT")

__all__ = ["Hasher"]


class Hasher(Protocol[NodeT]):
    """Selects the node that owns a key.

    ``NodeT`` is how the hasher names its nodes; a bare ``Hasher`` is a
    ``Hasher[str]``, nodes named by their id string.
    """

    def pick(self, key: bytes) -> NodeT:
        """Return the node that owns ``key``.

        Args:
            key: The memcached key.

        Returns:
            The owning node; the same key and node set always give the same node.

        Raises:
            TypeError: ``key`` is not ``bytes``.
            NoNodesError: The hasher holds no node.
        """
        ...

    def pick_many(self, keys: Iterable[bytes]) -> dict[NodeT, list[bytes]]:
        """Group ``keys`` by the node that owns each one.

        Args:
            keys: The memcached keys, in request order.

        Returns:
            For each owning node, its keys in the order they came; nodes that
            own none of the keys are absent, so no keys give an empty dict.

        Raises:
            TypeError: A key is not ``bytes``.
            NoNodesError: The hasher holds no node.
        """
        ...
