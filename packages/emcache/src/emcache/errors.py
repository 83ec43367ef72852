"""The errors of the emcache facade.

The hierarchy and meaning of :class:`CommandError` and its subclasses are the
same as in the emcache 1.x client, so code that catches them keeps working.
Failures of the lower layers (a node that cannot be reached, a connection that
drops, a reply that cannot be parsed) are translated into the errors below and
never leak as another package's types. :class:`ClusterNoAvailableNodes` and
:class:`AutodiscoveryError` are the cluster layer's own classes, re-exported
here so that they are caught as ``emcache.<name>``.
"""

from __future__ import annotations

from emcache_cluster import ClusterNoAvailableNodes
from emcache_cluster.errors import AutodiscoveryError

__all__ = [
    "AuthenticationError",
    "AutodiscoveryError",
    "ClientClosedError",
    "ClusterNoAvailableNodes",
    "CommandError",
    "ConnectionFailedError",
    "NotFoundCommandError",
    "NotStoredStorageCommandError",
    "StorageCommandError",
]


class CommandError(Exception):
    """A memcached command did not do what was asked (base of the command errors)."""


class StorageCommandError(CommandError):
    """A storage command (set, add, replace, append, prepend, cas) did not store the value."""


class NotStoredStorageCommandError(StorageCommandError):
    """The value was not stored because the command's condition was not met.

    ``add`` of an existing key, ``replace``/``append``/``prepend`` of a missing
    key, and ``cas`` whose token no longer matches raise it.
    """


class NotFoundCommandError(CommandError):
    """The key does not exist (``increment``, ``decrement``, ``touch``, ``delete``).

    ``cas`` of a missing key raises :class:`StorageCommandError`, as in emcache 1.x.
    """


class AuthenticationError(CommandError):
    """The server refused the credentials, or authentication is misconfigured."""


class ConnectionFailedError(CommandError, ConnectionError):
    """The node could not be reached, or the connection carrying the request was lost.

    It is raised at once instead of letting the caller wait for its timeout.
    It is also a builtin :class:`ConnectionError`.
    """


class ClientClosedError(RuntimeError):
    """The client was closed; create a new one to keep working."""
