"""The errors, where emcache 1.x code imports them from.

The very classes of :mod:`emcache.errors` (not copies), so ``except`` clauses and
``isinstance`` checks match whichever path raised or imported them.
"""

from emcache.errors import (
    AuthenticationError,
    ClusterNoAvailableNodes,
    CommandError,
    NotFoundCommandError,
    NotStoredStorageCommandError,
    StorageCommandError,
)

__all__ = [
    "AuthenticationError",
    "ClusterNoAvailableNodes",
    "CommandError",
    "NotFoundCommandError",
    "NotStoredStorageCommandError",
    "StorageCommandError",
]
