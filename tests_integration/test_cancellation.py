"""Cancellation storm: many operations cancelled at random or given tiny timeouts.

Over 3 nodes, operations run concurrently; a share of them is cancelled from
outside at a random moment and most run under a timeout of a fraction of a
millisecond, so callers give up at every stage (queued for a connection, written,
half-read). Every get that succeeds must return exactly its key's value, and
afterwards nothing may be left behind: no task, no connection beyond the pool
limits, no file descriptor, no connection on the servers.

``EMCACHE_STORM_OPS`` sets the number of operations (default 300 000, about
20 s on a 2-core box).
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
from collections import Counter
from typing import Any

import pytest

import emcache
from emcache_testing import AsciiAuth, MemcachedLauncher, MemcachedNode
from tests_integration.helpers import address

STORM_OPS = int(os.environ.get("EMCACHE_STORM_OPS", "300000"))
IN_FLIGHT = 256
KEYS = [b"storm:%d" % i for i in range(500)]
OUTER_TIMEOUTS = [None, None, 0.0001, 0.0005, 0.001, 0.002, 0.005]
CANCEL_SHARE = 0.15


def value_of(key: bytes) -> bytes:
    return b"value-of:" + key * 3


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def server_connections(node: MemcachedNode) -> int:
    reply = node.command_reply(b"stats\r\n", until=b"END\r\n")
    for line in reply.decode().splitlines():
        if line.startswith("STAT curr_connections "):
            return int(line.split()[2])
    raise AssertionError("no curr_connections in stats")


async def patient(call: Any, *args: Any) -> Any:
    """Call with the storm clients' 20 ms timeout, retrying timeouts (a busy box), not errors."""
    for _ in range(20):
        try:
            return await call(*args)
        except TimeoutError:
            await asyncio.sleep(0.01)
    raise AssertionError(f"{call.__name__} kept timing out")


class Storm:
    """Runs the operations and counts what each caller got."""

    def __init__(self, clients: list[emcache.Client], seed: int) -> None:
        self.clients = clients
        self.rng = random.Random(seed)
        self.outcomes: Counter[str] = Counter()
        self.wrong: list[tuple[bytes, Any]] = []
        self.unexpected: list[BaseException] = []
        self.max_connections_seen: dict[Any, int] = {}

    def check(self, key: bytes, item: emcache.Item | None) -> None:
        if item is None or item.value != value_of(key):
            self.wrong.append((key, None if item is None else item.value))

    async def op(self, client: emcache.Client, kind: int, keys: list[bytes]) -> None:
        key = keys[0]
        if kind == 0:
            self.check(key, await client.get(key))
        elif kind == 1:
            self.check(key, await client.gets(key))
        elif kind == 2:
            items = await client.get_many(keys)
            if set(items) != set(keys):
                self.wrong.append((b"get_many", sorted(items)))
            for got, item in items.items():
                self.check(got, item)
        else:
            await client.set(key, value_of(key))

    async def one(self, client: emcache.Client) -> None:
        rng = self.rng
        kind = rng.randrange(4)
        keys = rng.sample(KEYS, 3)
        deadline = rng.choice(OUTER_TIMEOUTS)
        try:
            async with asyncio.timeout(deadline):
                await self.op(client, kind, keys)
        except asyncio.CancelledError:
            self.outcomes["cancelled"] += 1
            raise
        except TimeoutError:
            self.outcomes["timeout"] += 1
        except Exception as exc:
            self.outcomes[type(exc).__name__] += 1
            self.unexpected.append(exc)
        else:
            self.outcomes["ok"] += 1

    def sample_connections(self) -> None:
        for index, client in enumerate(self.clients):
            for endpoint, metrics in client.cluster_managment().connection_pool_metrics().items():
                slot = (index, endpoint)
                seen = self.max_connections_seen.get(slot, 0)
                self.max_connections_seen[slot] = max(seen, metrics.cur_connections)

    async def run(self, total: int) -> None:
        rng = self.rng
        in_flight: set[asyncio.Task[None]] = set()
        for started in range(total):
            if len(in_flight) >= IN_FLIGHT:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.ensure_future(self.one(rng.choice(self.clients)))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            if rng.random() < CANCEL_SHARE and in_flight:
                victim = rng.choice(tuple(in_flight))
                # Cancel now, or after the victim had a chance to be written or half-read.
                delay = rng.choice([0, 0, 0.0001, 0.001])
                if delay:
                    asyncio.get_running_loop().call_later(delay, victim.cancel)
                else:
                    victim.cancel()
            if started % 500 == 0:
                self.sample_connections()
        await asyncio.gather(*in_flight, return_exceptions=True)


