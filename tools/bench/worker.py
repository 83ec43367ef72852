"""Run one workload with one client for a fixed time and print the result as one JSON line.

Started by ``run.py`` with the interpreter of the venv that holds the client (the
peer emcache shares our import name, so every client lives in its own venv).
This file imports only the standard library at the top; each adapter imports its
client lazily, so the same file runs in every venv.

Measurement: every task (or thread) loops on one operation. The operations done
in the measured window are counted per task; one operation in 16 is timed for the
latency percentiles. Timeouts (``asyncio.TimeoutError``/``TimeoutError``), other
exceptions and wrong results (a miss on a key that was stored) are counted apart.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

SAMPLE_MASK = 15  # time one operation in 16
KEY_COUNT = 1000


@dataclass(frozen=True)
class Workload:
    """What the tasks do: ``op`` is get, set, get_many or mixed; ``nodes`` how many servers."""

    op: str
    tasks: int
    value_size: int = 100
    nodes: int = 1
    autobatching: bool = False
    batch: int = 100
    count: int = 0  # run this many operations instead of a duration (memory check)
    keys: int = KEY_COUNT  # distinct keys; fewer for large values, so that they fit the node


# Large values: 100,000 and 1,000,000 bytes. memcached's default largest item is 1 MiB, so a
# 1,000,000-byte value and its key fit every peer's server without raising -I; 64 and 16 keys
# keep them well inside the nodes' 64 MB.
LARGE = {"100k": (100_000, 64), "1m": (1_000_000, 16)}


WORKLOADS: dict[str, Workload] = {
    "set-1": Workload("set", 1),
    "set-32": Workload("set", 32),
    "set-256": Workload("set", 256),
    "get-1": Workload("get", 1),
    "get-32": Workload("get", 32),
    "get-256": Workload("get", 256),
    "get-32-10k": Workload("get", 32, value_size=10_000),
    "get_many-100x4": Workload("get_many", 16, nodes=4),
    "autobatch-get-32": Workload("get", 32, autobatching=True),
    **{
        f"{op}-8-{name}": Workload(op, 8, value_size=size, keys=keys)
        for name, (size, keys) in LARGE.items()
        for op in ("get", "set")
    },
    "rss-1m": Workload("mixed", 32, count=1_000_000),
}


@dataclass
class Stats:
    """Counters shared by the tasks of one run."""

    counts: list[int]
    measuring: bool = False
    stopping: bool = False
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    timeouts: int = 0
    misses: int = 0
    first_error: str | None = None

    def error(self, exc: BaseException) -> None:
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            self.timeouts += 1
        else:
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"{type(exc).__name__}: {exc}"[:300]


def keys_for(workload: Workload) -> list[bytes]:
    """The keys of a workload; the value size is part of the name so workloads do not mix."""
    return [b"bench:%d:%d" % (workload.value_size, i) for i in range(workload.keys)]


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- adapters: each returns (get, set, get_many, close) over the client ----------------------------

Op = Callable[..., Awaitable[Any]]
Adapter = tuple[Op, Op, Op | None, Callable[[], Awaitable[None]]]


async def adapt_emcache(
    nodes: list[tuple[str, int]], max_conns: int | None, batch: bool
) -> Adapter:
    """Ours and the peer emcache 1.x: same API, told apart by the venv they run in."""
    import emcache

    kwargs: dict[str, Any] = {}
    if max_conns is not None:
        kwargs["max_connections"] = max_conns
    if batch:
        kwargs["autobatching"] = True
    addresses = [emcache.MemcachedHostAddress(h, p) for h, p in nodes]
    client = await emcache.create_client(addresses, **kwargs)
    return client.get, client.set, client.get_many, client.close


async def adapt_aiomcache(
    nodes: list[tuple[str, int]], max_conns: int | None, batch: bool
) -> Adapter:
    """aiomcache: one server per client, so no get_many over several nodes."""
    import aiomcache  # type: ignore[import-not-found]

    host, port = nodes[0]
    kwargs = {} if max_conns is None else {"pool_size": max_conns}
    client = aiomcache.Client(host, port, **kwargs)
    get_many = None
    if len(nodes) == 1:

        async def get_many(keys: list[bytes]) -> Any:
            return await client.multi_get(*keys)

    return client.get, client.set, get_many, client.close


async def adapt_memcachio(
    nodes: list[tuple[str, int]], max_conns: int | None, batch: bool
) -> Adapter:
    """memcachio: ``get(*keys)`` answers a dict; a list of endpoints makes a cluster."""
    import memcachio  # type: ignore[import-not-found]

    location: Any = nodes[0] if len(nodes) == 1 else list(nodes)
    kwargs = {} if max_conns is None else {"max_connections": max_conns}
    client: Any = memcachio.Client(location, **kwargs)

    async def get_many(keys: list[bytes]) -> Any:
        return await client.get(*keys)

    async def close() -> None:
        client.connection_pool.close()

    return client.get, client.set, get_many, close


async def adapt_ceiling(
    nodes: list[tuple[str, int]], max_conns: int | None, batch: bool
) -> Adapter:
    """The ceiling probe: single node, single keys."""
    from ceiling import CeilingClient  # a worker runs as a script: its folder is on the path

    host, port = nodes[0]
    client = await CeilingClient.connect(host, port, max_conns or 2)
    return client.get, client.set, None, client.close


ADAPTERS: dict[str, Callable[..., Awaitable[Adapter]]] = {
    "ours": adapt_emcache,
    "ours-compiled": adapt_emcache,
    "emcache-1.3.3": adapt_emcache,
    "aiomcache": adapt_aiomcache,
    "memcachio": adapt_memcachio,
    "ceiling": adapt_ceiling,
}


# -- the asyncio run -------------------------------------------------------------------------------


async def task_loop(
    stats: Stats, idx: int, workload: Workload, keys: list[bytes], value: bytes, ops: Adapter
) -> None:
    get, set_, get_many, _ = ops
    counts = stats.counts
    samples = stats.latencies
    perf = time.perf_counter
    nkeys = len(keys)
    i = idx * 7919
    n = 0
    while not stats.stopping:
        i += 1
        n += 1
        key = keys[i % nkeys]
        timed = stats.measuring and not (n & SAMPLE_MASK)
        if timed:
            t0 = perf()
        try:
            if workload.op == "get":
                ok = bool(await get(key))
            elif workload.op == "set":
                await set_(key, value)
                ok = True
            elif workload.op == "get_many":
                assert get_many is not None
                start = i % (nkeys - workload.batch)
                found = await get_many(keys[start : start + workload.batch])
                ok = len(found) == workload.batch
            elif n & 1:
                await set_(key, value)
                ok = True
            else:
                ok = bool(await get(key))
        except Exception as exc:
            stats.error(exc)
        else:
            if ok:
                counts[idx] += 1  # only operations that did their job count
            else:
                stats.misses += 1
        if timed:
            samples.append(perf() - t0)


async def run_async(args: argparse.Namespace, workload: Workload) -> dict[str, Any]:
    nodes = parse_nodes(args.nodes)[: workload.nodes]
    ops = await ADAPTERS[args.client](nodes, args.max_connections, workload.autobatching)
    _, set_, get_many, close = ops
    keys = keys_for(workload)
    value = b"x" * workload.value_size
    if workload.op == "get_many" and get_many is None:
        await close()
        return {"skipped": "no multi-node get_many"}
    for start in range(0, len(keys), 50):
        await asyncio.gather(*(set_(k, value) for k in keys[start : start + 50]))

    stats = Stats(counts=[0] * workload.tasks)
    tasks = [
        asyncio.ensure_future(task_loop(stats, i, workload, keys, value, ops))
        for i in range(workload.tasks)
    ]
    result: dict[str, Any] = {}
    if workload.count:
        result.update(await measure_memory(stats, workload))
    else:
        result.update(await measure_window(stats, args.warmup, args.duration))
    stats.stopping = True
    _, pending = await asyncio.wait(tasks, timeout=10)
    for task in pending:
        task.cancel()
    await close()
    return finish(result, stats)


async def measure_window(stats: Stats, warmup: float, duration: float) -> dict[str, Any]:
    await asyncio.sleep(warmup)
    stats.measuring = True
    before, start, cpu = list(stats.counts), time.perf_counter(), time.process_time()
    stats.errors = stats.timeouts = stats.misses = 0
    await asyncio.sleep(duration)
    stats.measuring = False
    return window_result(stats, before, start, cpu)


def window_result(stats: Stats, before: list[int], start: float, cpu: float) -> dict[str, Any]:
    """Rate over the window, client CPU per operation, and tasks that completed nothing in it."""
    elapsed = time.perf_counter() - start
    cpu_used = time.process_time() - cpu
    after = list(stats.counts)
    ops = sum(after) - sum(before)
    stalled = sum(1 for b, a in zip(before, after, strict=True) if a == b)
    return {
        "ops": ops,
        "elapsed": elapsed,
        "ops_per_s": ops / elapsed,
        "cpu_us_per_op": cpu_used / max(ops, 1) * 1e6,
        "stalled_tasks": stalled,
    }


async def measure_memory(stats: Stats, workload: Workload) -> dict[str, Any]:
    warm = workload.count // 10
    while sum(stats.counts) < warm:  # noqa: ASYNC110 - a counter the tasks bump, no event to wait on
        await asyncio.sleep(0.05)
    gc.collect()
    rss_start, start_ops, start = rss_bytes(), sum(stats.counts), time.perf_counter()
    while sum(stats.counts) - start_ops < workload.count:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    ops, elapsed = sum(stats.counts) - start_ops, time.perf_counter() - start
    gc.collect()
    rss_end = rss_bytes()
    return {
        "ops": ops,
        "elapsed": elapsed,
        "ops_per_s": ops / elapsed,
        "rss_start": rss_start,
        "rss_end": rss_end,
        "rss_growth": (rss_end - rss_start) / rss_start,
    }


def finish(result: dict[str, Any], stats: Stats) -> dict[str, Any]:
    lat = sorted(stats.latencies)
    if lat:
        result["p50_us"] = lat[len(lat) // 2] * 1e6
        result["p99_us"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6
        result["samples"] = len(lat)
    result.update(
        errors=stats.errors + stats.misses,
        exceptions=stats.errors,
        misses=stats.misses,
        timeouts=stats.timeouts,
        first_error=stats.first_error,
    )
    return result


# -- pymemcache with threads: the synchronous reference --------------------------------------------


def run_threads(args: argparse.Namespace, workload: Workload) -> dict[str, Any]:
    from pymemcache.client.base import PooledClient  # type: ignore[import-not-found]
    from pymemcache.client.hash import HashClient  # type: ignore[import-not-found]

    nodes = parse_nodes(args.nodes)[: workload.nodes]
    # pymemcache sends set as noreply by default; every other client waits for STORED.
    pool: dict[str, Any] = {"default_noreply": False}
    if args.max_connections is not None:
        pool["max_pool_size"] = args.max_connections
    client: Any
    if len(nodes) == 1:
        client = PooledClient(nodes[0], **pool)
    else:
        client = HashClient(nodes, use_pooling=True, **pool)
    keys = keys_for(workload)
    value = b"x" * workload.value_size
    for k in keys:
        client.set(k, value)
    stats = Stats(counts=[0] * workload.tasks)
    go = threading.Event()

    def thread_loop(idx: int) -> None:
        go.wait()
        counts, samples, perf = stats.counts, stats.latencies, time.perf_counter
        i, n = idx * 7919, 0
        while not stats.stopping:
            i += 1
            n += 1
            key = keys[i % len(keys)]
            timed = stats.measuring and not (n & SAMPLE_MASK)
            if timed:
                t0 = perf()
            try:
                if workload.op == "get":
                    ok = client.get(key) is not None
                elif workload.op == "set":
                    client.set(key, value)
                    ok = True
                elif workload.op == "get_many":
                    start = i % (len(keys) - workload.batch)
                    found = client.get_many(keys[start : start + workload.batch])
                    ok = len(found) == workload.batch
                elif n & 1:
                    client.set(key, value)
                    ok = True
                else:
                    ok = client.get(key) is not None
            except Exception as exc:
                stats.error(exc)
            else:
                if ok:
                    counts[idx] += 1
                else:
                    stats.misses += 1
            if timed:
                samples.append(perf() - t0)

    threads = [threading.Thread(target=thread_loop, args=(i,)) for i in range(workload.tasks)]
    for t in threads:
        t.start()
    go.set()
    time.sleep(args.warmup)
    stats.measuring = True
    before, start, cpu = list(stats.counts), time.perf_counter(), time.process_time()
    stats.errors = stats.timeouts = stats.misses = 0
    time.sleep(args.duration)
    stats.measuring = False
    result = window_result(stats, before, start, cpu)
    stats.stopping = True
    for t in threads:
        t.join(10)
    client.close()
    return finish(result, stats)


def client_version(client: str) -> str | None:
    """The installed version of the client's distribution (None for the ceiling probe)."""
    from importlib.metadata import PackageNotFoundError, version

    names = {"ours": "emcache", "ours-compiled": "emcache", "emcache-1.3.3": "emcache"}
    dist = names.get(client, client)
    try:
        return None if client == "ceiling" else version(dist)
    except PackageNotFoundError:
        return None


# -- entry point -----------------------------------------------------------------------------------


def parse_nodes(text: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` -> [(host, port), ...]."""
    out = []
    for item in text.split(","):
        host, _, port = item.rpartition(":")
        out.append((host, int(port)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", required=True, choices=[*ADAPTERS, "pymemcache"])
    parser.add_argument("--workload", required=True, choices=list(WORKLOADS))
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop", "threads"])
    parser.add_argument("--nodes", required=True, help="host:port[,host:port...]")
    parser.add_argument("--max-connections", type=int, default=None)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    args = parser.parse_args(argv)
    workload = WORKLOADS[args.workload]
    if args.client == "pymemcache":
        result = run_threads(args, workload)
    elif args.loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(run_async(args, workload))
    else:
        result = asyncio.run(run_async(args, workload))
    result["version"] = client_version(args.client)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
