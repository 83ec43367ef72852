"""Every emcache_protocol encoder against a real memcached through a plain socket.

Proves that the server accepts what we send and that the parser reads what it
answers, with no client layer in between.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TypeVar

import pytest

from emcache_protocol import (
    NEED_DATA,
    ErrorReply,
    Request,
    ResponseParser,
    StatsReply,
    Status,
    Value,
    VersionReply,
    auth_command,
    cache_memlimit_command,
    config_get_cluster_command,
    delete_command,
    flush_all_command,
    incr_decr_command,
    retrieval_command,
    stats_command,
    storage_command,
    touch_command,
    verbosity_command,
    version_command,
)
from emcache_testing import MemcachedNode

T = TypeVar("T")


class Wire:
    """A blocking socket plus a parser: send a request, read its reply."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = ResponseParser()

    def call(self, request: Request[T]) -> T | ErrorReply:
        self.sock.sendall(request.data)
        return self.reply(request)

    def reply(self, request: Request[T]) -> T | ErrorReply:
        while (result := self.parser.next_reply(request)) is NEED_DATA:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.parser.receive_data(chunk)
        return result

    def get(self, key: bytes, command: bytes = b"get") -> Value | None:
        values = self.call(retrieval_command(command, [key]))
        assert isinstance(values, list)
        return values[0] if values else None

    def in_sync(self) -> None:
        """Nothing unexpected was answered: the next reply is ours."""
        assert isinstance(self.call(version_command()), VersionReply)
        assert not self.parser.has_buffered_data()


@pytest.fixture(name="wire")
def _wire(memcached: MemcachedNode) -> Iterator[Wire]:
    with memcached.connect() as sock:
        yield Wire(sock)


def test_roundtrip_set_and_get_values_of_any_bytes(wire: Wire) -> None:
    """Values holding CRLF, END and every byte value come back unchanged, with their flags."""
    data = bytes(range(256)) + b"\r\nEND\r\n"
    assert wire.call(storage_command(b"set", b"k", data, 2**32 - 1)) is Status.STORED
    assert wire.get(b"k") == Value(b"k", 2**32 - 1, data, None)


def test_roundtrip_large_value(wire: Wire) -> None:
    """A 1000 KB value crosses many socket reads and parses once complete."""
    data = b"z" * 1_000_000
    assert wire.call(storage_command(b"set", b"big", data)) is Status.STORED
    value = wire.get(b"big")
    assert value is not None
    assert value.value == data


def test_roundtrip_longest_and_utf8_keys(wire: Wire) -> None:
    """A 250-byte key and a UTF-8 key are accepted by the server."""
    for key in (b"k" * 250, "clé-ключ".encode()):
        assert wire.call(storage_command(b"set", key, b"v")) is Status.STORED
        assert wire.get(key) == Value(key, 0, b"v", None)


def test_roundtrip_storage_commands(wire: Wire) -> None:
    """add, replace, append and prepend give their documented statuses."""
    call = wire.call
    assert call(storage_command(b"replace", b"k", b"x")) is Status.NOT_STORED
    assert call(storage_command(b"add", b"k", b"b")) is Status.STORED
    assert call(storage_command(b"add", b"k", b"x")) is Status.NOT_STORED
    assert call(storage_command(b"append", b"k", b"c")) is Status.STORED
    assert call(storage_command(b"prepend", b"k", bytearray(b"a"))) is Status.STORED
    assert call(storage_command(b"replace", b"k", b"abcd")) is Status.STORED
    assert wire.get(b"k") == Value(b"k", 0, b"abcd", None)


def test_roundtrip_cas(wire: Wire) -> None:
    """gets returns a cas unique that cas accepts once, then EXISTS; NOT_FOUND when missing."""
    wire.call(storage_command(b"set", b"k", b"v1"))
    value = wire.get(b"k", b"gets")
    assert value is not None
    assert value.cas is not None
    request = storage_command(b"cas", b"k", b"v2", cas=value.cas)
    assert wire.call(request) is Status.STORED
    assert wire.call(request) is Status.EXISTS
    missing = storage_command(b"cas", b"nope", b"v", cas=1)
    assert wire.call(missing) is Status.NOT_FOUND


def test_roundtrip_negative_exptime_expires_at_once(wire: Wire) -> None:
    """A negative exptime is accepted and stores an already expired item."""
    assert wire.call(storage_command(b"set", b"k", b"v", 0, -1)) is Status.STORED
    assert wire.get(b"k") is None


def test_roundtrip_multi_get_with_misses(wire: Wire) -> None:
    """get, gets, gat and gats of many keys return the hits in request order."""
    for key in (b"a", b"c"):
        wire.call(storage_command(b"set", key, key * 3, 7))
    keys = [b"a", b"b", b"c", b"d"]
    values = wire.call(retrieval_command(b"get", keys))
    assert values == [Value(b"a", 7, b"aaa", None), Value(b"c", 7, b"ccc", None)]
    for command in (b"gets", b"gats"):
        exptime = None if command == b"gets" else 100
        values = wire.call(retrieval_command(command, keys, exptime))
        assert isinstance(values, list)
        assert [(v.key, v.value) for v in values] == [(b"a", b"aaa"), (b"c", b"ccc")]
        assert all(v.cas is not None for v in values)
    values = wire.call(retrieval_command(b"gat", keys, 100))
    assert values == [Value(b"a", 7, b"aaa", None), Value(b"c", 7, b"ccc", None)]


