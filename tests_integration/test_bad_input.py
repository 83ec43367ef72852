"""Bad input: every invalid argument gets a typed error and nothing reaches the server.

Each table row is checked against a real node: the call raises ``ValueError``
or ``TypeError`` (``StorageCommandError`` for a value over the server's item
size, which only the server knows), the node's command and byte counters do
not move, and a key stored beforehand still reads back intact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import emcache
from emcache_testing import MemcachedNode
from tests_integration.helpers import ClientFactory, address

SENTINEL_KEY = b"sentinel"
SENTINEL_VALUE = b"intact \r\n value"
GOOD = b"good-key"
STATS_REQUEST = b"stats\r\n"
COUNTERS = (
    "cmd_get",
    "cmd_set",
    "cmd_touch",
    "cmd_flush",
    "get_hits",
    "get_misses",
    "delete_hits",
    "delete_misses",
    "incr_hits",
    "incr_misses",
    "decr_hits",
    "decr_misses",
    "cas_hits",
    "cas_misses",
    "cas_badval",
    "touch_hits",
    "touch_misses",
    "total_items",
)

BAD_KEYS: list[tuple[str, object, type[Exception]]] = [
    ("empty", b"", ValueError),
    ("251 bytes", b"k" * 251, ValueError),
    ("space", b"a b", ValueError),
    ("tab", b"a\tb", ValueError),
    ("CR", b"a\rb", ValueError),
    ("LF", b"a\nb", ValueError),
    ("CRLF injection", b"a\r\nflush_all", ValueError),
    ("NUL", b"a\x00b", ValueError),
    ("DEL", b"a\x7fb", ValueError),
    ("str", "key", TypeError),
    ("None", None, TypeError),
    ("int", 42, TypeError),
]

Call = Callable[[emcache.Client, Any], Coroutine[Any, Any, Any]]
KEY_COMMANDS: dict[str, Call] = {
    "get": lambda c, k: c.get(k),
    "gets": lambda c, k: c.gets(k),
    "gat": lambda c, k: c.gat(0, k),
    "gats": lambda c, k: c.gats(0, k),
    "set": lambda c, k: c.set(k, b"v"),
    "add": lambda c, k: c.add(k, b"v"),
    "replace": lambda c, k: c.replace(k, b"v"),
    "append": lambda c, k: c.append(k, b"v"),
    "prepend": lambda c, k: c.prepend(k, b"v"),
    "cas": lambda c, k: c.cas(k, b"v", 1),
    "set noreply": lambda c, k: c.set(k, b"v", noreply=True),
    "increment": lambda c, k: c.increment(k, 1),
    "decrement": lambda c, k: c.decrement(k, 1),
    "touch": lambda c, k: c.touch(k, 0),
    "delete": lambda c, k: c.delete(k),
    "delete noreply": lambda c, k: c.delete(k, noreply=True),
    "get_many": lambda c, k: c.get_many([GOOD, k]),
    "gets_many": lambda c, k: c.gets_many([GOOD, k]),
    "gat_many": lambda c, k: c.gat_many(0, [GOOD, k]),
    "gats_many": lambda c, k: c.gats_many(0, [GOOD, k]),
}

ARGUMENT_CASES: list[tuple[str, Call, type[Exception]]] = [
    # values
    ("value str", lambda c, k: c.set(k, "text"), TypeError),
    ("value None", lambda c, k: c.set(k, None), TypeError),
    ("value int", lambda c, k: c.set(k, 7), TypeError),
    ("add value str", lambda c, k: c.add(k, "text"), TypeError),
    ("replace value None", lambda c, k: c.replace(k, None), TypeError),
    ("append value str", lambda c, k: c.append(k, "text"), TypeError),
    ("prepend value None", lambda c, k: c.prepend(k, None), TypeError),
    ("cas value str", lambda c, k: c.cas(k, "text", 1), TypeError),
    # flags
    ("flags -1", lambda c, k: c.set(k, b"v", flags=-1), ValueError),
    ("flags 2**32", lambda c, k: c.set(k, b"v", flags=2**32), ValueError),
    ("flags str", lambda c, k: c.set(k, b"v", flags="1"), TypeError),
    ("flags float", lambda c, k: c.set(k, b"v", flags=1.5), TypeError),
    ("flags None", lambda c, k: c.set(k, b"v", flags=None), TypeError),
    # exptime
    ("exptime 2**31", lambda c, k: c.set(k, b"v", exptime=2**31), ValueError),
    ("exptime -2**31-1", lambda c, k: c.set(k, b"v", exptime=-(2**31) - 1), ValueError),
    ("exptime str", lambda c, k: c.set(k, b"v", exptime="10"), TypeError),
    ("exptime float", lambda c, k: c.set(k, b"v", exptime=1.5), TypeError),
    ("touch exptime 2**31", lambda c, k: c.touch(k, 2**31), ValueError),
    ("touch exptime str", lambda c, k: c.touch(k, "1"), TypeError),
    ("gat exptime 2**31", lambda c, k: c.gat(2**31, k), ValueError),
    ("gat exptime None", lambda c, k: c.gat(None, k), ValueError),  # "required"
    ("gat_many exptime str", lambda c, k: c.gat_many("1", [k]), TypeError),
    # cas
    ("cas -1", lambda c, k: c.cas(k, b"v", -1), ValueError),
    ("cas 2**64", lambda c, k: c.cas(k, b"v", 2**64), ValueError),
    ("cas str", lambda c, k: c.cas(k, b"v", "1"), TypeError),
    ("cas None", lambda c, k: c.cas(k, b"v", None), ValueError),  # "required"
    # incr/decr delta
    ("incr -1", lambda c, k: c.increment(k, -1), ValueError),
    ("incr 2**64", lambda c, k: c.increment(k, 2**64), ValueError),
    ("incr str", lambda c, k: c.increment(k, "1"), TypeError),
    ("incr float", lambda c, k: c.increment(k, 1.0), TypeError),
    ("decr -1", lambda c, k: c.decrement(k, -1), ValueError),
    ("decr None", lambda c, k: c.decrement(k, None), TypeError),
    # many-key commands
    ("get_many str keys", lambda c, k: c.get_many("abc"), TypeError),
    ("get_many None", lambda c, k: c.get_many([k, None]), TypeError),
]


def stats(node: MemcachedNode) -> dict[str, int]:
    """The node's numeric stats, read over a raw socket."""
    reply = node.command_reply(STATS_REQUEST, until=b"END\r\n")
    out = {}
    for line in reply.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT" and parts[2].isdigit():
            out[parts[1]] = int(parts[2])
    return out


