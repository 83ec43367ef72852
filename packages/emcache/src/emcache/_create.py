"""``create_client``: the one way to build a :class:`~emcache.Client`.

It builds the configuration of each layer straight from its arguments: the
layer's attrs class holds the default and the validation of each option (see
:mod:`emcache._config`), so an invalid option raises before anything starts.

The result is awaitable, as in emcache 1.x (``client = await create_client(...)``),
and is also an async context manager that closes the client on the way out
(``async with create_client(...) as client:``), as ``asyncpg.create_pool`` is.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from types import TracebackType

from emcache._client import Client
from emcache._config import (
    DEFAULT_AUTOBATCHING_ENABLED,
    DEFAULT_AUTOBATCHING_MAX_KEYS,
    DEFAULT_AUTODISCOVERY,
    DEFAULT_AUTODISCOVERY_POLL_INTERVAL,
    DEFAULT_AUTODISCOVERY_TIMEOUT,
    DEFAULT_CONNECTION_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MIN_CONNECTIONS,
    DEFAULT_PURGE_UNHEALTHY_NODES,
    DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER,
    DEFAULT_SSL,
    DEFAULT_SSL_VERIFY,
    DEFAULT_TIMEOUT,
    ClientOptions,
    checked_node_addresses,
    paired_credentials,
)
from emcache._translate import translate
from emcache_auth import AuthError, TLSConfig, build_ssl_context, on_connect_step
from emcache_cluster import Cluster, ClusterEvents, ClusterSettings, HasherFactory, HasherTemplate
from emcache_pool import Endpoint, PoolConfig

__all__ = ["ClientCreation", "create_client"]


class ClientCreation:
    """What :func:`create_client` returns: await it, or enter it with ``async with``.

    Awaiting it starts the client and returns it (awaiting it again returns the same
    client). ``async with`` starts it and closes it when the block ends, whatever the
    outcome of the block.
    """

    __slots__ = ("_client", "_endpoints", "_options", "_settings")

    def __init__(
        self, endpoints: tuple[Endpoint, ...], settings: ClusterSettings, options: ClientOptions
    ) -> None:
        self._endpoints = endpoints
        self._settings = settings
        self._options = options
        self._client: Client | None = None

    def __await__(self) -> Generator[object, None, Client]:
        return self._start().__await__()

    async def _start(self) -> Client:
        if self._client is None:
            try:
                cluster = await Cluster.create(self._endpoints, self._settings)
            except AuthError as exc:
                raise translate(exc) from exc
            options = self._options
            self._client = Client(
                cluster, timeout=options.timeout, autobatching_max_keys=options.batch_size
            )
        return self._client

    async def __aenter__(self) -> Client:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.close()


def create_client(
    node_addresses: Sequence[Endpoint],
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    min_connections: int | None = DEFAULT_MIN_CONNECTIONS,
    purge_unused_connections_after: float | None = DEFAULT_PURGE_UNUSED_CONNECTIONS_AFTER,
    connection_timeout: float | None = DEFAULT_CONNECTION_TIMEOUT,
    cluster_events: ClusterEvents | None = None,
    purge_unhealthy_nodes: bool = DEFAULT_PURGE_UNHEALTHY_NODES,
    autobatching: bool = DEFAULT_AUTOBATCHING_ENABLED,
    autobatching_max_keys: int = DEFAULT_AUTOBATCHING_MAX_KEYS,
    ssl: bool = DEFAULT_SSL,
    ssl_verify: bool = DEFAULT_SSL_VERIFY,
    ssl_extra_ca: str | None = None,
    username: str | None = None,
    password: str | None = None,
    autodiscovery: bool = DEFAULT_AUTODISCOVERY,
    autodiscovery_poll_interval: float = DEFAULT_AUTODISCOVERY_POLL_INTERVAL,
    autodiscovery_timeout: float = DEFAULT_AUTODISCOVERY_TIMEOUT,
    hashing: HasherTemplate | HasherFactory | None = None,
) -> ClientCreation:
    """Create a client for the memcached nodes in ``node_addresses``.

    ``client = await create_client(...)``, or ``async with create_client(...) as
    client:`` to have it closed at the end of the block.

    Every option is checked first, when ``create_client`` is called; an invalid
    one raises :class:`ValueError` or :class:`TypeError` and nothing is started.
    Then, once awaited, the connection pools of
    the nodes start in the background (``min_connections`` each) and, with
    ``autodiscovery=True``, the first ``config get cluster`` is awaited, at most
    ``autodiscovery_timeout``. A discovery that finds no node does not fail:
    a warning is logged, the client starts with no nodes (operations raise
    :class:`~emcache.ClusterNoAvailableNodes` saying why) and keeps polling.

    Args:
        node_addresses: The nodes (or, with autodiscovery, the configuration endpoints).
        timeout: Seconds an operation may take before ``asyncio.TimeoutError``; None disables it.
        max_connections: Most TCP connections per node.
        min_connections: Connections kept open per node even when idle.
        purge_unused_connections_after: Close connections idle this long; None never purges.
        connection_timeout: Seconds a new connection may take; None waits forever.
        cluster_events: Receives node healthy/unhealthy (and added/removed) events.
        purge_unhealthy_nodes: Route no traffic to nodes reported unhealthy.
        autobatching: Send concurrent ``get``/``gets`` calls together as multi-key requests.
        autobatching_max_keys: Most keys in one autobatching request.
        ssl: Connect with TLS.
        ssl_verify: Verify the server certificate and hostname (TLS only).
        ssl_extra_ca: A CA file trusted in addition to the system's.
        username: User name for memcached's ascii authentication.
        password: Password for memcached's ascii authentication.
        autodiscovery: Treat ``node_addresses`` as configuration endpoints and poll them.
        autodiscovery_poll_interval: Seconds between two ``config get cluster``.
        autodiscovery_timeout: Seconds a ``config get cluster`` may take.
        hashing: Which node owns a key. ``None`` routes exactly as emcache 1.x
            (rendezvous). A hasher of ``emcache_hashing`` such as ``Ketama([])``
            routes as the client it matches: it is a template, rebuilt with its
            options over the nodes' :class:`~emcache_hashing.Server` values, in
            the order of ``node_addresses`` (or of the discovered list), each time
            the nodes taking traffic change. A callable is called with that list
            instead and returns the hasher (every hasher class is one).

    Returns:
        An awaitable that gives a ready :class:`Client` (close it with
        :meth:`Client.close`), and an async context manager that closes it.
    """
    endpoints = checked_node_addresses(node_addresses)
    options = ClientOptions(
        timeout=timeout, autobatching=autobatching, autobatching_max_keys=autobatching_max_keys
    )
    credentials = paired_credentials(username, password)
    tls = TLSConfig(ssl=ssl, ssl_verify=ssl_verify, ssl_extra_ca=ssl_extra_ca)
    pool = PoolConfig(
        max_connections=max_connections,
        min_connections=0 if min_connections is None else min_connections,
        purge_unused_connections_after=purge_unused_connections_after,
        connection_timeout=connection_timeout,
        ssl_context=build_ssl_context(tls),
        on_connect=None if credentials is None else on_connect_step(credentials),
    )
    settings = ClusterSettings(
        pool=pool,
        purge_unhealthy_nodes=purge_unhealthy_nodes,
        cluster_events=cluster_events,
        autodiscovery=autodiscovery,
        autodiscovery_poll_interval=autodiscovery_poll_interval,
        autodiscovery_timeout=autodiscovery_timeout,
        hashing=hashing,
    )
    return ClientCreation(endpoints, settings, options)
