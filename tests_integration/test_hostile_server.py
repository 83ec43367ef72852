"""A server that sends bytes no memcached would: the client must fail clearly and move on.

A scripted fake memcached (emcache-testing's ``HostileServer``) answers chosen
requests with garbage, truncated replies, wrong or huge length fields, values
for keys never asked, replies to requests never sent, or closes mid-reply. The
caller must get a clear error (never another caller's value, never a wait past
its timeout), the client must close the connection it can no longer trust,
must not buffer without bound, and must keep serving from other connections.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

import emcache
from emcache_testing import Act, HostileServer, MemcachedNode, Request
from fault_scenarios import keys_on
from tests_integration.helpers import address

TIMEOUT = 0.5
MARGIN = 0.3
EVIL = b"evil"
GOOD = b"good"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def with_extra(extra: bytes) -> object:
    def script(request: Request, honest: bytes) -> list[Act]:
        return [Act(honest + extra)]

    return script


# name -> (script for the request naming EVIL, does the connection have to be dropped)
ATTACKS: dict[str, object] = {
    "garbage line": [Act(b"HELLO WORLD\r\n")],
    "binary garbage": [Act(bytes(range(256)) * 4 + b"\r\n")],
    "reply of another kind": [Act(b"STORED\r\n")],
    "data longer than its length": [Act(b"VALUE evil 0 3\r\nabcdef\r\nEND\r\n")],
    "data shorter than its length": [Act(b"VALUE evil 0 5\r\nabc\r\nEND\r\n")],
    "length of 20 digits": [Act(b"VALUE evil 0 99999999999999999999\r\n")],
    "negative length": [Act(b"VALUE evil 0 -1\r\nx\r\nEND\r\n")],
    "value for a key never asked": [Act(b"VALUE someone-else 0 6\r\nsecret\r\nEND\r\n")],
    "same key twice": [Act(b"VALUE evil 0 1\r\na\r\nVALUE evil 0 1\r\nb\r\nEND\r\n")],
    "truncated, then close": [Act(b"VALUE evil 0 10\r\nabc", close=True)],
    "close mid-line": [Act(b"VALU", close=True)],
    "reset mid-reply": [Act(b"VALUE evil 0 10\r\nab", reset=True)],
    "line without end (8 MiB)": [Act(flood=8 << 20, flood_byte=b"A")],
    "extra reply after the real one": with_extra(b"STORED\r\n"),
    "extra END after the real one": with_extra(b"END\r\n"),
}


@pytest_asyncio.fixture(name="hostile")
async def _hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer() as server:
        yield server


async def wait_evil_connection_closed(server: HostileServer, limit: float = 1.0) -> bool:
    """Whether the connection that carried the attack is closed (by either side) in time."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if all(c.closed.is_set() for c in server.connections if EVIL in _keys(c)):
            return True
        await asyncio.sleep(0.01)
    return False


def _keys(conn: object) -> set[bytes]:
    return {k for r in getattr(conn, "requests", []) for k in r.keys}