async def assert_nothing_reached(node: MemcachedNode, before: dict[str, int]) -> None:
    """No command and no byte from the client reached the node since ``before``."""
    await asyncio.sleep(0.05)  # anything wrongly queued would be flushed by now
    after = await asyncio.to_thread(stats, node)
    assert {c: after[c] for c in COUNTERS} == {c: before[c] for c in COUNTERS}
    # The only bytes read since are those of the second stats request itself.
    assert after["bytes_read"] - before["bytes_read"] == len(STATS_REQUEST)


async def stored_client(make_client: ClientFactory, node: MemcachedNode, **options: Any):
    client = await make_client([node], **options)
    await client.set(SENTINEL_KEY, SENTINEL_VALUE)
    await client.set(GOOD, b"good")
    return client


async def assert_sentinel(client: emcache.Client) -> None:
    item = await client.get(SENTINEL_KEY)
    assert item is not None
    assert item.value == SENTINEL_VALUE


@pytest.mark.asyncio
@pytest.mark.parametrize("command", list(KEY_COMMANDS))
async def test_bad_input_keys_refused_before_the_wire(
    memcached: MemcachedNode, make_client: ClientFactory, command: str
) -> None:
    """Every malformed key gets a typed error from every keyed command and sends nothing."""
    client = await stored_client(make_client, memcached)
    call = KEY_COMMANDS[command]
    before = await asyncio.to_thread(stats, memcached)
    for name, key, error in BAD_KEYS:
        with pytest.raises(error) as info:
            await call(client, key)
        assert "key" in str(info.value).lower(), f"{name}: unclear message {info.value!r}"
    await assert_nothing_reached(memcached, before)
    await assert_sentinel(client)


