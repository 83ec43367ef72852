"""Autodiscovery: follow the node list served by ``config get cluster``.

AWS ElastiCache and GCP Memorystore answer ``config get cluster`` on their
configuration endpoint with a versioned node list::

    CONFIG cluster 0 <length>\\r\\n<version>\\n<host>|<ip>|<port> ...\\n\\r\\nEND\\r\\n

Each poll opens one connection to one configuration endpoint (so TLS
and authentication apply as for the nodes, through ``emcache_pool.connect``),
sends the command, and closes the connection again whatever happened. A fresh
connection per poll means a request that hung or a reply that could not be
parsed never poisons the next poll.

Only a version newer than the last applied one reaches the cluster; an equal
or older version is ignored. Anything else -- no answer within
``autodiscovery_timeout``, ``ERROR`` (a plain memcached does not know the
command), a reply that does not parse, an empty node list -- is logged as a
warning saying why, and the cluster keeps the last good node list.

Several endpoints: one healthy endpoint must be enough, even when another one
hangs. Every discovery (the first one and each poll) asks the endpoint that
answered last; when it fails, or has not answered within its fair share of
``autodiscovery_timeout`` (the timeout divided by the number of endpoints),
the next endpoint is asked as well, while the earlier requests keep running.
The first usable answer wins and the requests still running are cancelled.
So one request per discovery is the rule, a hanging endpoint costs at most its
share, and nothing outlives ``autodiscovery_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence

import attrs

from emcache_cluster.errors import AutodiscoveryError
from emcache_pool import (
    Connection,
    Endpoint,
    MemcachedHostAddress,
    PoolConfig,
    connect,
    endpoint_text,
)
from emcache_pool.errors import PoolError, ServerProtocolError
from emcache_protocol import ClusterConfig as ConfigReply
from emcache_protocol import ErrorReply, ProtocolError, config_get_cluster_command

__all__ = ["Autodiscovery", "discovered_endpoints", "fetch_config"]

logger = logging.getLogger("emcache.cluster")

ApplyNodes = Callable[[list[MemcachedHostAddress]], None]


def discovered_endpoints(config: ConfigReply) -> list[MemcachedHostAddress]:
    """Return the node endpoints of a configuration, the ip preferred over the host name."""
    endpoints = (MemcachedHostAddress(node.ip or node.host, node.port) for node in config.nodes)
    return list(dict.fromkeys(endpoints))


async def fetch_config(endpoint: Endpoint, pool: PoolConfig, within: float) -> ConfigReply:
    """Ask one configuration endpoint for the cluster configuration.

    Args:
        endpoint: The configuration endpoint.
        pool: The node pool configuration; its TLS and on-connect step are reused.
        within: Seconds for the whole exchange, connection included.

    Returns:
        The configuration the endpoint answered.

    Raises:
        AutodiscoveryError: The message says why no configuration was obtained.
            Other errors (an on-connect step refusing, say) propagate unchanged.
    """
    where = endpoint_text(endpoint)
    conn: Connection | None = None
    try:
        async with asyncio.timeout(within):
            conn = await connect(endpoint, attrs.evolve(pool, connection_timeout=None))
            reply = await conn.execute(config_get_cluster_command())
    except TimeoutError:
        msg = f"{where} did not answer `config get cluster` within {within:.3g} s"
        raise AutodiscoveryError(msg) from None
    except (ProtocolError, ServerProtocolError) as exc:
        msg = f"{where} answered `config get cluster` with an unparsable reply ({exc})"
        raise AutodiscoveryError(msg) from exc
    except (PoolError, OSError) as exc:
        msg = f"{where} could not be asked `config get cluster`: {type(exc).__name__}: {exc}"
        raise AutodiscoveryError(msg) from exc
    finally:
        if conn is not None:
            conn.abort()  # a fresh connection per poll: nothing on it is worth a graceful close
            await conn.wait_closed()
    return _checked(where, reply)


def _checked(where: str, reply: ConfigReply | ErrorReply | None) -> ConfigReply:
    if isinstance(reply, ConfigReply):
        if not reply.nodes:
            msg = f"{where} answered `config get cluster` with an empty node list"
            raise AutodiscoveryError(msg)
        return reply
    if isinstance(reply, ErrorReply) and reply.kind == "ERROR":
        msg = (
            f"{where} answered ERROR to `config get cluster`: it does not support "
            "autodiscovery (a plain memcached?)"
        )
    elif isinstance(reply, ErrorReply):
        msg = f"{where} answered `config get cluster` with {reply.kind} {reply.message}"
    else:
        msg = f"{where} has no cluster configuration (`config get cluster` answered END)"
    raise AutodiscoveryError(msg)


class Autodiscovery:
    """Polls the configuration endpoints and hands newer node lists to the cluster."""

    def __init__(
        self,
        config_endpoints: Sequence[Endpoint],
        pool: PoolConfig,
        *,
        interval: float,
        timeout: float,
        apply: ApplyNodes,
    ) -> None:
        self._endpoints = list(config_endpoints)
        self._pool = pool
        self._interval = interval
        self._timeout = timeout
        self._apply = apply
        self._preferred = 0
        self._task: asyncio.Task[None] | None = None
        self.version: int | None = None
        """The version of the last applied configuration."""
        self.last_failure: str | None = None
        """Why each endpoint failed the last discovery, or None once one succeeded."""

    async def first(self) -> list[MemcachedHostAddress]:
        """Discover the initial node list within the timeout; one healthy endpoint is enough.

        Raises:
            AutodiscoveryError: No endpoint gave a usable configuration in time.
        """
        _, config = await self._discover()
        self.version = config.version
        return discovered_endpoints(config)

    async def _discover(self) -> tuple[Endpoint, ConfigReply]:
        """Ask the endpoints, staggered (see the module docstring), until one answers.

        Records the outcome in :attr:`last_failure`.

        Raises:
            AutodiscoveryError: No endpoint answered usably within the timeout.
                An error that is not a discovery failure (an on-connect step
                refusing, say) is raised instead when no endpoint answered.
        """
        try:
            endpoint, config = await _first_answer(
                self._endpoints, self._preferred, self._pool, self._timeout
            )
        except AutodiscoveryError as exc:
            self.last_failure = "; ".join(exc.reasons)
            raise
        except Exception as exc:
            self.last_failure = f"{type(exc).__name__}: {exc}"
            raise
        self.last_failure = None
        self._preferred = self._endpoints.index(endpoint)
        return endpoint, config

    def start(self) -> None:
        """Start polling every ``interval`` seconds."""
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="emcache_cluster autodiscovery"
        )

    async def close(self) -> None:
        """Stop polling. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def poll(self) -> bool:
        """Discover the node list once; apply it if its version is newer.

        Returns:
            Whether a new node list was applied.
        """
        try:
            endpoint, config = await self._discover()
        except AutodiscoveryError as exc:
            logger.warning(
                "autodiscovery: %s; keeping the last node list (version %s)", exc, self.version
            )
            return False
        if self.version is not None and config.version <= self.version:
            return False
        nodes = discovered_endpoints(config)
        logger.info(
            "autodiscovery: configuration version %d from %s lists %d nodes",
            config.version,
            endpoint_text(endpoint),
            len(nodes),
        )
        # Recorded once applied: a list the cluster could not apply is applied
        # again at the next poll instead of being taken as current.
        self._apply(nodes)
        self.version = config.version
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.poll()
            except Exception:
                logger.exception("autodiscovery: poll failed; keeping the last node list")


