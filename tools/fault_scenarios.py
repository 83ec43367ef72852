"""Fault scenarios run against an emcache client under a steady workload.

Each scenario starts real memcached nodes, fills them with keys whose value is
derived from the key (``b"v:" + key``), runs concurrent callers doing
get/set/get_many/gets, injects one fault (SIGKILL, SIGSTOP, a restart on the
same port, connections closed by the server, the autodiscovery endpoint going
away or hanging), ends it, and measures:

* what callers saw: successes, and per error type the count and the longest wait;
* whether any caller got a value that is not its key's (``mixed``, must be 0);
* the health the cluster reported and the events it dispatched;
* the time from the end of the fault until operations on the faulted node
  succeed again without interruption (recovery);
* the keys written before the fault that were gone afterwards (``lost``) -- a
  restarted memcached starts empty, which is the server's loss, not the client's.

Used by ``tests_integration/test_faults.py`` (which asserts on the outcomes)
and by ``tools/fault_report.py`` (which prints them as a table).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import emcache
from emcache_testing import FakeConfigEndpoint, MemcachedLauncher, MemcachedNode
from node_endpoints import endpoint_of

__all__ = [
    "SCENARIOS",
    "Outcome",
    "RecordingEvents",
    "Workload",
    "expected_value",
    "run_scenario",
]

KEY_COUNT = 300
WORKERS = 16
OP_TIMEOUT = 1.0  # the client's default
FAULT_SECONDS = 2.0
RECOVERY_LIMIT = 10.0
PROBES_FOR_RECOVERY = 5
SENTINELS = 150


def expected_value(key: bytes) -> bytes:
    """The only value ever stored under ``key``."""
    return b"v:" + key


class RecordingEvents(emcache.ClusterEvents):
    """Cluster events that remember what was called, when, and for which node."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str, Any]] = []

    async def on_node_healthy(self, cluster_managment: Any, host: Any) -> None:
        self.calls.append((time.monotonic(), "healthy", host))

    async def on_node_unhealthy(self, cluster_managment: Any, host: Any) -> None:
        self.calls.append((time.monotonic(), "unhealthy", host))

    async def on_node_added(self, cluster_managment: Any, host: Any) -> None:
        self.calls.append((time.monotonic(), "added", host))

    async def on_node_removed(self, cluster_managment: Any, host: Any) -> None:
        self.calls.append((time.monotonic(), "removed", host))

    def names_for(self, host: Any) -> list[str]:
        """The event names dispatched for one node, in order."""
        return [name for _, name, endpoint in self.calls if endpoint == host]


@dataclass
class OpStats:
    """What callers saw for one class of outcome."""

    count: int = 0
    max_wait: float = 0.0

    def add(self, wait: float) -> None:
        self.count += 1
        self.max_wait = max(self.max_wait, wait)


@dataclass
class Outcome:
    """The measured result of one scenario."""

    name: str
    timeout: float
    ok: OpStats = field(default_factory=OpStats)
    errors: dict[str, OpStats] = field(default_factory=dict)
    errors_on_healthy_nodes: int = 0
    mixed: int = 0
    misses_before_fault: int = 0
    lost: int = 0
    lost_of: int = 0
    recovery_s: float | None = None
    fully_recovered: bool = False
    final_errors: int = 0
    server_closed: int = 0
    events: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def max_wait(self) -> float:
        """The longest any caller waited, whatever it got."""
        return max([self.ok.max_wait, *(s.max_wait for s in self.errors.values())])

    def callers_saw(self) -> str:
        """One line: successes and each error type with its count and longest wait."""
        parts = [f"{self.ok.count} ok (max {_ms(self.ok.max_wait)})"]
        for name, stats in sorted(self.errors.items(), key=lambda kv: -kv[1].count):
            parts.append(f"{stats.count} {name} (max {_ms(stats.max_wait)})")
        return ", ".join(parts)

    def recovery_text(self) -> str:
        if self.recovery_s is None:
            return "not recovered" if not self.fully_recovered else "n/a (no disruption)"
        return _ms(self.recovery_s)

    def data_text(self) -> str:
        mixed = f"mixed {self.mixed}"
        if self.lost_of:
            return f"{mixed}; lost {self.lost}/{self.lost_of} keys of that node"
        return f"{mixed}; lost {self.lost}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