@pytest.mark.asyncio
@pytest.mark.parametrize("command", ["get", "gets"])
async def test_bad_input_keys_refused_with_autobatching(
    memcached: MemcachedNode, make_client: ClientFactory, command: str
) -> None:
    """Autobatching refuses bad keys at the call, and a bad key never spoils the batch."""
    client = await stored_client(make_client, memcached, autobatching=True)
    call = KEY_COMMANDS[command]
    before = await asyncio.to_thread(stats, memcached)
    for _, key, error in BAD_KEYS:
        with pytest.raises(error):
            await call(client, key)
    await assert_nothing_reached(memcached, before)
    # A bad key and good keys issued in the same loop iteration.
    results = await asyncio.gather(
        client.get(SENTINEL_KEY), client.get(b"bad key"), client.get(GOOD), return_exceptions=True
    )
    assert isinstance(results[1], ValueError)
    assert isinstance(results[0], emcache.Item)
    assert results[0].value == SENTINEL_VALUE
    assert isinstance(results[2], emcache.Item)
    assert results[2].value == b"good"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "call", "error"), ARGUMENT_CASES, ids=[c[0] for c in ARGUMENT_CASES]
)
async def test_bad_input_arguments_refused_before_the_wire(
    memcached: MemcachedNode,
    make_client: ClientFactory,
    name: str,
    call: Call,
    error: type[Exception],
) -> None:
    """Values, flags, exptime, cas and deltas of the wrong type or out of range send nothing."""
    client = await stored_client(make_client, memcached)
    before = await asyncio.to_thread(stats, memcached)
    with pytest.raises(error):
        await call(client, GOOD)
    await assert_nothing_reached(memcached, before)
    await assert_sentinel(client)
    item = await client.get(GOOD)
    assert item is not None
    assert item.value == b"good"


@pytest.mark.asyncio
async def test_bad_input_node_commands_refused(
    memcached: MemcachedNode, make_client: ClientFactory
) -> None:
    """Node commands refuse bad levels, delays, limits and stats arguments, sending nothing."""
    client = await stored_client(make_client, memcached)
    node = address(memcached)
    cases: list[tuple[Coroutine[Any, Any, Any], type[Exception]]] = [
        (client.flush_all(node, -1), ValueError),
        (client.flush_all(node, "1"), TypeError),  # type: ignore[arg-type]
        (client.verbosity(node, "x"), TypeError),  # type: ignore[arg-type]
        (client.cache_memlimit(node, -5), ValueError),
        (client.cache_memlimit(node, 1.5), TypeError),  # type: ignore[arg-type]
        (client.stats(node, "items\r\nflush_all"), ValueError),
        (client.stats(node, "a b"), ValueError),
        (client.stats(node, None), TypeError),  # type: ignore[arg-type]
    ]
    before = await asyncio.to_thread(stats, memcached)
    for coro, error in cases:
        with pytest.raises(error):
            await coro
    await assert_nothing_reached(memcached, before)
    await assert_sentinel(client)


@pytest.mark.asyncio
async def test_bad_input_unknown_node_refused(
    memcached: MemcachedNode, make_client: ClientFactory
) -> None:
    """A node command for an address outside the cluster fails clearly and sends nothing."""
    client = await stored_client(make_client, memcached)
    before = await asyncio.to_thread(stats, memcached)
    with pytest.raises((KeyError, ValueError)):
        await client.version(emcache.MemcachedHostAddress("127.0.0.1", 1))
    await assert_nothing_reached(memcached, before)


@pytest.mark.asyncio
async def test_bad_input_value_over_item_size(
    memcached: MemcachedNode, make_client: ClientFactory
) -> None:
    """A value over the server's item size is a StorageCommandError and the stream stays in sync."""
    client = await stored_client(make_client, memcached)
    too_big = b"x" * (1024 * 1024 + 1)
    with pytest.raises(emcache.StorageCommandError):
        await client.set(b"big", too_big)
    # Concurrent traffic around an oversized value keeps every reply with its caller.
    results = await asyncio.gather(
        client.get(SENTINEL_KEY),
        client.set(b"big", too_big),
        client.get(GOOD),
        client.set(b"big2", too_big),
        client.get(SENTINEL_KEY),
        return_exceptions=True,
    )
    assert isinstance(results[1], emcache.StorageCommandError)
    assert isinstance(results[3], emcache.StorageCommandError)
    for index, expected in ((0, SENTINEL_VALUE), (2, b"good"), (4, SENTINEL_VALUE)):
        item = results[index]
        assert isinstance(item, emcache.Item)
        assert item.value == expected
    assert await client.get(b"big") is None


