"""The options of :func:`emcache.create_client`, checked before anything starts.

Every option is validated here, at creation, with a :class:`ValueError` or
:class:`TypeError` that names it, so that a misconfigured client fails at
start-up instead of at its first operation. The defaults are those of the
emcache 1.x client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from emcache_auth import Credentials, TLSConfig, build_ssl_context, on_connect_step
from emcache_cluster import ClusterConfig, ClusterEvents
from emcache_pool import Endpoint, MemcachedHostAddress, MemcachedUnixSocketPath, PoolConfig

__all__ = ["ClientOptions"]

DEFAULT_TIMEOUT = 1.0
DEFAULT_MAX_CONNECTIONS = 2
DEFAULT_MIN_CONNECTIONS = 1
DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER = 60.0
DEFAULT_CONNECTION_TIMEOUT = 5.0
DEFAULT_PURGE_UNHEALTHY_NODES = False
DEFAULT_AUTOBATCHING_ENABLED = False
DEFAULT_AUTOBATCHING_MAX_KEYS = 32
DEFAULT_SSL = False
DEFAULT_SSL_VERIFY = True
DEFAULT_AUTODISCOVERY_POLL_INTERVAL = 60.0
DEFAULT_AUTODISCOVERY_TIMEOUT = 5.0
# emcache 1.x waited up to this long for the first discovery in create_client. This
# client waits at most autodiscovery_timeout and never fails for it; the name is kept
# so that code importing it from emcache.default_values still runs.
DEFAULT_STARTUP_WAIT_AUTODISCOVERY = 10.0


def _positive_or_none(name: str, value: Any) -> None:
    if value is None:
        return
    _positive(name, value)


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{name} must be a number of seconds, got {type(value).__name__}"
        raise TypeError(msg)
    if not value > 0:
        msg = f"{name} must be greater than 0, got {value!r}"
        raise ValueError(msg)


def _count(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{name} must be an int, got {type(value).__name__}"
        raise TypeError(msg)
    if value < minimum:
        msg = f"{name} must be >= {minimum}, got {value}"
        raise ValueError(msg)


def _check_endpoints(node_addresses: object) -> tuple[Endpoint, ...]:
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


@attrs.frozen(kw_only=True)
class ClientOptions:
    """Every option of :func:`emcache.create_client`, validated."""

    node_addresses: tuple[Endpoint, ...]
    timeout: float | None = DEFAULT_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    min_connections: int = DEFAULT_MIN_CONNECTIONS
    purge_unused_connections_after: float | None = DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER
    connection_timeout: float | None = DEFAULT_CONNECTION_TIMEOUT
    cluster_events: ClusterEvents | None = None
    purge_unhealthy_nodes: bool = DEFAULT_PURGE_UNHEALTHY_NODES
    autobatching: bool = DEFAULT_AUTOBATCHING_ENABLED
    autobatching_max_keys: int = DEFAULT_AUTOBATCHING_MAX_KEYS
    tls: TLSConfig = attrs.field(factory=TLSConfig)
    credentials: Credentials | None = None
    autodiscovery: bool = False
    autodiscovery_poll_interval: float = DEFAULT_AUTODISCOVERY_POLL_INTERVAL
    autodiscovery_timeout: float = DEFAULT_AUTODISCOVERY_TIMEOUT

    @classmethod
    def from_arguments(
        cls,
        node_addresses: Sequence[Endpoint],
        *,
        min_connections: int | None,
        username: str | None,
        password: str | None,
        ssl: bool,
        ssl_verify: bool,
        ssl_extra_ca: str | None,
        **options: Any,
    ) -> ClientOptions:
        """Validate the keyword arguments of create_client and build the options."""
        endpoints = _check_endpoints(node_addresses)
        _positive_or_none("timeout", options["timeout"])
        _count("max_connections", options["max_connections"], 1)
        min_connections = 0 if min_connections is None else min_connections
        _count("min_connections", min_connections, 0)
        if min_connections > options["max_connections"]:
            msg = (
                f"min_connections ({min_connections}) cannot be greater than "
                f"max_connections ({options['max_connections']})"
            )
            raise ValueError(msg)
        _positive_or_none(
            "purge_unused_connections_after", options["purge_unused_connections_after"]
        )
        _positive_or_none("connection_timeout", options["connection_timeout"])
        _count("autobatching_max_keys", options["autobatching_max_keys"], 1)
        _positive("autodiscovery_poll_interval", options["autodiscovery_poll_interval"])
        _positive("autodiscovery_timeout", options["autodiscovery_timeout"])
        events = options["cluster_events"]
        if events is not None and not isinstance(events, ClusterEvents):
            msg = f"cluster_events must be a ClusterEvents instance, got {type(events).__name__}"
            raise TypeError(msg)
        return cls(
            node_addresses=endpoints,
            min_connections=min_connections,
            tls=TLSConfig(ssl=ssl, ssl_verify=ssl_verify, ssl_extra_ca=ssl_extra_ca),
            credentials=_credentials(username, password),
            **options,
        )

    def cluster_config(self) -> ClusterConfig:
        """The cluster (and pool) configuration these options describe.

        Builds the TLS context now, so that a missing CA file fails at creation.
        """
        pool = PoolConfig(
            max_connections=self.max_connections,
            min_connections=self.min_connections,
            purge_unused_connections_after=self.purge_unused_connections_after,
            connection_timeout=self.connection_timeout,
            ssl_context=build_ssl_context(self.tls),
            on_connect=None if self.credentials is None else on_connect_step(self.credentials),
        )
        return ClusterConfig(
            pool=pool,
            purge_unhealthy_nodes=self.purge_unhealthy_nodes,
            events=self.cluster_events,
            autodiscovery=self.autodiscovery,
            autodiscovery_poll_interval=self.autodiscovery_poll_interval,
            autodiscovery_timeout=self.autodiscovery_timeout,
        )


def _credentials(username: str | None, password: str | None) -> Credentials | None:
    if username is None and password is None:
        return None
    if not username:
        raise ValueError("password was given without a username: authentication needs both")
    if password is None:
        raise ValueError("username was given without a password: authentication needs both")
    if not isinstance(username, str) or not isinstance(password, str):
        raise TypeError("username and password must be str")
    return Credentials(username=username, password=password)
