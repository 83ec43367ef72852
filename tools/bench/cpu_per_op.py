"""CPU time per operation of the facade, 32 tasks at default settings: for A/B runs.

Starts a throwaway memcached (or uses ``--port``), fills 1,000 keys of 100 bytes, then
runs 32 tasks of ``get`` and then of ``set`` for ``--seconds`` each and prints ops/s and
the CPU time of this process per operation (steadier than ops/s on a shared machine).

To compare two checkouts of the project, run it with each checkout's package sources
first on ``PYTHONPATH``, alternating, against the same node::

    memcached -p 21311 -l 127.0.0.1 -U 0 -t 1 &
    OLD=$(ls -d ../old/packages/*/src | paste -sd:)
    for i in 1 2 3; do
      PYTHONPATH=$OLD python tools/bench/cpu_per_op.py --port 21311
      python tools/bench/cpu_per_op.py --port 21311
    done
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import time
from collections.abc import Iterator

import emcache

KEYS = [b"k%04d" % i for i in range(1000)]
VALUE = b"v" * 100
TASKS = 32


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(port: int, seconds: float) -> str:
    node = emcache.MemcachedHostAddress("127.0.0.1", port)
    client = await emcache.create_client([node])
    try:
        for key in KEYS:
            await client.set(key, VALUE)
        results = []
        for name in ("get", "set"):
            done = 0
            stop = time.perf_counter() + seconds

            async def worker(start: int, name: str = name, stop: float = stop) -> None:
                nonlocal done
                index = start
                while time.perf_counter() < stop:
                    key = KEYS[index % len(KEYS)]
                    index += 7
                    if name == "get":
                        await client.get(key)
                    else:
                        await client.set(key, VALUE)
                    done += 1

            cpu, began = cpu_seconds(), time.perf_counter()
            await asyncio.gather(*(worker(i) for i in range(TASKS)))
            elapsed, cpu = time.perf_counter() - began, cpu_seconds() - cpu
            results.append(f"{name} {done / elapsed:.0f} ops/s {cpu / done * 1e6:.2f} us/op")
        return " | ".join(results)
    finally:
        await client.close()


@contextlib.contextmanager
def node_port(port: int | None) -> Iterator[int]:
    if port is not None:
        yield port
        return
    from emcache_testing import MemcachedLauncher

    with MemcachedLauncher() as launcher:
        node = launcher.start()[0]
        assert node.port is not None
        yield node.port


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--port", type=int, help="an already running node on 127.0.0.1")
    cli.add_argument("--seconds", type=float, default=2.0, help="seconds per workload")
    args = cli.parse_args()
    with node_port(args.port) as port:
        print(asyncio.run(measure(port, args.seconds)))


if __name__ == "__main__":
    main()