@pytest.mark.asyncio
@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_hostile_reply_fails_clearly_and_recovers(
    hostile: HostileServer, attack: str
) -> None:
    """Each malformed reply gets its caller a clear error (or its exact value) and is dropped."""
    client = await emcache.create_client([address(hostile)], timeout=TIMEOUT)
    try:
        await client.set(EVIL, b"evil-value")
        await client.set(GOOD, b"good-value")
        hostile.attack(EVIL, ATTACKS[attack])  # type: ignore[arg-type]
        rss_before = rss_mb()
        started = time.monotonic()
        try:
            item = await client.get(EVIL)
        except (emcache.CommandError, TimeoutError) as exc:
            outcome: object = exc
        else:
            outcome = item
        waited = time.monotonic() - started
        assert waited <= TIMEOUT + MARGIN, f"the caller waited {waited:.2f} s"
        if isinstance(outcome, emcache.Item):
            # Only the attacks that append bytes after a valid reply may deliver it.
            assert attack.startswith("extra"), f"{attack}: got a value {outcome!r}"
            assert outcome.value == b"evil-value"
        else:
            assert isinstance(outcome, emcache.ConnectionFailedError), repr(outcome)
            assert waited < TIMEOUT, "a malformed reply must fail fast, not at the timeout"
        assert rss_mb() - rss_before < 64, "the client buffered the hostile bytes"
        assert await wait_evil_connection_closed(hostile), "the untrusted connection was kept open"
        # The client serves again, from a fresh connection.
        item = await client.get(GOOD)
        assert item is not None
        assert item.value == b"good-value"
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_hostile_unsolicited_reply_drops_connection(hostile: HostileServer) -> None:
    """Bytes pushed while no request waits close that connection; the next call still works."""
    client = await emcache.create_client([address(hostile)], timeout=TIMEOUT)
    try:
        await client.set(GOOD, b"good-value")
        targets = hostile.open_connections()
        assert targets
        await hostile.push(b"VALUE good 0 6\r\nforged\r\nEND\r\n")
        await asyncio.wait_for(asyncio.gather(*(c.closed.wait() for c in targets)), 1.0)
        assert all(c.closed_by_peer for c in targets), "a connection with a forged reply was kept"
        for _ in range(5):
            item = await client.get(GOOD)
            assert item is not None
            assert item.value == b"good-value"
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_hostile_reply_fails_every_waiter_never_shifts(hostile: HostileServer) -> None:
    """Callers pipelined behind a bad reply get an error or their own value, never another's."""
    client = await emcache.create_client([address(hostile)], timeout=TIMEOUT, max_connections=1)
    try:
        keys = [b"k%d" % i for i in range(40)]
        for key in keys:
            await client.set(key, b"value-of-" + key)
        hostile.attack(EVIL, [Act(b"VALUE k1 0 10\r\nvalue-of-k1\r\nEND\r\n")])
        results = await asyncio.gather(
            *(client.get(k) for k in keys[:20]),
            client.get(EVIL),
            *(client.get(k) for k in keys[20:]),
            return_exceptions=True,
        )
        for key, result in zip([*keys[:20], EVIL, *keys[20:]], results, strict=True):
            if isinstance(result, BaseException):
                assert isinstance(result, emcache.ConnectionFailedError), repr(result)
            else:
                assert key != EVIL
                assert result is not None
                assert result.value == b"value-of-" + key
        assert isinstance(results[20], emcache.ConnectionFailedError)
        item = await client.get(b"k1")
        assert item is not None
        assert item.value == b"value-of-k1"
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_hostile_huge_announced_value_not_preallocated(hostile: HostileServer) -> None:
    """A 1 GiB length announced and never sent costs the caller its timeout, not 1 GiB of memory."""
    client = await emcache.create_client([address(hostile)], timeout=TIMEOUT)
    try:
        await client.set(GOOD, b"good-value")
        hostile.attack(EVIL, [Act(b"VALUE evil 0 1073741824\r\n" + b"x" * 65536)])
        before = rss_mb()
        started = time.monotonic()
        with pytest.raises((TimeoutError, emcache.CommandError)):
            await client.get(EVIL)
        assert time.monotonic() - started <= TIMEOUT + MARGIN
        assert rss_mb() - before < 64
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_hostile_black_hole_connection_abandoned(hostile: HostileServer) -> None:
    """A connection that stops answering for good is given up: later callers are served.

    The server swallows one request and never answers anything on that connection
    again, as a connection silently dropped by a firewall would behave. Callers after
    it may time out for a short while, but the client must move to a fresh connection.
    """
    client = await emcache.create_client([address(hostile)], timeout=0.2)
    try:
        await client.set(GOOD, b"good-value")
        hostile.attack(EVIL, [Act(delay=3600)])
        with pytest.raises(TimeoutError):
            await client.get(EVIL)
        failures = 0
        successes_in_a_row = 0
        started = time.monotonic()
        while successes_in_a_row < 20 and time.monotonic() - started < 5.0:
            try:
                item = await client.get(GOOD)
            except TimeoutError:
                failures += 1
                successes_in_a_row = 0
                continue
            assert item is not None
            assert item.value == b"good-value"
            successes_in_a_row += 1
        print(f"\n{failures} callers timed out behind the black-holed connection")
        assert successes_in_a_row >= 20, "the client never left the dead connection"
        assert failures <= 5
        # Under concurrency too, no caller is sent to the dead connection any more.
        results = await asyncio.gather(
            *(client.get(GOOD) for _ in range(200)), return_exceptions=True
        )
        timed_out = sum(isinstance(r, TimeoutError) for r in results)
        assert timed_out == 0, f"{timed_out} of 200 concurrent callers went to the dead connection"
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_hostile_node_does_not_disturb_healthy_node(
    hostile: HostileServer, memcached: MemcachedNode
) -> None:
    """While one node floods garbage, keys of the healthy node are served without an error."""
    client = await emcache.create_client([address(hostile), address(memcached)], timeout=TIMEOUT)
    try:
        keys = [b"key:%d" % i for i in range(200)]
        for key in keys:
            await client.set(key, b"v:" + key)
        on_memcached = sorted(await asyncio.to_thread(keys_on, memcached, keys))
        on_hostile = [k for k in keys if k not in on_memcached]
        assert on_memcached
        assert on_hostile

        def flood(request: Request, honest: bytes) -> list[Act]:
            return [Act(b"VALUE " + request.keys[0] + b" 0 5\r\nab", flood=1 << 20)]

        hostile.attack(lambda r: r.command == b"get", flood, times=None)
        healthy_errors = 0
        hostile_outcomes: list[object] = []

        async def caller(index: int) -> None:
            nonlocal healthy_errors
            for round_ in range(30):
                key = on_memcached[(index + round_) % len(on_memcached)]
                try:
                    item = await client.get(key)
                except Exception:
                    healthy_errors += 1
                else:
                    assert item is not None
                    assert item.value == b"v:" + key
                try:
                    bad = await client.get(on_hostile[(index + round_) % len(on_hostile)])
                except (emcache.CommandError, TimeoutError) as exc:
                    hostile_outcomes.append(type(exc).__name__)
                else:
                    raise AssertionError(f"the flooding node delivered {bad!r}")

        before = rss_mb()
        await asyncio.gather(*(caller(i) for i in range(16)))
        assert healthy_errors == 0
        assert hostile_outcomes
        assert rss_mb() - before < 128
        hostile.clear()
        item = await client.get(on_hostile[0])
        assert item is not None
        assert item.value == b"v:" + on_hostile[0]
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_hostile_endless_stats_reply_bounded_memory(hostile: HostileServer) -> None:
    """A stats reply that never ends (ever new STAT lines) is refused, not buffered forever.

    A real memcached answers ``stats`` with a few hundred lines (a few thousand for
    ``stats slabs``); two million distinct ones are an attack, and the reply keeps
    being read after the caller timed out.
    """
    addr = address(hostile)
    client = await emcache.create_client([addr], timeout=TIMEOUT)
    try:
        await client.set(GOOD, b"good-value")
        chunks = [
            Act(b"".join(b"STAT n%02d_%07d %d\r\n" % (part, i, i) for i in range(100_000)))
            for part in range(20)
        ]
        hostile.attack(lambda r: r.command == b"stats", chunks)
        before = rss_mb()
        with pytest.raises((TimeoutError, emcache.CommandError)):
            await client.stats(addr)
        # Let the client read what was sent (about 50 MB): until its memory stops moving.
        last = rss_mb()
        for _ in range(10):
            await asyncio.sleep(0.5)
            now = rss_mb()
            if abs(now - last) < 1:
                break
            last = now
        grown = rss_mb() - before
        print(f"\nRSS grew by {grown:.0f} MiB while reading 2M STAT lines")
        assert grown < 128, f"the client kept {grown:.0f} MiB of an endless stats reply"
        item = await client.get(GOOD)
        assert item is not None
        assert item.value == b"good-value"
    finally:
        await client.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("order", ["reversed", "duplicated", "foreign"])
