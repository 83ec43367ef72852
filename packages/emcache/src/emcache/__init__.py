"""emcache: a fast, fault-tolerant asyncio client for memcached.

Create a client with :func:`create_client` and close it with
:meth:`Client.close`::

    client = await emcache.create_client([emcache.MemcachedHostAddress("localhost", 11211)])
    await client.set(b"key", b"value")
    item = await client.get(b"key")
    await client.close()
"""

from emcache.__about__ import __version__
from emcache._client import Client
from emcache._codecs import BytesCodec, Codec, JsonCodec, PickleCodec, StrCodec
from emcache._config import (
    DEFAULT_AUTOBATCHING_ENABLED,
    DEFAULT_AUTOBATCHING_MAX_KEYS,
    DEFAULT_CONNECTION_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MIN_CONNECTIONS,
    DEFAULT_PURGE_UNHEALTHY_NODES,
    DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER,
    DEFAULT_SSL,
    DEFAULT_SSL_VERIFY,
    DEFAULT_TIMEOUT,
)
from emcache._create import ClientCreation, create_client
from emcache._herd import FetchResult
from emcache._item import Item
from emcache._meta import MetaSetMode, MetaStatus
from emcache._meta_results import MetaCounter, MetaItem, MetaWriteResult
from emcache._view import CacheView
from emcache.cluster import ClusterManagment
from emcache.errors import (
    AuthenticationError,
    AutodiscoveryError,
    CacheUnavailableError,
    ClientClosedError,
    ClusterNoAvailableNodes,
    CodecError,
    CodecMismatchError,
    CommandError,
    ConnectionFailedError,
    FetchWaitTimeoutError,
    MetaNotSupportedError,
    MultiKeyCommandError,
    MultiKeyStorageError,
    NotFoundCommandError,
    NotStoredStorageCommandError,
    OperationTimeoutError,
    StorageCommandError,
)
from emcache_cluster import ClusterEvents, ClusterManagement
from emcache_pool import ConnectionPoolMetrics, MemcachedHostAddress, MemcachedUnixSocketPath

__all__ = [
    "DEFAULT_AUTOBATCHING_ENABLED",
    "DEFAULT_AUTOBATCHING_MAX_KEYS",
    "DEFAULT_CONNECTION_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MIN_CONNECTIONS",
    "DEFAULT_PURGE_UNHEALTHY_NODES",
    "DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER",
    "DEFAULT_SSL",
    "DEFAULT_SSL_VERIFY",
    "DEFAULT_TIMEOUT",
    "AuthenticationError",
    "AutodiscoveryError",
    "BytesCodec",
    "CacheUnavailableError",
    "CacheView",
    "Client",
    "ClientClosedError",
    "ClientCreation",
    "ClusterEvents",
    "ClusterManagement",
    "ClusterManagment",
    "ClusterNoAvailableNodes",
    "Codec",
    "CodecError",
    "CodecMismatchError",
    "CommandError",
    "ConnectionFailedError",
    "ConnectionPoolMetrics",
    "FetchResult",
    "FetchWaitTimeoutError",
    "Item",
    "JsonCodec",
    "MemcachedHostAddress",
    "MemcachedUnixSocketPath",
    "MetaCounter",
    "MetaItem",
    "MetaNotSupportedError",
    "MetaSetMode",
    "MetaStatus",
    "MetaWriteResult",
    "MultiKeyCommandError",
    "MultiKeyStorageError",
    "NotFoundCommandError",
    "NotStoredStorageCommandError",
    "OperationTimeoutError",
    "PickleCodec",
    "StorageCommandError",
    "StrCodec",
    "__version__",
    "create_client",
]
