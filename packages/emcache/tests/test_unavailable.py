# The 1.x spelling asyncio.TimeoutError is the point of these tests.
# ruff: noqa: UP041
"""The error contract of emcache 1.x: a cache that cannot answer raises asyncio.TimeoutError.

This client fails fast instead of waiting for the timeout, with errors that are
builtin :class:`TimeoutError` (``asyncio.TimeoutError``) all the same, and
every "the cache could not answer" outcome is an ``emcache.CacheUnavailableError``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import trustme

import emcache
from emcache_testing import AsciiAuth, MemcachedLauncher, MemcachedNode, free_port
from node_endpoints import endpoint_of

FAST = 0.5  # seconds: well below every timeout below, so "fast" is not "timed out"


async def unavailable(endpoint: Any, **options: Any) -> tuple[BaseException, float]:
    """What a get on a fresh client raises, caught as 1.x code catches it, and how fast."""
    options.setdefault("timeout", 5.0)
    client = await emcache.create_client([endpoint], **options)
    try:
        started = time.monotonic()
        try:
            await client.get(b"key")
        except asyncio.TimeoutError as exc:
            return exc, time.monotonic() - started
        raise AssertionError("the get did not fail")
    finally:
        await client.close()


def test_unavailable_error_classes() -> None:
    """Connection and timeout errors are asyncio.TimeoutError; all three share one base."""
    assert issubclass(emcache.ConnectionFailedError, asyncio.TimeoutError)
    assert issubclass(emcache.ConnectionFailedError, emcache.CommandError)
    assert issubclass(emcache.ConnectionFailedError, ConnectionError)
    assert issubclass(emcache.OperationTimeoutError, asyncio.TimeoutError)
    for error in (
        emcache.ConnectionFailedError,
        emcache.OperationTimeoutError,
        emcache.ClusterNoAvailableNodes,
    ):
        assert issubclass(error, emcache.CacheUnavailableError)
    assert not issubclass(emcache.AuthenticationError, emcache.CacheUnavailableError | TimeoutError)


@pytest.mark.asyncio
async def test_refused_node_fails_fast_as_asyncio_timeout_error() -> None:
    """A node nobody listens for raises at once, caught by ``except asyncio.TimeoutError``."""
    error, took = await unavailable(emcache.MemcachedHostAddress("127.0.0.1", free_port()))
    assert isinstance(error, emcache.ConnectionFailedError)
    assert took < FAST


@pytest.mark.asyncio
async def test_plaintext_client_on_tls_port_fails_fast_as_asyncio_timeout_error(
    memcached_tls: MemcachedNode,
) -> None:
    """A client without TLS against a TLS node raises at once, as asyncio.TimeoutError."""
    error, took = await unavailable(endpoint_of(memcached_tls))
    assert isinstance(error, emcache.ConnectionFailedError)
    assert took < FAST


@pytest.mark.asyncio
async def test_tls_verification_failure_fails_fast_as_asyncio_timeout_error(
    memcached_tls: MemcachedNode, tmp_path: Path
) -> None:
    """A certificate failing verification (no extra CA, or the wrong one) is a TimeoutError."""
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    for options in ({"ssl": True}, {"ssl": True, "ssl_extra_ca": str(other_ca)}):
        error, took = await unavailable(endpoint_of(memcached_tls), **options)
        assert isinstance(error, emcache.ConnectionFailedError)
        assert "certificate" in str(error).lower()
        assert took < FAST


@pytest.mark.asyncio
@pytest.mark.parametrize("autobatching", [False, True])
async def test_hung_node_raises_operation_timeout(
    memcached: MemcachedNode, autobatching: bool
) -> None:
    """A node that does not answer costs the timeout, then an OperationTimeoutError."""
    client = await emcache.create_client(
        [endpoint_of(memcached)], timeout=0.2, autobatching=autobatching
    )
    try:
        await client.set(b"key", b"value")
        memcached.pause()
        with pytest.raises(asyncio.TimeoutError) as info:
            await client.get(b"key")
        assert isinstance(info.value, emcache.OperationTimeoutError)
    finally:
        memcached.resume()
        await client.close()


@pytest.mark.asyncio
async def test_cache_unavailable_error_covers_every_outcome(launcher: MemcachedLauncher) -> None:
    """A timeout, a connection failure and no available node are all CacheUnavailableError."""
    hung, plain = launcher.start(2)
    clients = [
        await emcache.create_client([endpoint_of(hung)], timeout=0.2),
        await emcache.create_client([emcache.MemcachedHostAddress("127.0.0.1", free_port())]),
        # A plain memcached answers ERROR to `config get cluster`: no node is found.
        await emcache.create_client(
            [endpoint_of(plain)], autodiscovery=True, autodiscovery_timeout=0.5
        ),
    ]
    seen: list[type[BaseException]] = []
    hung.pause()
    try:
        for client in clients:
            try:
                await client.get(b"key")
            except emcache.CacheUnavailableError as exc:
                seen.append(type(exc))
    finally:
        hung.resume()
        for client in clients:
            await client.close()
    assert seen == [
        emcache.OperationTimeoutError,
        emcache.ConnectionFailedError,
        emcache.ClusterNoAvailableNodes,
    ]


@pytest.mark.asyncio
async def test_authentication_errors_stay_authentication_error(launcher: MemcachedLauncher) -> None:
    """Refused credentials raise AuthenticationError, which is not an unavailability error."""
    node = launcher.start(auth=AsciiAuth(username="app", password="right"))[0]
    client = await emcache.create_client(
        [endpoint_of(node)], username="app", password="wrong", timeout=2.0
    )
    try:
        with pytest.raises(emcache.AuthenticationError) as info:
            await client.get(b"key")
        assert not isinstance(info.value, TimeoutError | emcache.CacheUnavailableError)
    finally:
        await client.close()
