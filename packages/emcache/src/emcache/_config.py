"""The options of :func:`emcache.create_client`: who owns each one, and the facade's own.

Most options configure a lower layer, and that layer's attrs configuration holds
their default and their validation, once: :class:`emcache_pool.PoolConfig` the
connection options, :class:`emcache_cluster.ClusterSettings` the cluster, autodiscovery and
``hashing`` options, :class:`emcache_auth.TLSConfig` and
:class:`emcache_auth.Credentials` TLS and authentication. ``create_client``
builds those directly from its arguments, named as its options are, so an
invalid option fails at creation, before anything starts, with a
:class:`TypeError` or :class:`ValueError` naming it.

What no lower layer knows is checked here: the node list, the per-operation
``timeout``, autobatching, and that username and password come together.

The emcache 1.x ``DEFAULT_*`` names are read off the defaults of those
configurations, so they cannot drift from what a client gets.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from emcache_auth import Credentials, TLSConfig
from emcache_cluster import ClusterSettings
from emcache_pool import (
    Endpoint,
    MemcachedHostAddress,
    MemcachedUnixSocketPath,
    PoolConfig,
    positive_seconds,
)

__all__ = ["ClientOptions", "checked_node_addresses", "paired_credentials"]


_check_timeout = positive_seconds(optional=True)


def _check_max_keys(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"autobatching_max_keys must be an int, got {type(value).__name__}"
        raise TypeError(msg)
    if value < 1:
        msg = f"autobatching_max_keys must be >= 1, got {value}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class ClientOptions:
    """The options of :func:`emcache.create_client` that only the client itself uses.

    Attributes:
        timeout: Seconds an operation may take; ``None`` disables the timeout.
        autobatching: Send concurrent ``get``/``gets`` calls together as multi-key requests.
        autobatching_max_keys: Most keys in one autobatching request.
    """

    timeout: float | None = attrs.field(default=1.0, validator=_check_timeout)
    autobatching: bool = False
    autobatching_max_keys: int = attrs.field(default=32, validator=_check_max_keys)

    @property
    def batch_size(self) -> int | None:
        """Most keys in one autobatching request, or ``None`` without autobatching."""
        return self.autobatching_max_keys if self.autobatching else None


def checked_node_addresses(node_addresses: object) -> tuple[Endpoint, ...]:
    """Return ``node_addresses`` as a tuple once it is a non-empty sequence of endpoints.

    Raises:
        TypeError: It is not a sequence (a ``str`` is not one here), or holds
            something else than a ``MemcachedHostAddress`` or ``MemcachedUnixSocketPath``.
        ValueError: It is empty.
    """
    if isinstance(node_addresses, str | bytes) or not isinstance(node_addresses, Sequence):
        msg = "node_addresses must be a sequence of MemcachedHostAddress or MemcachedUnixSocketPath"
        raise TypeError(msg)
    if not node_addresses:
        raise ValueError("node_addresses is empty: give at least one memcached node")
    for endpoint in node_addresses:
        if not isinstance(endpoint, MemcachedHostAddress | MemcachedUnixSocketPath):
            msg = (
                "node_addresses must hold MemcachedHostAddress or MemcachedUnixSocketPath, "
                f"got {type(endpoint).__name__}"
            )
            raise TypeError(msg)
    return tuple(node_addresses)


def paired_credentials(username: str | None, password: str | None) -> Credentials | None:
    """Return the credentials, ``None`` when neither is given.

    Raises:
        ValueError: Only one of them is given (or an empty username), or
            :class:`~emcache_auth.Credentials` refuses them.
        TypeError: One of them is not a ``str``.
    """
    if username is None and password is None:
        return None
    if not username:
        raise ValueError("password was given without a username: authentication needs both")
    if password is None:
        raise ValueError("username was given without a password: authentication needs both")
    return Credentials(username=username, password=password)


_POOL = PoolConfig()
_CLUSTER = ClusterSettings(pool=_POOL)
_TLS = TLSConfig()
_CLIENT = ClientOptions()

DEFAULT_TIMEOUT = _CLIENT.timeout
DEFAULT_MAX_CONNECTIONS = _POOL.max_connections
DEFAULT_MIN_CONNECTIONS = _POOL.min_connections
DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER = _POOL.purge_unused_connections_after
DEFAULT_CONNECTION_TIMEOUT = _POOL.connection_timeout
DEFAULT_PURGE_UNHEALTHY_NODES = _CLUSTER.purge_unhealthy_nodes
DEFAULT_AUTOBATCHING_ENABLED = _CLIENT.autobatching
DEFAULT_AUTOBATCHING_MAX_KEYS = _CLIENT.autobatching_max_keys
DEFAULT_SSL = _TLS.ssl
DEFAULT_SSL_VERIFY = _TLS.ssl_verify
DEFAULT_AUTODISCOVERY = _CLUSTER.autodiscovery
DEFAULT_AUTODISCOVERY_POLL_INTERVAL = _CLUSTER.autodiscovery_poll_interval
DEFAULT_AUTODISCOVERY_TIMEOUT = _CLUSTER.autodiscovery_timeout
# emcache 1.x waited up to this long for the first discovery in create_client. This
# client waits at most autodiscovery_timeout and never fails for it; the name is kept
# so that code importing it from emcache.default_values still runs.
DEFAULT_STARTUP_WAIT_AUTODISCOVERY = 10.0