# -- the workload -------------------------------------------------------------------------------
class Workload:
    """Concurrent callers over a key set, checking every value they read."""

    def __init__(
        self,
        client: emcache.Client,
        keys: Sequence[bytes],
        owner: dict[bytes, Any],
        outcome: Outcome,
        *,
        workers: int = WORKERS,
        seed: int = 0,
    ) -> None:
        self.client = client
        self.keys = list(keys)
        self.owner = owner
        self.outcome = outcome
        self.workers = workers
        self.faulted: set[Any] = set()
        self.fault_window = False
        self._rng = random.Random(seed)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(self._worker()) for _ in range(self.workers)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def _check(self, key: bytes, value: bytes | None) -> None:
        if value is not None and value != expected_value(key):
            self.outcome.mixed += 1

    async def one_op(self, touched: list[bytes]) -> None:
        """Run one random operation, first putting the keys it touches in ``touched``."""
        rng = self._rng
        key = rng.choice(self.keys)
        roll = rng.random()
        client = self.client
        touched.append(key)
        if roll < 0.45:
            item = await client.get(key)
            self._check(key, None if item is None else item.value)
        elif roll < 0.80:
            await client.set(key, expected_value(key))
        elif roll < 0.90:
            many = rng.sample(self.keys, 4)
            touched[:] = many
            items = await client.get_many(many)
            for got_key, item in items.items():
                if got_key not in many:
                    self.outcome.mixed += 1
                self._check(got_key, item.value)
        else:
            item = await client.gets(key)
            self._check(key, None if item is None else item.value)

    async def _worker(self) -> None:
        outcome = self.outcome
        while not self._stop.is_set():
            start = time.monotonic()
            touched: list[bytes] = []
            try:
                await self.one_op(touched)
            except Exception as exc:
                wait = time.monotonic() - start
                name = type(exc).__name__
                outcome.errors.setdefault(name, OpStats()).add(wait)
                on_faulted = any(self.owner.get(k) in self.faulted for k in touched)
                if not (self.fault_window and on_faulted):
                    outcome.errors_on_healthy_nodes += 1
                    if len(outcome.notes) < 5:
                        outcome.notes.append(f"error on a healthy node: {name}: {exc}")
                await asyncio.sleep(0.005)
            else:
                outcome.ok.add(time.monotonic() - start)
                await asyncio.sleep(0)


class Probe:
    """Set then get one key of the faulted node every few ms, recording success times."""

    def __init__(self, client: emcache.Client, key: bytes, outcome: Outcome) -> None:
        self.client = client
        self.key = key
        self.outcome = outcome
        self.results: list[tuple[float, bool]] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            ok = True
            try:
                await self.client.set(self.key, expected_value(self.key))
                item = await self.client.get(self.key)
                if item is not None and item.value != expected_value(self.key):
                    self.outcome.mixed += 1
                ok = item is not None
            except Exception:
                ok = False
            self.results.append((time.monotonic(), ok))
            await asyncio.sleep(0.01)

    def recovered_at(self, since: float) -> float | None:
        """The first success after ``since`` that was followed only by successes."""
        after = [(t, ok) for t, ok in self.results if t >= since]
        if len(after) < PROBES_FOR_RECOVERY or not all(
            ok for _, ok in after[-PROBES_FOR_RECOVERY:]
        ):
            return None
        first = None
        for t, ok in after:
            if ok and first is None:
                first = t
            elif not ok:
                first = None
        return first

    async def wait_recovered(self, since: float, limit: float) -> float | None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            at = self.recovered_at(since)
            if at is not None:
                return at
            await asyncio.sleep(0.02)
        return None


# -- helpers ------------------------------------------------------------------------------------
_VALUE_KEY = re.compile(rb"VALUE (\S+) ")


def keys_on(node: MemcachedNode, keys: Sequence[bytes]) -> set[bytes]:
    """The keys among ``keys`` the node holds, asked with one raw multi-get (blocking)."""
    found: set[bytes] = set()
    for start in range(0, len(keys), 100):
        request = b"get " + b" ".join(keys[start : start + 100]) + b"\r\n"
        reply = node.command_reply(request, until=b"END\r\n")
        found.update(_VALUE_KEY.findall(reply))
    return found


