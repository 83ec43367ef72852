"""Benchmark of emcache_pool alone: concurrent get/set callers on one node.

Starts a throwaway memcached with the launcher, then for each event loop (stock asyncio and
uvloop) and each workload (get, set, a 50/50 mix) runs ``--callers`` tasks that send requests
through one :class:`~emcache_pool.ConnectionPool` for ``--seconds``, each request with a 1 s
timeout. Requests are encoded beforehand, so the figures are those of the pool and the
parser, not of the encoders. Prints ops/s, p50/p99 latency, the timeouts seen and the CPU
time of this process per request (steadier than ops/s on a busy machine).

    hatch run python tools/bench/pool.py [--seconds 3] [--callers 32] [--connections 2]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

import uvloop

from emcache_pool import ConnectionPool, MemcachedHostAddress, PoolConfig
from emcache_protocol import retrieval_command, storage_command
from emcache_testing import MemcachedLauncher

KEYS = [b"bench-%04d" % i for i in range(1000)]
VALUE = b"v" * 100
GETS = [retrieval_command(b"get", [key]) for key in KEYS]
SETS = [storage_command(b"set", key, VALUE) for key in KEYS]
WORKLOADS = {"get": GETS, "set": SETS, "mixed": GETS + SETS}


async def _workload(
    endpoint: MemcachedHostAddress, requests: list[Any], args: argparse.Namespace
) -> dict[str, Any]:
    config = PoolConfig(max_connections=args.connections, min_connections=args.connections)
    pool = ConnectionPool(endpoint, config)
    for request in SETS:
        await pool.execute(request)
    latencies: list[float] = []
    timeouts = 0
    stop = time.perf_counter() + args.seconds

    async def caller(seed: int) -> None:
        nonlocal timeouts
        choose = random.Random(seed).choice
        execute = pool.execute
        clock = time.perf_counter
        record = latencies.append
        while True:
            started = clock()
            if started >= stop:
                return
            request = choose(requests)
            try:
                await execute(request, timeout=1.0)
            except TimeoutError:
                timeouts += 1
            record(clock() - started)

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller(seed) for seed in range(args.callers)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    metrics = pool.metrics()
    await pool.close()
    latencies.sort()
    return {
        "ops": len(latencies) / elapsed,
        "cpu_us": cpu / len(latencies) * 1e6,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "timeouts": timeouts,
        "depth": metrics.max_pipeline_depth,
    }


def _run(runner: Callable[[Coroutine[Any, Any, Any]], Any], *args: Any) -> dict[str, Any]:
    result: dict[str, Any] = runner(_workload(*args))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--loop", choices=("asyncio", "uvloop", "both"), default="both")
    args = parser.parse_args()
    loops = {"asyncio": asyncio.run, "uvloop": uvloop.run}
    names = list(loops) if args.loop == "both" else [args.loop]
    print(
        f"{args.callers} callers, {args.connections} connections, {args.seconds:g} s per run, "
        f"100-byte values, 1 s timeout per request"
    )
    print(
        f"{'loop':8} {'workload':8} {'ops/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'timeouts':>8}"
        f" {'CPU us/op':>9}"
    )
    with MemcachedLauncher() as launcher:
        node = launcher.start()[0]
        assert node.port is not None
        endpoint = MemcachedHostAddress(node.host, node.port)
        for name in names:
            for workload, requests in WORKLOADS.items():
                r = _run(loops[name], endpoint, requests, args)
                print(
                    f"{name:8} {workload:8} {r['ops']:9.0f} {r['p50'] * 1e3:7.2f} "
                    f"{r['p99'] * 1e3:7.2f} {r['timeouts']:8d} {r['cpu_us']:9.2f}"
                )


if __name__ == "__main__":
    main()