CREATE_CASES: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("timeout 0", {"timeout": 0}, ValueError),
    ("timeout -1", {"timeout": -1}, ValueError),
    ("timeout str", {"timeout": "1"}, TypeError),
    ("max_connections 0", {"max_connections": 0}, ValueError),
    ("max_connections float", {"max_connections": 2.5}, TypeError),
    ("min > max", {"min_connections": 5, "max_connections": 2}, ValueError),
    ("min_connections -1", {"min_connections": -1}, ValueError),
    ("purge 0", {"purge_unused_connections_after": 0}, ValueError),
    ("connection_timeout -1", {"connection_timeout": -1}, ValueError),
    ("connection_timeout str", {"connection_timeout": "5"}, TypeError),
    ("autobatching_max_keys 0", {"autobatching_max_keys": 0}, ValueError),
    ("cluster_events object", {"cluster_events": object()}, TypeError),
    ("username without password", {"username": "u"}, ValueError),
    ("password without username", {"password": "p"}, ValueError),
    ("poll interval 0", {"autodiscovery_poll_interval": 0}, ValueError),
    ("autodiscovery_timeout -1", {"autodiscovery_timeout": -1}, ValueError),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "options", "error"), CREATE_CASES, ids=[c[0] for c in CREATE_CASES]
)
async def test_bad_input_create_client_options(
    memcached: MemcachedNode, name: str, options: dict[str, Any], error: type[Exception]
) -> None:
    """A bad create_client option raises before anything starts or connects."""
    tasks_before = asyncio.all_tasks()
    await asyncio.to_thread(stats, memcached)
    await asyncio.sleep(0.05)  # let the node account for the connections made so far
    before = await asyncio.to_thread(stats, memcached)
    with pytest.raises(error):
        await emcache.create_client([address(memcached)], **options)
    await asyncio.sleep(0.05)
    assert asyncio.all_tasks() == tasks_before
    after = await asyncio.to_thread(stats, memcached)
    assert after["total_connections"] - before["total_connections"] == 1  # the stats socket


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "nodes", "error"),
    [
        ("empty list", [], ValueError),
        ("a str", "127.0.0.1:11211", TypeError),
        ("a tuple node", [("127.0.0.1", 11211)], TypeError),
        ("None", None, TypeError),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_bad_input_create_client_nodes(name: str, nodes: Any, error: type[Exception]) -> None:
    """Bad node lists and impossible addresses are refused at creation, not at first use."""
    tasks_before = asyncio.all_tasks()
    with pytest.raises(error):
        await emcache.create_client(nodes)
    assert asyncio.all_tasks() == tasks_before


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "endpoint",
    [
        emcache.MemcachedHostAddress("127.0.0.1", 70000),
        emcache.MemcachedHostAddress("127.0.0.1", -1),
        emcache.MemcachedHostAddress("a" * 64 + ".invalid", 11211),
        emcache.MemcachedHostAddress("", 11211),
    ],
    ids=["port 70000", "port -1", "label too long", "empty host"],
)
async def test_bad_input_unusable_address_typed_error(
    endpoint: emcache.MemcachedHostAddress,
) -> None:
    """An impossible address is refused at creation, or each operation fails with a facade error.

    A lower layer's exception type (OverflowError, UnicodeError...) must never reach the caller.
    """
    try:
        client = await emcache.create_client([endpoint], timeout=1.0)
    except (ValueError, TypeError):
        return
    try:
        for _ in range(3):
            with pytest.raises(emcache.CommandError):
                await client.get(b"key")
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_bad_input_missing_ca_file_refused(memcached: MemcachedNode) -> None:
    """An ssl_extra_ca that does not exist fails at creation with a clear error."""
    with pytest.raises((ValueError, OSError)) as info:
        await emcache.create_client(
            [address(memcached)], ssl=True, ssl_extra_ca="/nonexistent/ca.pem"
        )
    assert "ca" in str(info.value).lower()


@pytest.mark.asyncio
async def test_bad_input_noreply_errors_never_shift_replies(
    memcached: MemcachedNode, make_client: ClientFactory
) -> None:
    """noreply requests that draw an error line leave every other reply with its caller."""
    client = await make_client([memcached], max_connections=1)
    await client.set(b"text", b"not a number")
    await client.set(SENTINEL_KEY, SENTINEL_VALUE)
    keys = [b"n%d" % i for i in range(30)]
    for key in keys:
        await client.set(key, b"value-of-" + key)
    too_big = b"x" * (1024 * 1024 + 1)
    calls = []
    for index, key in enumerate(keys):
        calls.append(client.get(key))
        noisy = index % 3
        if noisy == 0:
            calls.append(client.set(b"big", too_big, noreply=True))  # SERVER_ERROR
        elif noisy == 1:
            calls.append(client.increment(b"text", 1, noreply=True))  # CLIENT_ERROR
        else:
            calls.append(client.delete(b"missing", noreply=True))  # NOT_FOUND
    results = await asyncio.gather(*calls)
    for key, item in zip(keys, results[::2], strict=True):
        assert isinstance(item, emcache.Item)
        assert item.value == b"value-of-" + key
    assert all(r is None for r in results[1::2])
    await assert_sentinel(client)