async def populate(client: emcache.Client, keys: Sequence[bytes]) -> None:
    for start in range(0, len(keys), 50):
        await asyncio.gather(*(client.set(k, expected_value(k)) for k in keys[start : start + 50]))


async def ownership(nodes: Sequence[MemcachedNode], keys: Sequence[bytes]) -> dict[bytes, Any]:
    """Which node holds each key, read back from the nodes themselves."""
    owner: dict[bytes, Any] = {}
    for node in nodes:
        for key in await asyncio.to_thread(keys_on, node, keys):
            owner[key] = endpoint_of(node)
    return owner


async def wait_healthy(client: emcache.Client, count: int, limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if len(client.cluster_managment().healthy_nodes()) >= count:
            return True
        await asyncio.sleep(0.02)
    return False


async def final_sweep(client: emcache.Client, keys: Sequence[bytes], outcome: Outcome) -> None:
    """Every key can be written and read back exactly, with no error."""
    errors = 0
    for start in range(0, len(keys), 50):
        chunk = keys[start : start + 50]
        results = await asyncio.gather(
            *(client.set(k, expected_value(k)) for k in chunk), return_exceptions=True
        )
        errors += sum(isinstance(r, BaseException) for r in results)
        got = await asyncio.gather(*(client.get(k) for k in chunk), return_exceptions=True)
        for key, item in zip(chunk, got, strict=True):
            if isinstance(item, BaseException) or item is None:
                errors += 1
            elif item.value != expected_value(key):
                outcome.mixed += 1
    outcome.final_errors = errors
    outcome.fully_recovered = errors == 0


# -- scenarios ----------------------------------------------------------------------------------
FaultAction = Callable[[], Awaitable[None]]


@dataclass
class Fault:
    """How to inject and end one fault on ``victim`` (the node index 0)."""

    name: str
    start: Callable[[MemcachedNode], None]
    end: Callable[[MemcachedNode], None]
    seconds: float = FAULT_SECONDS
    data_survives: bool = True
    expect_unhealthy: bool = False
    client_options: dict[str, Any] = field(default_factory=dict)


def _noop(node: MemcachedNode) -> None:
    return None


def _sigkill(name: str, **client_options: Any) -> Fault:
    """The node is SIGKILLed (its data lost) and started again after the fault."""
    return Fault(
        name,
        start=MemcachedNode.kill,
        end=MemcachedNode.start,
        data_survives=False,
        expect_unhealthy=True,
        client_options=client_options,
    )


NODE_FAULTS = {
    "sigkill": _sigkill("node SIGKILLed, back after 2 s"),
    "sigkill_purge": _sigkill(
        "node SIGKILLed, purge_unhealthy_nodes=True", purge_unhealthy_nodes=True
    ),
    "sigkill_autobatching": _sigkill(
        "node SIGKILLed, back after 2 s, autobatching=True", autobatching=True
    ),
    "sigstop": Fault(
        "node SIGSTOPped 2 s, then SIGCONT",
        start=MemcachedNode.pause,
        end=MemcachedNode.resume,
    ),
    "sigstop_long": Fault(
        "node SIGSTOPped 6 s, then SIGCONT",
        start=MemcachedNode.pause,
        end=MemcachedNode.resume,
        seconds=6.0,
    ),
    "restart": Fault(
        "node restarted on the same port",
        start=MemcachedNode.restart,
        end=_noop,
        seconds=0.0,
        data_survives=False,
    ),
}


async def run_node_fault(launcher: MemcachedLauncher, kind: str, *, seed: int = 0) -> Outcome:
    """Run one node fault on a 3-node cluster; node 0 is the victim."""
    fault = NODE_FAULTS[kind]
    nodes = launcher.start(3)
    victim = nodes[0]
    victim_addr = endpoint_of(victim)
    events = RecordingEvents()
    outcome = Outcome(fault.name, OP_TIMEOUT)
    client = await emcache.create_client(
        [endpoint_of(n) for n in nodes],
        timeout=OP_TIMEOUT,
        cluster_events=events,
        **fault.client_options,
    )
    try:
        keys = [b"key:%d" % i for i in range(KEY_COUNT)]
        sentinels = [b"keep:%d" % i for i in range(SENTINELS)]
        await populate(client, keys + sentinels)
        owner = await ownership(nodes, keys + sentinels)
        victim_keys = [k for k in keys if owner.get(k) == victim_addr]
        outcome.lost_of = sum(1 for k in sentinels if owner.get(k) == victim_addr)
        workload = Workload(client, keys, owner, outcome, seed=seed)
        workload.faulted.add(victim_addr)
        probe = Probe(client, victim_keys[0], outcome)
        workload.start()
        probe.start()
        await asyncio.sleep(0.5)

        workload.fault_window = True
        await asyncio.to_thread(fault.start, victim)
        await asyncio.sleep(fault.seconds)
        await asyncio.to_thread(fault.end, victim)
        fault_end = time.monotonic()
        recovered = await probe.wait_recovered(fault_end, RECOVERY_LIMIT)
        outcome.recovery_s = None if recovered is None else max(0.0, recovered - fault_end)
        # Pools may still be re-opening their other connections: let them settle.
        await asyncio.sleep(0.5)
        workload.fault_window = False
        await asyncio.sleep(0.5)
        await workload.stop()
        await probe.stop()

        if not await wait_healthy(client, len(nodes)):
            outcome.notes.append("not every node reported healthy again within 5 s")
        await check_sentinels(client, sentinels, outcome)
        await final_sweep(client, keys, outcome)
        await asyncio.sleep(0.05)
        outcome.events = [f"{name} {_addr_text(host)}" for _, name, host in events.calls]
        if fault.expect_unhealthy and "unhealthy" not in events.names_for(victim_addr):
            outcome.notes.append("no unhealthy event for the faulted node")
    finally:
        await client.close()
    return outcome


async def check_sentinels(
    client: emcache.Client, sentinels: Sequence[bytes], outcome: Outcome
) -> None:
    """Count the keys written before the fault (and never since) that are gone or wrong."""
    got = await asyncio.gather(*(client.get(k) for k in sentinels), return_exceptions=True)
    for key, item in zip(sentinels, got, strict=True):
        if isinstance(item, BaseException):
            outcome.final_errors += 1
        elif item is None:
            outcome.lost += 1
        elif item.value != expected_value(key):
            outcome.mixed += 1


def _addr_text(host: Any) -> str:
    if isinstance(host, emcache.MemcachedHostAddress):
        return f"{host.address}:{host.port}"
    return str(host)


async def run_idle_reset(launcher: MemcachedLauncher, *, seed: int = 0) -> Outcome:
    """The server closes idle connections (``-o idle_timeout=1``); the client is used again."""
    nodes = launcher.start(3, extra_args=["-o", "idle_timeout=1"])
    events = RecordingEvents()
    outcome = Outcome(
        "server closes idle connections (idle_timeout=1), client used again", OP_TIMEOUT
    )
    client = await emcache.create_client(
        [endpoint_of(n) for n in nodes], timeout=OP_TIMEOUT, cluster_events=events
    )
    try:
        keys = [b"key:%d" % i for i in range(KEY_COUNT)]
        sentinels = [b"keep:%d" % i for i in range(SENTINELS)]
        await populate(client, keys + sentinels)
        owner = await ownership(nodes, keys + sentinels)
        # memcached looks for idle connections about once a second; wait until it closed some.
        deadline = time.monotonic() + 8.0
        closed = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            metrics = client.cluster_managment().connection_pool_metrics().values()
            closed = sum(m.connections_closed for m in metrics)
            if closed >= len(nodes):
                break
        outcome.server_closed = closed
        outcome.notes.append(f"{closed} connections were closed by the servers while idle")
        workload = Workload(client, keys, owner, outcome, seed=seed)
        workload.faulted.update(endpoint_of(n) for n in nodes)
        workload.fault_window = True
        resumed = time.monotonic()
        workload.start()
        probe = Probe(client, keys[0], outcome)
        probe.start()
        recovered = await probe.wait_recovered(resumed, RECOVERY_LIMIT)
        outcome.recovery_s = None if recovered is None else max(0.0, recovered - resumed)
        await asyncio.sleep(1.0)
        await workload.stop()
        await probe.stop()
        await check_sentinels(client, sentinels, outcome)
        await final_sweep(client, keys, outcome)
        outcome.events = [f"{name} {_addr_text(host)}" for _, name, host in events.calls]
    finally:
        await client.close()
    return outcome


async def run_autodiscovery_fault(
    launcher: MemcachedLauncher, mode: str, *, seed: int = 0
) -> Outcome:
    """The configuration endpoint goes away (``away``) or stops answering (``hang``), then
    comes back with a new node list; the nodes themselves stay up."""
    nodes = launcher.start(3)
    endpoint = FakeConfigEndpoint([n.address for n in nodes])
    await endpoint.start()
    events = RecordingEvents()
    titles = {
        "away": "goes away",
        "hang": "hangs",
        "garbage": "answers garbage",
        "error": "answers ERROR",
    }
    title = "autodiscovery endpoint " + titles[mode]
    outcome = Outcome(title + " 2 s, back with 2 nodes", OP_TIMEOUT)
    client = await emcache.create_client(
        [endpoint_of(endpoint)],
        timeout=OP_TIMEOUT,
        cluster_events=events,
        autodiscovery=True,
        autodiscovery_poll_interval=0.2,
        autodiscovery_timeout=0.5,
    )
    try:
        keys = [b"key:%d" % i for i in range(KEY_COUNT)]
        sentinels = [b"keep:%d" % i for i in range(SENTINELS)]
        await populate(client, keys + sentinels)
        owner = await ownership(nodes, keys + sentinels)
        removed = endpoint_of(nodes[2])
        outcome.lost_of = sum(1 for k in sentinels if owner.get(k) == removed)
        workload = Workload(client, keys, owner, outcome, seed=seed)
        workload.start()
        await asyncio.sleep(0.5)
        workload.fault_window = True
        if mode == "away":
            await endpoint.close()
        else:
            endpoint.mode = mode  # type: ignore[assignment]
        await asyncio.sleep(FAULT_SECONDS)
        if len(client.cluster_managment().nodes()) != len(nodes):
            outcome.notes.append("the node list changed while the endpoint was failing")
        polls_before = endpoint.requests
        endpoint.set_nodes([n.address for n in nodes[:2]])
        if mode == "away":
            await endpoint.start()  # on the port it had
        else:
            endpoint.mode = "ok"  # also ends a hang
        back = time.monotonic()
        applied = None
        while time.monotonic() - back < RECOVERY_LIMIT:
            if removed not in client.cluster_managment().nodes():
                applied = time.monotonic()
                break
            await asyncio.sleep(0.01)
        outcome.recovery_s = None if applied is None else applied - back
        outcome.notes.append(
            f"{endpoint.requests - polls_before} polls after the endpoint came back"
        )
        await asyncio.sleep(0.5)
        workload.fault_window = False
        await asyncio.sleep(0.5)
        await workload.stop()
        await check_sentinels(client, sentinels, outcome)
        await final_sweep(client, keys, outcome)
        await asyncio.sleep(0.05)
        outcome.events = [f"{name} {_addr_text(host)}" for _, name, host in events.calls]
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await endpoint.close()
    return outcome


ScenarioRunner = Callable[[MemcachedLauncher], Awaitable[Outcome]]


def _node(kind: str) -> ScenarioRunner:
    async def run(launcher: MemcachedLauncher) -> Outcome:
        return await run_node_fault(launcher, kind)

    return run


def _discovery(mode: str) -> ScenarioRunner:
    async def run(launcher: MemcachedLauncher) -> Outcome:
        return await run_autodiscovery_fault(launcher, mode)

    return run


SCENARIOS: dict[str, ScenarioRunner] = {
    "sigkill": _node("sigkill"),
    "sigkill_purge": _node("sigkill_purge"),
    "sigkill_autobatching": _node("sigkill_autobatching"),
    "sigstop": _node("sigstop"),
    "sigstop_long": _node("sigstop_long"),
    "restart": _node("restart"),
    "idle_reset": run_idle_reset,
    "autodiscovery_away": _discovery("away"),
    "autodiscovery_hang": _discovery("hang"),
    "autodiscovery_garbage": _discovery("garbage"),
    "autodiscovery_error": _discovery("error"),
}


async def run_scenario(name: str, launcher: MemcachedLauncher | None = None) -> Outcome:
    """Run one scenario by name, with its own launcher unless one is given."""
    if launcher is not None:
        return await SCENARIOS[name](launcher)
    with MemcachedLauncher() as own:
        return await SCENARIOS[name](own)
