"""The errors of the emcache facade.

The hierarchy and meaning of :class:`CommandError` and its subclasses are the
same as in the emcache 1.x client, so code that catches them keeps working.
Failures of the lower layers (a node that cannot be reached, a connection that
drops, a reply that cannot be parsed) are translated into the errors below and
never leak as another package's types. :class:`ClusterNoAvailableNodes`,
:class:`AutodiscoveryError` and :class:`CacheUnavailableError` are the cluster
layer's own classes, re-exported here so that they are caught as
``emcache.<name>``.

The contract of emcache 1.x is that every failure to reach a node surfaces as
:class:`asyncio.TimeoutError`, and applications catch exactly that to mean "the
cache is unavailable". This client fails fast instead of waiting for the
timeout, with errors that keep that contract: :class:`ConnectionFailedError`
and :class:`OperationTimeoutError` are builtin :class:`TimeoutError` (which is
:class:`asyncio.TimeoutError`), as aiohttp's ``ServerTimeoutError`` is. Every
"the cache could not answer" outcome -- a timeout, a connection failure, no
node to ask -- is also a :class:`CacheUnavailableError`, the one class to catch
for all of them.

:class:`CodecError` and :class:`CodecMismatchError` belong to the typed view
(:class:`emcache.CacheView`) alone: an item that cannot be read as one of the
view's values. The 1.x bytes API never raises them.
"""

from __future__ import annotations

from emcache_cluster import AutodiscoveryError, CacheUnavailableError, ClusterNoAvailableNodes

__all__ = [
    "AuthenticationError",
    "AutodiscoveryError",
    "CacheUnavailableError",
    "ClientClosedError",
    "ClusterNoAvailableNodes",
    "CodecError",
    "CodecMismatchError",
    "CommandError",
    "ConnectionFailedError",
    "FetchWaitTimeoutError",
    "MetaNotSupportedError",
    "MultiKeyCommandError",
    "MultiKeyStorageError",
    "NotFoundCommandError",
    "NotStoredStorageCommandError",
    "OperationTimeoutError",
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


class ConnectionFailedError(CacheUnavailableError, CommandError, ConnectionError, TimeoutError):
    """The node could not be reached, or the connection carrying the request was lost.

    It is raised at once instead of letting the caller wait for its timeout:
    a refused or unreachable node, a plaintext client on a TLS port, a TLS
    certificate that fails verification, a connection that drops. It is a
    builtin :class:`TimeoutError` too, so ``except asyncio.TimeoutError``
    written for emcache 1.x still catches it, and a :class:`ConnectionError`
    and a :class:`CommandError`.
    """


class OperationTimeoutError(CacheUnavailableError, TimeoutError):
    """The operation got no reply within the client's ``timeout``.

    A builtin :class:`TimeoutError` (``asyncio.TimeoutError``), as in emcache 1.x.
    """


class MetaNotSupportedError(CommandError):
    """A node does not speak the meta commands of memcached 1.6.10 or later.

    Raised on the first use of a meta method (``meta_get``, ``set_many``, ``fetch``,
    ...) that needs such a node; the classic commands keep working on it.

    Attributes:
        version: The version the node reported, or None.
    """

    def __init__(self, message: str, version: str | None = None) -> None:
        super().__init__(message)
        self.version = version


class MultiKeyCommandError(CommandError):
    """Some keys of ``delete_many``, ``touch_many`` or ``meta_get_many`` failed.

    The other keys were handled: the batch of each node runs to its end.

    Attributes:
        failed: Each failed key and the reason, as the server gave it.
    """

    def __init__(self, message: str, failed: dict[bytes, str]) -> None:
        super().__init__(message)
        self.failed = failed


class MultiKeyStorageError(MultiKeyCommandError, StorageCommandError):
    """Some values of ``set_many`` were not stored; the others were.

    Attributes:
        failed: Each key that was not stored and the reason.
    """


class FetchWaitTimeoutError(OperationTimeoutError):
    """``fetch`` waited ``wait`` seconds for another caller's value, and none came.

    A builtin :class:`TimeoutError`: the cache could not answer in time. The lease of
    the caller that computes the value ends with its TTL at the latest.
    """


class ClientClosedError(RuntimeError):
    """The client was closed; create a new one to keep working."""


class CodecError(Exception):
    """A view could not read an item as one of its values.

    Its codec or its decompression failed on the stored bytes (the original error
    is the ``__cause__``), or the item was written in another format
    (:class:`CodecMismatchError`). Catch it to treat an unreadable item as a miss.

    Attributes:
        key: The memcached key of the item.
        flags: The flags stored with the item.
    """

    def __init__(self, message: str, *, key: bytes, flags: int) -> None:
        super().__init__(message)
        self.key = key
        self.flags = flags


class CodecMismatchError(CodecError):
    """The item's flags name another codec, compression or format than the view's.

    It was written by a view with another codec, by the 1.x bytes API with other
    flags, or by a newer emcache with a format this one does not know.
    """
