"""Security: TLS verification, secrets kept out of sight, and no command injection.

TLS nodes get certificates from throwaway trustme CAs: the launcher's own
(valid for localhost/127.0.0.1/::1), one for another host name, one already
expired, and an unrelated CA. A client with ``ssl=True`` must refuse every
certificate it cannot verify and say why; only ``ssl_verify=False`` opts out.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import ssl
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

import emcache
from emcache_testing import AsciiAuth, MemcachedLauncher, MemcachedNode, TLSMaterial
from tests_integration.helpers import ClientFactory, address

SENTINEL = b"sentinel"


@dataclass(frozen=True)
class UncheckedTLSMaterial(TLSMaterial):
    """Material whose readiness probe does not verify (for certificates meant to fail)."""

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context


def write_material(
    directory: Path,
    ca: trustme.CA,
    *identities: str,
    hostname: str,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    checked: bool = True,
) -> TLSMaterial:
    """Issue a server certificate from ``ca`` and write the files memcached needs."""
    directory.mkdir(parents=True, exist_ok=True)
    cert = ca.issue_cert(*identities, not_before=not_before, not_after=not_after)
    ca_file = directory / "ca.pem"
    cert_file = directory / "chain.pem"
    key_file = directory / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with cert_file.open("wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    cert.private_key_pem.write_to_path(str(key_file))
    kind = TLSMaterial if checked else UncheckedTLSMaterial
    return kind(ca_file, cert_file, key_file, hostname)


async def assert_refused(node: MemcachedNode, reason: str, **options: object) -> None:
    """A client with ``options`` cannot talk to ``node``: a clear error naming ``reason``."""
    client = await emcache.create_client([address(node)], timeout=2.0, **options)  # type: ignore[arg-type]
    try:
        for _ in range(2):
            with pytest.raises(emcache.ConnectionFailedError) as info:
                await client.set(b"k", b"v")
            assert reason in str(info.value).lower(), str(info.value)
    finally:
        await client.close()


async def assert_works(node: MemcachedNode, **options: object) -> None:
    client = await emcache.create_client([address(node)], timeout=2.0, **options)  # type: ignore[arg-type]
    try:
        await client.set(b"k", b"v")
        item = await client.get(b"k")
        assert item is not None
        assert item.value == b"v"
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_security_tls_verification_on_by_default(memcached_tls: MemcachedNode) -> None:
    """ssl=True without the node's CA refuses the certificate; with the CA it works."""
    assert memcached_tls.tls is not None
    await assert_refused(memcached_tls, "certificate", ssl=True)
    await assert_works(memcached_tls, ssl=True, ssl_extra_ca=str(memcached_tls.tls.ca_file))


@pytest.mark.asyncio
async def test_security_tls_wrong_ca_refused(memcached_tls: MemcachedNode, tmp_path: Path) -> None:
    """A certificate signed by a CA other than the trusted one is refused."""
    other = trustme.CA()
    other_ca = tmp_path / "other-ca.pem"
    other.cert_pem.write_to_path(str(other_ca))
    await assert_refused(memcached_tls, "certificate", ssl=True, ssl_extra_ca=str(other_ca))


@pytest.mark.asyncio
async def test_security_tls_wrong_host_refused(launcher: MemcachedLauncher, tmp_path: Path) -> None:
    """A valid certificate for another host name is refused when connecting to 127.0.0.1."""
    ca = trustme.CA()
    material = write_material(
        tmp_path / "other-host", ca, "cache.example.org", hostname="cache.example.org"
    )
    node = launcher.start(tls=material)[0]
    await assert_refused(node, "certificate", ssl=True, ssl_extra_ca=str(material.ca_file))


@pytest.mark.asyncio
async def test_security_tls_expired_certificate_refused(
    launcher: MemcachedLauncher, tmp_path: Path
) -> None:
    """An expired certificate is refused; turning verification off explicitly accepts it."""
    ca = trustme.CA()
    now = datetime.datetime.now(datetime.UTC)
    material = write_material(
        tmp_path / "expired",
        ca,
        "localhost",
        "127.0.0.1",
        hostname="localhost",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
        checked=False,
    )
    node = launcher.start(tls=material)[0]
    await assert_refused(node, "expired", ssl=True, ssl_extra_ca=str(material.ca_file))
    await assert_works(node, ssl=True, ssl_verify=False)


@pytest.mark.asyncio
async def test_security_plaintext_client_on_tls_node_fails_fast(
    memcached_tls: MemcachedNode,
) -> None:
    """A client without TLS against a TLS node fails within its timeout, never hangs."""
    client = await emcache.create_client([address(memcached_tls)], timeout=1.0)
    try:
        with pytest.raises((emcache.CommandError, TimeoutError)):
            await asyncio.wait_for(client.get(b"k"), 3.0)
    finally:
        await client.close()


def texts_of(exc: BaseException) -> list[str]:
    """Every text an exception exposes: str, repr, args, its chain and its traceback."""
    out = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return out


