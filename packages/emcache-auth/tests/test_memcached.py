"""TLS and authentication against real memcached servers started by the launcher."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from emcache_auth import (
    AuthFailedError,
    AuthNotEnabledError,
    AuthRequiredError,
    Credentials,
    TLSConfig,
    auth_required_error,
    authenticate,
    build_ssl_context,
    on_connect_step,
)
from emcache_protocol import Request, VersionReply, storage_command, version_command
from emcache_testing import AsciiAuth, MemcachedLauncher, MemcachedNode

AUTH = AsciiAuth(username="emcache-user", password="s3cr3t-Pa55")
WRONG_PASSWORD = "wr0ng-Pa55w0rd"

# The type of the `connect` fixture from conftest.py.
Connect = Callable[..., Awaitable[Any]]


def _context(**settings: object) -> ssl.SSLContext:
    context = build_ssl_context(TLSConfig(ssl=True, **settings))  # type: ignore[arg-type]
    assert context is not None
    return context


async def _assert_serves(channel: Any) -> None:
    reply = await channel.execute(version_command())
    assert isinstance(reply, VersionReply)


@pytest.mark.asyncio
async def test_tls_with_extra_ca_connects(memcached_tls: MemcachedNode, connect: Connect) -> None:
    """A context trusting the server's CA through ssl_extra_ca verifies it and talks TLS."""
    assert memcached_tls.tls is not None
    channel = await connect(memcached_tls, _context(ssl_extra_ca=str(memcached_tls.tls.ca_file)))
    await _assert_serves(channel)


@pytest.mark.asyncio
async def test_tls_without_extra_ca_fails_verification(
    memcached_tls: MemcachedNode, connect: Connect
) -> None:
    """The default trust store does not know the test CA, so the handshake is refused."""
    with pytest.raises(ssl.SSLCertVerificationError):
        await connect(memcached_tls, _context())


@pytest.mark.asyncio
async def test_tls_without_verification_connects(
    memcached_tls: MemcachedNode, connect: Connect
) -> None:
    """ssl_verify=False accepts the unknown certificate."""
    channel = await connect(memcached_tls, _context(ssl_verify=False))
    await _assert_serves(channel)


@pytest.mark.asyncio
async def test_tls_wrong_hostname_is_refused(
    memcached_tls: MemcachedNode, connect: Connect
) -> None:
    """A trusted certificate issued for another name fails the hostname check."""
    assert memcached_tls.tls is not None
    context = _context(ssl_extra_ca=str(memcached_tls.tls.ca_file))
    with pytest.raises(ssl.SSLCertVerificationError, match="match"):
        await connect(memcached_tls, context, server_hostname="memcached.example.invalid")


@pytest.mark.asyncio
async def test_tls_wrong_hostname_allowed_without_verification(
    memcached_tls: MemcachedNode, connect: Connect
) -> None:
    """ssl_verify=False also turns the hostname check off."""
    channel = await connect(
        memcached_tls, _context(ssl_verify=False), server_hostname="memcached.example.invalid"
    )
    await _assert_serves(channel)


@pytest.mark.asyncio
async def test_authenticate_accepted(memcached_auth: MemcachedNode, connect: Connect) -> None:
    """The right credentials authenticate the connection, which then serves requests."""
    assert memcached_auth.auth is not None
    channel = await connect(memcached_auth)
    credentials = Credentials(memcached_auth.auth.username, memcached_auth.auth.password)
    await authenticate(channel, credentials)
    await _assert_serves(channel)


@pytest.mark.asyncio
async def test_authenticate_wrong_password_refused(
    memcached_auth: MemcachedNode, connect: Connect
) -> None:
    """A wrong password fails with AuthFailedError naming the user, not the password."""
    assert memcached_auth.auth is not None
    channel = await connect(memcached_auth)
    with pytest.raises(AuthFailedError, match="refused the credentials") as info:
        await authenticate(channel, Credentials(memcached_auth.auth.username, WRONG_PASSWORD))
    assert type(info.value) is AuthFailedError
    assert repr(memcached_auth.auth.username) in str(info.value)
    assert WRONG_PASSWORD not in str(info.value)
    assert memcached_auth.auth.password not in str(info.value)


@pytest.mark.asyncio
async def test_authenticate_unknown_user_refused(
    memcached_auth: MemcachedNode, connect: Connect
) -> None:
    """A user missing from the server's auth file is refused."""
    assert memcached_auth.auth is not None
    channel = await connect(memcached_auth)
    with pytest.raises(AuthFailedError, match="'nobody'"):
        await authenticate(channel, Credentials("nobody", memcached_auth.auth.password))