@pytest.mark.asyncio
async def test_cancellation_storm_no_mixup_no_leak(
    memcached_cluster: list[MemcachedNode],
) -> None:
    """Random cancellations and tiny timeouts never hand a value to the wrong caller or leak."""
    nodes = memcached_cluster
    baseline_server = [await asyncio.to_thread(server_connections, n) for n in nodes]
    gc.collect()
    fds_before = fd_count()
    tasks_before = asyncio.all_tasks()
    addresses = [address(n) for n in nodes]
    plain = await emcache.create_client(addresses, timeout=0.02)
    batching = await emcache.create_client(
        addresses, timeout=0.02, max_connections=3, autobatching=True
    )
    setup = await emcache.create_client(addresses, timeout=5.0)
    limits = {0: 2, 1: 3}
    try:
        for start in range(0, len(KEYS), 100):
            await asyncio.gather(*(setup.set(k, value_of(k)) for k in KEYS[start : start + 100]))
        storm = Storm([plain, batching], seed=20261125)
        began = time.monotonic()
        await storm.run(STORM_OPS)
        elapsed = time.monotonic() - began
        storm.sample_connections()
        print(
            f"\n{STORM_OPS} operations in {elapsed:.1f} s: {dict(storm.outcomes)}; "
            f"most connections per pool {max(storm.max_connections_seen.values())}"
        )
        assert not storm.wrong, f"{len(storm.wrong)} wrong values, first: {storm.wrong[:3]}"
        assert not storm.unexpected, storm.unexpected[:3]
        assert storm.outcomes["ok"] > STORM_OPS // 10, "too few operations completed to tell"
        assert storm.outcomes["cancelled"] > 0
        assert storm.outcomes["timeout"] > 0
        for (index, endpoint), seen in storm.max_connections_seen.items():
            assert seen <= limits[index], f"{endpoint}: {seen} connections"

        # The streams are still in sync: every key reads back exactly, on both clients.
        await asyncio.sleep(0.1)
        for client in (plain, batching):
            for key in KEYS:
                item = await patient(client.get, key)
                assert item is not None
                assert item.value == value_of(key)
            many = await patient(client.get_many, KEYS)
            assert {k: i.value for k, i in many.items()} == {k: value_of(k) for k in KEYS}
        for index, client in enumerate((plain, batching)):
            for metrics in client.cluster_managment().connection_pool_metrics().values():
                assert metrics.cur_connections <= limits[index]
    finally:
        await plain.close()
        await batching.close()
        await setup.close()

    await asyncio.sleep(0.2)
    gc.collect()
    leaked = asyncio.all_tasks() - tasks_before
    assert not leaked, f"tasks left behind: {leaked}"
    assert fd_count() <= fds_before, "file descriptors left open"
    deadline = time.monotonic() + 2.0
    while True:
        now_server = [await asyncio.to_thread(server_connections, n) for n in nodes]
        if now_server == baseline_server or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert now_server == baseline_server, "connections still open on the servers"


@pytest.mark.asyncio
async def test_cancellation_of_queued_waiters_frees_the_pool(
    memcached: MemcachedNode,
) -> None:
    """Callers cancelled while a paused node holds every connection leave no waiter behind."""
    client = await emcache.create_client([address(memcached)], timeout=None, max_connections=1)
    try:
        await client.set(b"k", b"v")
        await asyncio.to_thread(memcached.pause)
        try:
            tasks = [asyncio.ensure_future(client.get(b"k")) for _ in range(200)]
            await asyncio.sleep(0.2)
            assert not any(t.done() for t in tasks), "a get finished against a paused node"
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await asyncio.to_thread(memcached.resume)
        started = time.monotonic()
        item = await asyncio.wait_for(client.get(b"k"), 2.0)
        assert item is not None
        assert item.value == b"v"
        assert time.monotonic() - started < 1.0
        metrics = next(iter(client.cluster_managment().connection_pool_metrics().values()))
        assert metrics.requests_waiting == 0
        assert metrics.cur_connections <= 1
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_cancellation_storm_while_connections_authenticate(
    launcher: MemcachedLauncher,
) -> None:
    """Cancellations while connections keep opening, TLS-handshaking and authenticating.

    Connections are purged after 50 ms idle with no minimum, so every burst opens
    new ones; no caller may get another's value and nothing may be left behind.
    """
    auth = AsciiAuth("storm-user", "storm-Pa55")
    nodes = launcher.start(2, tls=True, auth=auth)
    assert nodes[0].tls is not None
    tasks_before = asyncio.all_tasks()
    options: dict[str, Any] = {
        "ssl": True,
        "ssl_extra_ca": str(nodes[0].tls.ca_file),
        "username": auth.username,
        "password": auth.password,
    }
    addresses = [address(n) for n in nodes]
    setup = await emcache.create_client(addresses, timeout=5.0, **options)
    client = await emcache.create_client(
        addresses,
        timeout=0.05,
        min_connections=0,
        max_connections=3,
        purge_unused_connections_after=0.05,
        **options,
    )
    try:
        await asyncio.gather(*(setup.set(k, value_of(k)) for k in KEYS))
        storm = Storm([client], seed=7)
        for _ in range(10):
            await storm.run(2000)
            await asyncio.sleep(0.1)  # idle: the connections get purged
        print(f"\n20000 operations over TLS + auth: {dict(storm.outcomes)}")
        assert not storm.wrong, storm.wrong[:3]
        assert not storm.unexpected, storm.unexpected[:3]
        assert storm.outcomes["ok"] > 0
        for seen in storm.max_connections_seen.values():
            assert seen <= 3
        purged = sum(
            m.connections_purged
            for m in client.cluster_managment().connection_pool_metrics().values()
        )
        assert purged > 0
        item = await patient(client.get, KEYS[0])
        assert item is not None
        assert item.value == value_of(KEYS[0])
    finally:
        await client.close()
        await setup.close()
    await asyncio.sleep(0.1)
    assert not asyncio.all_tasks() - tasks_before