async def _first_answer(
    endpoints: Sequence[Endpoint], preferred: int, pool: PoolConfig, within: float
) -> tuple[Endpoint, ConfigReply]:
    """The first usable configuration, asking ``endpoints`` staggered from ``preferred``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    share = within / len(endpoints)
    waiting = [*endpoints[preferred:], *endpoints[:preferred]]
    asking: dict[asyncio.Task[ConfigReply], Endpoint] = {}
    reasons: list[str] = []
    errors: list[Exception] = []
    try:
        while waiting or asking:
            remaining = deadline - loop.time()
            if waiting and remaining > 0:
                endpoint = waiting.pop(0)
                asking[loop.create_task(fetch_config(endpoint, pool, remaining))] = endpoint
            elif waiting:
                reasons += [f"{endpoint_text(e)} was not asked: time is up" for e in waiting]
                waiting.clear()
                continue
            done, _ = await asyncio.wait(
                asking, timeout=share if waiting else None, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                endpoint = asking.pop(task)
                config = _answer(task, endpoint, reasons, errors)
                if config is not None:
                    return endpoint, config
    finally:
        await _cancel(asking)
    if errors:
        raise errors[0]
    msg = f"autodiscovery found no nodes within {within:.3g} s: " + "; ".join(reasons)
    raise AutodiscoveryError(msg, reasons)


def _answer(
    task: asyncio.Task[ConfigReply], endpoint: Endpoint, reasons: list[str], errors: list[Exception]
) -> ConfigReply | None:
    """The configuration of a finished request, or None after noting why it has none."""
    if task.cancelled():
        reasons.append(f"{endpoint_text(endpoint)} was not asked: cancelled")
        return None
    error = task.exception()
    if error is None:
        return task.result()
    if isinstance(error, AutodiscoveryError):
        reasons.append(str(error))
    elif isinstance(error, Exception):
        reasons.append(f"{endpoint_text(endpoint)}: {type(error).__name__}: {error}")
        errors.append(error)
    else:
        raise error
    return None


async def _cancel(tasks: Collection[asyncio.Task[ConfigReply]]) -> None:
    """Cancel the requests still running and wait until each has closed its connection."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: a late failure is of no interest any more