async def test_hostile_batched_reply_never_misattributed(
    hostile: HostileServer, order: str
) -> None:
    """Autobatched callers never get a value that the server listed out of order or twice."""
    client = await emcache.create_client([address(hostile)], timeout=TIMEOUT, autobatching=True)
    try:
        keys = [b"b%02d" % i for i in range(10)]
        for key in keys:
            await client.set(key, b"value-of-" + key)

        def tamper(request: Request, honest: bytes) -> list[Act]:
            asked = list(request.keys)
            if order == "reversed":
                listed = asked[::-1]
            elif order == "duplicated":
                listed = [asked[0], *asked]
            else:
                listed = [*asked[:-1], b"zz-not-asked"]
            body = b"".join(
                b"VALUE %s 0 %d\r\nvalue-of-%s\r\n" % (k, 9 + len(k), k) for k in listed
            )
            return [Act(body + b"END\r\n")]

        hostile.attack(lambda r: r.command == b"get" and len(r.keys) > 1, tamper)
        results = await asyncio.gather(*(client.get(k) for k in keys), return_exceptions=True)
        assert any(isinstance(r, BaseException) for r in results), "the tampered batch went through"
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, BaseException):
                assert isinstance(result, emcache.ConnectionFailedError), repr(result)
            else:
                assert result is not None
                assert result.value == b"value-of-" + key
        hostile.clear()
        item = await client.get(keys[3])
        assert item is not None
        assert item.value == b"value-of-" + keys[3]
    finally:
        await client.close()
