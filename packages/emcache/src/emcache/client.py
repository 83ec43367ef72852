"""The client and its factory, where emcache 1.x code imports them from.

Every name is the very object the top-level package exports, plus the two
limits emcache 1.x published here, set to what this client accepts: flags are
unsigned 32-bit numbers (1.x stopped at 2**16) and cas tokens unsigned 64-bit.
"""

from emcache._client import Client
from emcache._config import (
    DEFAULT_AUTOBATCHING_ENABLED,
    DEFAULT_AUTOBATCHING_MAX_KEYS,
    DEFAULT_AUTODISCOVERY_POLL_INTERVAL,
    DEFAULT_AUTODISCOVERY_TIMEOUT,
    DEFAULT_CONNECTION_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MIN_CONNECTIONS,
    DEFAULT_PURGE_UNHEALTHY_NODES,
    DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER,
    DEFAULT_SSL,
    DEFAULT_SSL_VERIFY,
    DEFAULT_STARTUP_WAIT_AUTODISCOVERY,
    DEFAULT_TIMEOUT,
)
from emcache._create import create_client
from emcache._item import Item
from emcache.cluster import ClusterManagment
from emcache.errors import (
    CommandError,
    NotFoundCommandError,
    NotStoredStorageCommandError,
    StorageCommandError,
)
from emcache_cluster import ClusterEvents
from emcache_pool import MemcachedHostAddress, MemcachedUnixSocketPath

__all__ = [
    "DEFAULT_AUTOBATCHING_ENABLED",
    "DEFAULT_AUTOBATCHING_MAX_KEYS",
    "DEFAULT_AUTODISCOVERY_POLL_INTERVAL",
    "DEFAULT_AUTODISCOVERY_TIMEOUT",
    "DEFAULT_CONNECTION_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MIN_CONNECTIONS",
    "DEFAULT_PURGE_UNHEALTHY_NODES",
    "DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER",
    "DEFAULT_SSL",
    "DEFAULT_SSL_VERIFY",
    "DEFAULT_STARTUP_WAIT_AUTODISCOVERY",
    "DEFAULT_TIMEOUT",
    "MAX_ALLOWED_CAS_VALUE",
    "MAX_ALLOWED_FLAG_VALUE",
    "Client",
    "ClusterEvents",
    "ClusterManagment",
    "CommandError",
    "Item",
    "MemcachedHostAddress",
    "MemcachedUnixSocketPath",
    "NotFoundCommandError",
    "NotStoredStorageCommandError",
    "StorageCommandError",
    "create_client",
]

MAX_ALLOWED_FLAG_VALUE = 2**32 - 1
"""The highest ``flags`` accepted; one more raises ValueError before anything is sent."""
MAX_ALLOWED_CAS_VALUE = 2**64 - 1
"""The highest ``cas`` token accepted; one more raises ValueError before anything is sent."""