@pytest.mark.asyncio
async def test_authenticate_server_without_auth(memcached: MemcachedNode, connect: Connect) -> None:
    """Credentials sent to a plain memcached fail with an error saying auth is not enabled."""
    channel = await connect(memcached)
    with pytest.raises(AuthNotEnabledError, match="does not have authentication enabled"):
        await authenticate(channel, Credentials(AUTH.username, AUTH.password))


@pytest.mark.asyncio
async def test_authenticate_server_without_auth_stores_nothing(
    memcached: MemcachedNode, connect: Connect
) -> None:
    """The failed handshake does not leave a key behind on a plain server."""
    channel = await connect(memcached)
    with pytest.raises(AuthNotEnabledError):
        await authenticate(channel, Credentials(AUTH.username, AUTH.password))
    assert memcached.command_reply(b"get _\r\n", until=b"END\r\n") == b"END\r\n"


@pytest.mark.asyncio
async def test_authenticate_over_tls(launcher: MemcachedLauncher, connect: Connect) -> None:
    """TLS and authentication together: verified TLS first, then the handshake inside it."""
    node = launcher.start(tls=True, auth=AUTH)[0]
    assert node.tls is not None
    channel = await connect(node, _context(ssl_extra_ca=str(node.tls.ca_file)))
    await authenticate(channel, Credentials(AUTH.username, AUTH.password))
    await _assert_serves(channel)


@pytest.mark.asyncio
async def test_authenticate_over_tls_wrong_password_refused(
    launcher: MemcachedLauncher, connect: Connect
) -> None:
    """A wrong password over TLS is refused just the same."""
    node = launcher.start(tls=True, auth=AUTH)[0]
    channel = await connect(node, _context(ssl_verify=False))
    with pytest.raises(AuthFailedError, match="refused"):
        await authenticate(channel, Credentials(AUTH.username, WRONG_PASSWORD))


@pytest.mark.asyncio
async def test_on_connect_step_authenticates_real_connection(
    memcached_auth: MemcachedNode, connect: Connect
) -> None:
    """The step handed to the pool authenticates a real connection."""
    step = on_connect_step(Credentials(AUTH.username, AUTH.password))
    channel = await connect(memcached_auth)
    await step(channel)
    await _assert_serves(channel)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "probe",
    [
        version_command(),
        storage_command(b"set", b"key", b"value"),
        storage_command(b"set", b"k", b"a b"),
    ],
)
async def test_auth_required_error_for_client_without_credentials(
    memcached_auth: MemcachedNode, connect: Connect, probe: Request[object]
) -> None:
    """Requests from a client without credentials get replies that map to AuthRequiredError."""
    channel = await connect(memcached_auth)
    reply = await channel.execute(probe)
    error = auth_required_error(reply)
    assert isinstance(error, AuthRequiredError)
    assert "without username and password" in str(error)


@pytest.mark.asyncio
async def test_auth_required_error_ignores_authenticated_replies(
    memcached_auth: MemcachedNode, connect: Connect
) -> None:
    """Once authenticated, ordinary replies do not map to an auth error."""
    channel = await connect(memcached_auth)
    await authenticate(channel, Credentials(AUTH.username, AUTH.password))
    reply = await channel.execute(storage_command(b"set", b"key", b"value"))
    assert auth_required_error(reply) is None


@pytest.mark.asyncio
async def test_handshake_logs_never_show_the_password(
    launcher: MemcachedLauncher, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    """With every logger at DEBUG, no record of any handshake outcome holds a password."""
    caplog.set_level(logging.DEBUG)
    tls_node = launcher.start(tls=True, auth=AUTH)[0]
    plain_node = launcher.start()[0]
    context = _context(ssl_verify=False)
    right = Credentials(AUTH.username, AUTH.password)
    wrong = Credentials(AUTH.username, WRONG_PASSWORD)
    errors: list[BaseException] = []

    await authenticate(await connect(tls_node, context), right)
    for node, ssl_context, credentials in [
        (tls_node, context, wrong),
        (plain_node, None, right),
    ]:
        try:
            await authenticate(await connect(node, ssl_context), credentials)
        except AuthFailedError as exc:
            logging.getLogger("emcache.auth").debug("handshake failed", exc_info=True)
            errors.append(exc)

    assert len(errors) == 2
    assert any(record.name == "emcache.auth" for record in caplog.records)
    for secret in (AUTH.password, WRONG_PASSWORD):
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()
            assert secret not in repr(record.args)
            assert secret not in (record.exc_text or "")
        for error in errors:
            assert secret not in str(error)
            assert secret not in repr(error)
            assert secret not in repr(error.__cause__)
