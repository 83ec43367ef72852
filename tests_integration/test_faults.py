"""Faults under a steady workload: killed, hung and restarted nodes, server-closed
connections, black-holed connects, and an autodiscovery endpoint that goes away,
hangs or answers nonsense.

Every scenario runs 16 concurrent callers over a 3-node cluster with the
default 1.0 s operation timeout (see ``tools/fault_scenarios.py``). For each one the
callers must see a fast failure or their own timeout and nothing slower, never
a value that is not their key's, no error for keys of the healthy nodes, the
cluster must report and then clear the fault, and everything must work again
shortly after the fault ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest

import emcache
import emcache.errors
from emcache_testing import FakeConfigEndpoint, MemcachedLauncher, MemcachedNode
from fault_scenarios import (
    OP_TIMEOUT,
    Outcome,
    RecordingEvents,
    expected_value,
    run_scenario,
)
from tests_integration.helpers import address

# Scheduling jitter on a busy CI box on top of the caller's own timeout.
MARGIN = 0.3
# Reconnection backs off up to 1 s; recovery must not take much longer than that.
RECOVERY_BOUND = 2.5
EXPECTED_ERRORS = {"ConnectionFailedError", "OperationTimeoutError"}


def report(outcome: Outcome) -> None:
    print(
        f"\n{outcome.name}: {outcome.callers_saw()}; recovery {outcome.recovery_text()}; "
        f"{outcome.data_text()}; events {outcome.events}; notes {outcome.notes}"
    )


def assert_common(outcome: Outcome) -> None:
    report(outcome)
    assert outcome.mixed == 0, "a caller got a value that is not its key's"
    assert outcome.errors_on_healthy_nodes == 0, outcome.notes
    assert set(outcome.errors) <= EXPECTED_ERRORS, outcome.errors
    assert outcome.max_wait <= OP_TIMEOUT + MARGIN, f"a caller waited {outcome.max_wait:.3f} s"
    assert outcome.recovery_s is not None, "operations on the faulted node never recovered"
    assert outcome.recovery_s <= RECOVERY_BOUND
    assert outcome.fully_recovered, f"{outcome.final_errors} errors after the fault ended"
    assert not [n for n in outcome.notes if "healthy again" in n], outcome.notes


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["sigkill", "sigkill_autobatching", "restart"])
async def test_fault_node_killed_fails_fast_and_recovers(
    launcher: MemcachedLauncher, kind: str
) -> None:
    """A SIGKILLed node fails its callers fast, is reported unhealthy then healthy, and recovers."""
    outcome = await run_scenario(kind, launcher)
    assert_common(outcome)
    assert outcome.errors, "the fault was not noticed at all"
    refused = outcome.errors.get("ConnectionFailedError")
    assert refused is not None
    assert refused.max_wait < OP_TIMEOUT, "a dead node must fail callers before their timeout"
    victim_events = [e.split()[0] for e in outcome.events]
    if kind == "restart" and not victim_events:
        # The new process was up before the pool's first reconnect attempt: no connect
        # ever failed, so the node was never unreachable and no health event is due.
        assert outcome.recovery_s is not None
        assert outcome.recovery_s < 1.0
    else:
        assert victim_events[:2] == ["unhealthy", "healthy"], outcome.events
    # A restarted memcached is empty: only the faulted node's keys may be gone.
    assert outcome.lost <= outcome.lost_of


@pytest.mark.asyncio
async def test_fault_node_killed_purged_from_routing(launcher: MemcachedLauncher) -> None:
    """With purge_unhealthy_nodes, a dead node stops failing callers once it is reported."""
    outcome = await run_scenario("sigkill_purge", launcher)
    assert_common(outcome)
    failed = sum(s.count for s in outcome.errors.values())
    assert failed < outcome.ok.count / 100, "traffic kept going to the dead node"
    assert outcome.lost <= outcome.lost_of


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["sigstop", "sigstop_long"])
async def test_fault_node_hung_times_out_then_recovers(
    launcher: MemcachedLauncher, kind: str
) -> None:
    """A SIGSTOPped node costs its callers exactly their timeout and loses no data on SIGCONT."""
    outcome = await run_scenario(kind, launcher)
    assert_common(outcome)
    assert "OperationTimeoutError" in outcome.errors
    assert outcome.errors["OperationTimeoutError"].max_wait >= OP_TIMEOUT * 0.9
    assert outcome.lost == 0, "a paused node keeps its data"


@pytest.mark.asyncio
async def test_fault_server_closes_idle_connections(launcher: MemcachedLauncher) -> None:
    """Connections the server closed while idle are replaced without failing any caller."""
    outcome = await run_scenario("idle_reset", launcher)
    assert_common(outcome)
    assert not outcome.errors, outcome.callers_saw()
    assert outcome.lost == 0
    assert outcome.server_closed > 0, "no connection was closed: the scenario tested nothing"


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["away", "hang", "garbage", "error"])
async def test_fault_autodiscovery_endpoint_down(launcher: MemcachedLauncher, mode: str) -> None:
    """A failing configuration endpoint keeps the last node list; its return applies the new one."""
    outcome = await run_scenario(f"autodiscovery_{mode}", launcher)
    assert_common(outcome)
    assert not outcome.errors, outcome.callers_saw()
    assert not [n for n in outcome.notes if "changed while" in n]
    assert [e.split()[0] for e in outcome.events] == ["removed"]
    # Keys of the removed node are misses now (routed elsewhere), never someone else's value.
    assert outcome.lost <= outcome.lost_of


@pytest.mark.asyncio
async def test_fault_close_while_node_hung_does_not_hang(
    memcached_cluster: list[MemcachedNode],
) -> None:
    """Closing the client while a node is hung returns promptly and fails the stuck callers."""
    nodes = memcached_cluster
    client = await emcache.create_client([address(n) for n in nodes], timeout=None)
    keys = [b"close:%d" % i for i in range(60)]
    for key in keys:
        await client.set(key, expected_value(key))
    await asyncio.to_thread(nodes[0].pause)
    try:
        calls = [asyncio.ensure_future(client.get(k)) for k in keys]
        await asyncio.sleep(0.3)
        stuck = [c for c in calls if not c.done()]
        assert stuck, "no call reached the hung node"
        started = time.monotonic()
        await asyncio.wait_for(client.close(), 5.0)
        closing = time.monotonic() - started
        results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 1.0)
    finally:
        await asyncio.to_thread(nodes[0].resume)
    assert closing < 2.0, f"close took {closing:.2f} s"
    for key, result in zip(keys, results, strict=True):
        if isinstance(result, BaseException):
            assert isinstance(result, emcache.ClientClosedError | emcache.ConnectionFailedError)
        else:
            assert result is not None
            assert result.value == expected_value(key)
    with pytest.raises(emcache.ClientClosedError):
        await client.get(keys[0])


@pytest.mark.asyncio
async def test_fault_connect_black_holed_bounded_by_caller_timeout() -> None:
    """A node whose connects hang costs callers their own timeout, then is reported unhealthy.

    A listening socket with a full accept queue drops new SYNs, as a firewall
    black-holing the port would: the connection attempt hangs until
    connection_timeout.
    """
    server = socket.socket()
    fillers: list[socket.socket] = []
    events = RecordingEvents()
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        await asyncio.sleep(0.05)
        endpoint = emcache.MemcachedHostAddress("127.0.0.1", port)
        client = await emcache.create_client(
            [endpoint], timeout=0.3, connection_timeout=1.0, cluster_events=events
        )
        try:
            waits = []
            seen: set[str] = set()
            started = time.monotonic()
            while time.monotonic() - started < 2.5:
                began = time.monotonic()
                with pytest.raises((TimeoutError, emcache.ConnectionFailedError)) as info:
                    await client.get(b"k")
                waits.append(time.monotonic() - began)
                seen.add(type(info.value).__name__)
            assert max(waits) <= 0.3 + MARGIN, f"a caller waited {max(waits):.2f} s"
            assert client.cluster_managment().unhealthy_nodes() == [endpoint]
            assert "ConnectionFailedError" in seen, "the failed connect was never reported"
            await asyncio.sleep(0.05)
            assert events.names_for(endpoint)[:1] == ["unhealthy"]
        finally:
            await client.close()
    finally:
        for sock in [*fillers, server]:
            sock.close()


FACADE_ERRORS = tuple(getattr(emcache.errors, name) for name in emcache.errors.__all__)


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["closed", "hang", "error", "garbage"])
async def test_fault_autodiscovery_endpoint_down_at_creation(mode: str) -> None:
    """With the configuration endpoint down, create_client starts in time with no nodes."""
    endpoint = FakeConfigEndpoint([("127.0.0.1", 11211)])
    await endpoint.start()
    if mode == "closed":
        await endpoint.close()
    else:
        endpoint.mode = mode  # type: ignore[assignment]
    tasks_before = asyncio.all_tasks()
    started = time.monotonic()
    try:
        client = await emcache.create_client(
            [emcache.MemcachedHostAddress(endpoint.host, endpoint.port)],
            autodiscovery=True,
            autodiscovery_timeout=0.5,
        )
        try:
            assert time.monotonic() - started <= 0.5 + MARGIN
            with pytest.raises(Exception) as info:
                await client.get(b"k")
        finally:
            await client.close()
    finally:
        await endpoint.close()
    await asyncio.sleep(0.05)
    assert asyncio.all_tasks() == tasks_before, "the closed client left tasks behind"
    error = info.value
    assert isinstance(error, FACADE_ERRORS), (
        f"{type(error).__module__}.{type(error).__name__} is not an emcache error: "
        "callers of emcache cannot catch it without importing a lower package"
    )
    assert isinstance(error, emcache.ClusterNoAvailableNodes)
    assert "autodiscovery has found no nodes yet" in str(error)


@pytest.mark.asyncio
async def test_fault_every_node_killed_then_back(
    memcached_cluster: list[MemcachedNode],
) -> None:
    """With every node dead callers fail fast with an emcache error; all come back after."""
    nodes = memcached_cluster
    events = RecordingEvents()
    client = await emcache.create_client(
        [address(n) for n in nodes], timeout=1.0, purge_unhealthy_nodes=True, cluster_events=events
    )
    try:
        keys = [b"all:%d" % i for i in range(30)]
        for key in keys:
            await client.set(key, expected_value(key))
        for node in nodes:
            await asyncio.to_thread(node.kill)
        seen: set[str] = set()
        waits = []
        started = time.monotonic()
        while time.monotonic() - started < 2.0:
            began = time.monotonic()
            with pytest.raises(FACADE_ERRORS) as info:
                await client.get(keys[int(began * 1000) % len(keys)])
            waits.append(time.monotonic() - began)
            seen.add(type(info.value).__name__)
            await asyncio.sleep(0.01)
        assert max(waits) < 0.5, f"a caller waited {max(waits):.2f} s for dead nodes"
        assert "ClusterNoAvailableNodes" in seen, seen
        assert client.cluster_managment().healthy_nodes() == []
        for node in nodes:
            await asyncio.to_thread(node.start)
        back = time.monotonic()
        while len(client.cluster_managment().healthy_nodes()) < len(nodes):
            assert time.monotonic() - back < 5.0, "the nodes were not seen healthy again"
            await asyncio.sleep(0.02)
        for key in keys:
            await client.set(key, expected_value(key))
            item = await client.get(key)
            assert item is not None
            assert item.value == expected_value(key)
        await asyncio.sleep(0.05)
        names = [name for _, name, _ in events.calls]
        assert names.count("unhealthy") == len(nodes)
        assert names.count("healthy") == len(nodes)
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_fault_kill_fails_in_flight_callers_without_timeout(
    memcached: MemcachedNode,
) -> None:
    """With timeout=None, callers in flight when the node dies fail at once instead of hanging."""
    client = await emcache.create_client([address(memcached)], timeout=None)
    try:
        await client.set(b"k", b"v")
        await asyncio.to_thread(memcached.pause)
        calls = [asyncio.ensure_future(client.get(b"k")) for _ in range(100)]
        calls += [asyncio.ensure_future(client.set(b"k", b"v")) for _ in range(100)]
        await asyncio.sleep(0.2)
        assert not any(c.done() for c in calls)
        killed = time.monotonic()
        await asyncio.to_thread(memcached.kill)
        results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 2.0)
        assert time.monotonic() - killed < 1.0
        assert all(isinstance(r, emcache.ConnectionFailedError) for r in results), {
            type(r).__name__ for r in results
        }
        started = time.monotonic()
        with pytest.raises(emcache.ConnectionFailedError):
            await asyncio.wait_for(client.get(b"k"), 2.0)
        assert time.monotonic() - started < 0.5, "a dead node must fail fast even without timeout"
    finally:
        await client.close()
