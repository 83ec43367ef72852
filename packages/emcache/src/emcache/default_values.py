"""The defaults of :func:`emcache.create_client`, where emcache 1.x code imports them from.

Every name emcache 1.x defined here, with its 1.x value, read off the defaults of
the configuration that owns the option (:class:`emcache_pool.PoolConfig`,
:class:`emcache_cluster.ClusterSettings`, :class:`emcache_auth.TLSConfig`, or the
client's own options in :mod:`emcache._config`). ``DEFAULT_STARTUP_WAIT_AUTODISCOVERY``
is kept for imports only: ``create_client`` waits at most ``autodiscovery_timeout``
for the first discovery.
"""

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
]