@pytest.mark.asyncio
async def test_security_credentials_absent_from_repr_logs_errors(
    memcached_auth: MemcachedNode, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither the password nor the username/password pair shows in repr, logs or errors."""
    assert memcached_auth.auth is not None
    username, password = memcached_auth.auth.username, memcached_auth.auth.password
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    client = await emcache.create_client(
        [address(memcached_auth)], username=username, password=password, timeout=2.0
    )
    try:
        await client.set(b"k", b"v")
        item = await client.get(b"k")
        assert item is not None
        assert item.value == b"v"
        managment = client.cluster_managment()
        texts += [repr(client), str(client), repr(managment), repr(managment.nodes())]
        texts += [repr(managment.connection_pool_metrics())]
    finally:
        await client.close()

    wrong = await emcache.create_client(
        [address(memcached_auth)], username=username, password=password + "-wrong", timeout=2.0
    )
    try:
        with pytest.raises(emcache.AuthenticationError) as info:
            await wrong.get(b"k")
        texts += texts_of(info.value)
        texts.append(repr(wrong))
    finally:
        await wrong.close()

    anonymous = await emcache.create_client([address(memcached_auth)], timeout=2.0)
    try:
        with pytest.raises(emcache.AuthenticationError) as info:
            await anonymous.get(b"k")
        texts += texts_of(info.value)
    finally:
        await anonymous.close()

    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    assert caplog.records, "expected some DEBUG logging to inspect"
    for text in texts:
        assert password not in text
        assert f"{username} {password}" not in text


@pytest.mark.asyncio
async def test_security_bad_options_do_not_echo_password(memcached: MemcachedNode) -> None:
    """An option error raised next to a password never quotes it."""
    secret = "do-not-print-me-42"
    for options in (
        {"password": secret},
        {"username": "", "password": secret},
        {"username": 5, "password": secret},
        {"username": "u", "password": secret, "timeout": -1},
    ):
        with pytest.raises((ValueError, TypeError)) as info:
            await emcache.create_client([address(memcached)], **options)  # type: ignore[arg-type]
        for text in texts_of(info.value):
            assert secret not in text


INJECTIONS = [
    b"a\r\nflush_all",
    b"a\r\nflush_all\r\n",
    b"a\nflush_all",
    b"a flush_all",
    b"a\x00\r\nflush_all",
    b"set x 0 0 1\r\nX",
]


def node_stat(node: MemcachedNode, name: str) -> int:
    reply = node.command_reply(b"stats\r\n", until=b"END\r\n")
    for line in reply.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == name:
            return int(parts[2])
    raise AssertionError(f"no stat {name}")


@pytest.mark.asyncio
async def test_security_key_injection_impossible(
    memcached: MemcachedNode, make_client: ClientFactory
) -> None:
    """Keys carrying CR/LF/space/NUL cannot smuggle a command; values are opaque data."""
    client = await make_client([memcached])
    await client.set(SENTINEL, b"still here")
    calls = []
    for key in INJECTIONS:
        calls += [
            client.get(key),
            client.set(key, b"x"),
            client.delete(key),
            client.touch(key, 0),
            client.increment(key, 1),
            client.get_many([b"ok", key]),
        ]
    for call in calls:
        with pytest.raises(ValueError):
            await call
    with pytest.raises(ValueError):
        await client.stats(address(memcached), "items\r\nflush_all")
    # A value may contain anything: it travels as a length-prefixed data block.
    payload = b"x\r\nflush_all\r\nEND\r\nVALUE sentinel 0 4\r\nfake\r\n"
    await client.set(b"payload", payload)
    item = await client.get(b"payload")
    assert item is not None
    assert item.value == payload
    item = await client.get(SENTINEL)
    assert item is not None
    assert item.value == b"still here"
    assert await asyncio.to_thread(node_stat, memcached, "cmd_flush") == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["tls", "auth"])
async def test_security_node_restart_reconnects_securely(
    launcher: MemcachedLauncher, kind: str
) -> None:
    """After a TLS or auth node restarts, new connections verify / authenticate again."""
    if kind == "tls":
        node = launcher.start(tls=True)[0]
        assert node.tls is not None
        options: dict[str, object] = {"ssl": True, "ssl_extra_ca": str(node.tls.ca_file)}
    else:
        node = launcher.start(auth=AsciiAuth("restart-user", "restart-Pa55"))[0]
        options = {"username": "restart-user", "password": "restart-Pa55"}
    client = await emcache.create_client([address(node)], timeout=1.0, **options)  # type: ignore[arg-type]
    try:
        await client.set(b"k", b"before")
        await asyncio.to_thread(node.restart)
        deadline = time.monotonic() + 5.0
        while True:
            try:
                await client.set(b"k", b"after")
                break
            except emcache.ConnectionFailedError:
                assert time.monotonic() < deadline, "never reconnected"
                await asyncio.sleep(0.05)
        item = await client.get(b"k")
        assert item is not None
        assert item.value == b"after"
        assert time.monotonic() < deadline
    finally:
        await client.close()
