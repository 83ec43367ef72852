"""Errors raised by emcache_hashing.

Bad arguments follow the usual Python split: a key or node of the wrong type
raises ``TypeError``, a node id that is empty, duplicated or unknown raises
``ValueError``. Asking a hasher that holds no node to pick one raises
:class:`NoNodesError`, a ``ValueError`` so callers that already treat an empty
node list as a bad value keep working.
"""

from __future__ import annotations

__all__ = ["NoNodesError"]


class NoNodesError(ValueError):
    """The hasher holds no node, so no key can be routed."""