def test_roundtrip_gat_with_negative_exptime_expires_items(wire: Wire) -> None:
    """gat returns the item and applies the new exptime."""
    wire.call(storage_command(b"set", b"k", b"v"))
    assert wire.get(b"k") is not None
    values = wire.call(retrieval_command(b"gat", [b"k"], -1))
    assert values == [Value(b"k", 0, b"v", None)]
    assert wire.get(b"k") is None


def test_roundtrip_incr_decr(wire: Wire) -> None:
    """incr wraps at 2**64, decr stops at zero, a missing key is NOT_FOUND."""
    wire.call(storage_command(b"set", b"n", b"5"))
    assert wire.call(incr_decr_command(b"incr", b"n", 2**64 - 1)) == 4
    assert wire.call(incr_decr_command(b"decr", b"n", 10)) == 0
    assert wire.call(incr_decr_command(b"incr", b"none", 1)) is Status.NOT_FOUND


def test_roundtrip_incr_on_non_number_is_an_error_reply(wire: Wire) -> None:
    """incr of a non-numeric value is a CLIENT_ERROR reply and the stream stays in sync."""
    wire.call(storage_command(b"set", b"k", b"abc"))
    reply = wire.call(incr_decr_command(b"incr", b"k", 1))
    assert isinstance(reply, ErrorReply)
    assert reply.kind == "CLIENT_ERROR"
    wire.in_sync()


def test_roundtrip_touch_and_delete(wire: Wire) -> None:
    """touch and delete report TOUCHED/DELETED, then NOT_FOUND."""
    wire.call(storage_command(b"set", b"k", b"v"))
    assert wire.call(touch_command(b"k", 100)) is Status.TOUCHED
    assert wire.call(delete_command(b"k")) is Status.DELETED
    assert wire.call(touch_command(b"k", 100)) is Status.NOT_FOUND
    assert wire.call(delete_command(b"k")) is Status.NOT_FOUND


def test_roundtrip_flush_all(wire: Wire) -> None:
    """flush_all with and without delay answers OK; without delay it empties the cache."""
    wire.call(storage_command(b"set", b"k", b"v"))
    assert wire.call(flush_all_command(3600)) is Status.OK
    assert wire.get(b"k") is not None
    assert wire.call(flush_all_command()) is Status.OK
    assert wire.get(b"k") is None


def test_roundtrip_version_verbosity_memlimit(wire: Wire) -> None:
    """version, verbosity and cache_memlimit are understood, at their range limits too."""
    reply = wire.call(version_command())
    assert isinstance(reply, VersionReply)
    assert reply.version[0].isdigit()
    assert wire.call(verbosity_command(2**32 - 1)) is Status.OK
    assert wire.call(verbosity_command(0)) is Status.OK
    assert wire.call(cache_memlimit_command(1_000_000_000)) is Status.OK
    assert wire.call(cache_memlimit_command(8)) is Status.OK
    assert wire.call(cache_memlimit_command(64)) is Status.OK


def test_roundtrip_stats(wire: Wire) -> None:
    """stats, stats settings, stats slabs and stats reset parse as StatsReply."""
    general = wire.call(stats_command())
    assert isinstance(general, StatsReply)
    assert "pid" in general.stats
    assert "uptime" in general.stats
    settings = wire.call(stats_command("settings"))
    assert isinstance(settings, StatsReply)
    assert "maxbytes" in settings.stats
    wire.call(storage_command(b"set", b"k", b"v"))
    for args in (("slabs",), ("items",), (b"sizes",), ("conns",)):
        assert isinstance(wire.call(stats_command(*args)), StatsReply)
    assert wire.call(stats_command("reset")) == StatsReply({})
    reply = wire.call(stats_command("no-such-group"))
    assert isinstance(reply, ErrorReply)
    wire.in_sync()


def test_roundtrip_config_get_cluster_on_plain_memcached(wire: Wire) -> None:
    """A plain memcached answers config get cluster with ERROR, and the stream stays usable."""
    assert wire.call(config_get_cluster_command()) == ErrorReply("ERROR", "")
    wire.in_sync()


def test_roundtrip_auth(memcached_auth: MemcachedNode) -> None:
    """The auth request is accepted with the right credentials and then commands work."""
    assert memcached_auth.auth is not None
    with memcached_auth.connect() as sock:
        wire = Wire(sock)
        request = auth_command(memcached_auth.auth.username, memcached_auth.auth.password)
        assert wire.call(request) is Status.STORED
        assert wire.call(storage_command(b"set", b"k", b"v")) is Status.STORED


def test_roundtrip_auth_refused(memcached_auth: MemcachedNode) -> None:
    """Wrong credentials give a CLIENT_ERROR reply."""
    with memcached_auth.connect() as sock:
        reply = Wire(sock).call(auth_command("nobody", "wrong"))
        assert isinstance(reply, ErrorReply)
        assert reply.kind == "CLIENT_ERROR"


def test_roundtrip_pipelined_requests(wire: Wire) -> None:
    """Many requests written at once are answered in order and parsed in order."""
    stores = [storage_command(b"set", b"k%d" % i, b"v%d" % i) for i in range(200)]
    keys = [b"k%d" % i for i in range(200)]
    get = retrieval_command(b"get", keys)
    wire.sock.sendall(b"".join(request.data for request in [*stores, get]))
    for store in stores:
        assert wire.reply(store) is Status.STORED
    values = wire.reply(get)
    assert isinstance(values, list)
    assert [v.value for v in values] == [b"v%d" % i for i in range(200)]
