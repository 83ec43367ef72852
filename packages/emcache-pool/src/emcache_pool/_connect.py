"""Opening one ready-to-use connection: transport, TLS, the on-connect step, one time limit.

The pool opens its connections with :func:`connect`, and so can anybody who needs a single
connection configured exactly as the pool's would be (autodiscovery sends one command to a
configuration endpoint this way). Every failure is a :class:`~emcache_pool.errors.ConnectError`
with the cause attached, except the on-connect step's own errors, which pass unchanged so that
an authentication failure stays one.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from emcache_pool._config import PoolConfig
from emcache_pool._connection import Connection
from emcache_pool._endpoints import Endpoint, MemcachedHostAddress, endpoint_text
from emcache_pool.errors import ConnectError

__all__ = ["connect", "open_connection"]


async def connect(
    endpoint: Endpoint,
    config: PoolConfig,
    *,
    opened: Callable[[Connection], None] | None = None,
) -> Connection:
    """Open a connection to ``endpoint`` and run ``config.on_connect`` on it.

    The whole of it is bounded by ``config.connection_timeout``. A connection whose on-connect
    step fails (or times out, or is cancelled) is aborted before the error propagates.

    Args:
        endpoint: The node.
        config: The TLS context, server name, on-connect step and time limit to use.
        opened: Called with the connection as soon as its transport is open, before the
            on-connect step, so that the caller can wait for an aborted one to close.

    Returns:
        The connection, ready for requests.

    Raises:
        ConnectError: The connection could not be opened in time.
    """
    label = endpoint_text(endpoint)
    server_hostname = config.server_hostname
    if server_hostname is None and isinstance(endpoint, MemcachedHostAddress):
        server_hostname = endpoint.address
    conn: Connection | None = None
    try:
        async with asyncio.timeout(config.connection_timeout):
            try:
                conn = await open_connection(
                    endpoint, ssl_context=config.ssl_context, server_hostname=server_hostname
                )
            except Exception as exc:  # OSError, ssl.SSLError, but also a bad port or name
                msg = f"cannot connect to {label}: {type(exc).__name__}: {exc}"
                raise ConnectError(msg) from exc
            if opened is not None:
                opened(conn)
            if config.on_connect is not None:
                await config.on_connect(conn)
    except TimeoutError as exc:
        if conn is not None:
            conn.abort()
        msg = f"timed out after {config.connection_timeout} s connecting to {label}"
        raise ConnectError(msg) from exc
    except BaseException:
        if conn is not None:
            conn.abort()
        raise
    return conn


async def open_connection(
    endpoint: Endpoint,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> Connection:
    """Open a connection to ``endpoint`` (no timeout: wrap the call in one).

    Args:
        endpoint: The node.
        ssl_context: Wrap the stream in TLS with this context.
        server_hostname: The name the certificate must match; defaults to the TCP address.

    Returns:
        The open connection.

    Raises:
        OSError: The connection could not be opened (``ssl.SSLError`` included).
    """
    loop = asyncio.get_running_loop()
    label = endpoint_text(endpoint)

    def factory() -> Connection:
        return Connection(loop, label)

    if isinstance(endpoint, MemcachedHostAddress):
        hostname = server_hostname if ssl_context is not None else None
        _, conn = await loop.create_connection(
            factory,
            endpoint.address,
            endpoint.port,
            ssl=ssl_context,
            server_hostname=hostname,
        )
    else:
        hostname = (server_hostname or "localhost") if ssl_context is not None else None
        _, conn = await loop.create_unix_connection(
            factory, endpoint.path, ssl=ssl_context, server_hostname=hostname
        )
    return conn
