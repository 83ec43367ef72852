"""What one ``get`` or ``set`` costs: loop iterations, writes, CPU time and transient memory.

Starts a throwaway memcached (``emcache_testing.MemcachedLauncher``, as ``run.py`` does) or
uses ``--port``, stores 1,000 keys of 100 bytes, then runs ``--ops`` operations sequentially
(1 task) and from 32 concurrent tasks, for ``get`` and for ``set``, and prints per operation:

``iters``
    Event-loop iterations: calls of the stock loop's ``_run_once`` (a subclass counts them).
    uvloop runs its loop in C and exposes no iteration hook: ``n/a`` there.
``writes`` and ``B/write``
    ``transport.write`` calls (each is one ``send`` syscall when the socket takes it all) and
    bytes per call. The transport the client's protocol holds is swapped for a counting proxy
    right after ``create_connection`` returns, so every client is counted alike.
``cpu_us``
    CPU time of this process (user + system, ``getrusage``) per operation, in a separate pass
    without the counting proxy. memcached runs in another process and is not included.
``p50_us``
    Median latency of one operation (1 task only: with 32 tasks it is queueing time).
``alloc_B``
    Transient memory per operation from ``tracemalloc``, in a third pass: sequentially, the
    peak of traced memory during one operation above the level before it (every object the
    operation made and still held at its deepest point: futures, handles, tuples, coroutine
    frames, the request and reply bytes); with 32 tasks, the peak above the level before the
    window, divided by 32. Python counts no allocations, and net counts such as
    ``sys.getallocatedblocks()`` deltas stay near zero per operation, so this peak is the
    meaningful figure: what an operation allocates and keeps alive while it runs. The stock
    loop reads into a fresh 256 KiB buffer each time, the same for every client; that pass
    shrinks it to 4 KiB so that it does not drown the rest.

Clients: ``ours`` is the ``emcache`` found on the path, so an older checkout is measured by
putting its package sources first on ``PYTHONPATH``; ``ceiling`` is the bare pipelined probe
(``tools/bench/ceiling.py``). ``--max-connections`` is the pool's (or the probe's) connection
count; ours keeps its default when it is not given, the probe uses 2::

    hatch run python -m bench.per_op --client ours ceiling --loop asyncio uvloop
    OLD=$(ls -d ../old/packages/*/src | paste -sd:)
    PYTHONPATH=$OLD:tools $(hatch env find default)/bin/python -m bench.per_op --client ours

(``hatch run`` sets ``PYTHONPATH`` itself: call the environment's interpreter for the old
tree.) The pass that counts uses a loop subclass and a proxy per transport, so its CPU time
is not reported; the figures of one run come from the same node and the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from bench.cpu_per_op import node_port

KEYS = [b"k%04d" % i for i in range(1000)]
# The stock loop's reads allocate a buffer of this many bytes (256 KiB by default), which
# would hide everything else in the alloc_B figure: shrunk for that pass (see the module).
_RECV_SIZE = 4096
VALUE = b"v" * 100

Op = Callable[[bytes], Awaitable[Any]]


class Counts:
    """What the instrumented pass counts."""

    def __init__(self) -> None:
        self.iterations = 0
        self.writes = 0
        self.written = 0


COUNTS = Counts()


class _CountingTransport:
    """Forwards everything to the transport and counts ``write`` calls and bytes."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        COUNTS.writes += 1
        COUNTS.written += len(data)
        self._transport.write(data)

    def writelines(self, lines: list[bytes]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _swap_transport(protocol: object, transport: Any) -> None:
    """Make ``protocol`` write through a counting proxy of ``transport``."""
    proxy = _CountingTransport(transport)
    names = set(getattr(protocol, "__dict__", {}))
    for cls in type(protocol).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        names.update([slots] if isinstance(slots, str) else slots)
    for name in names:
        value = getattr(protocol, name, None)
        if value is None:
            continue
        if value is transport:
            setattr(protocol, name, proxy)
        elif callable(value) and value == transport.write:
            setattr(protocol, name, proxy.write)


def _instrumented(base: type[asyncio.AbstractEventLoop]) -> type[asyncio.AbstractEventLoop]:
    """A subclass of ``base`` whose connections write through counting proxies."""

    class Loop(base):  # type: ignore[valid-type, misc]
        async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
            transport, protocol = await super().create_connection(*args, **kwargs)
            _swap_transport(protocol, transport)
            return transport, protocol

        def _run_once(self) -> None:  # only the stock loop has it
            COUNTS.iterations += 1
            super()._run_once()

    return Loop


def loop_class(name: str) -> type[asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop

        return uvloop.Loop
    return asyncio.SelectorEventLoop


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def open_client(
    client: str, port: int, max_conns: int | None
) -> tuple[Op, Op, Callable[[], Awaitable[None]]]:
    if client == "ceiling":
        from bench.ceiling import CeilingClient

        probe = await CeilingClient.connect("127.0.0.1", port, max_conns or 2)

        async def probe_set(key: bytes) -> Any:
            return await probe.set(key, VALUE)

        return probe.get, probe_set, probe.close
    import emcache

    kwargs: dict[str, Any] = {} if max_conns is None else {"max_connections": max_conns}
    ours = await emcache.create_client([emcache.MemcachedHostAddress("127.0.0.1", port)], **kwargs)

    async def ours_set(key: bytes) -> None:
        await ours.set(key, VALUE)

    return ours.get, ours_set, ours.close


async def run_ops(op: Op, ops: int, tasks: int, latencies: list[float] | None = None) -> None:
    """``ops`` operations in all, from ``tasks`` tasks."""
    perf = time.perf_counter

    async def worker(start: int, count: int) -> None:
        index = start
        for _ in range(count):
            key = KEYS[index % len(KEYS)]
            index += 7
            if latencies is None:
                await op(key)
            else:
                began = perf()
                await op(key)
                latencies.append(perf() - began)

    if tasks == 1:
        await worker(0, ops)
    else:
        await asyncio.gather(*(worker(i * 31, ops // tasks) for i in range(tasks)))


async def transient_bytes(op: Op, ops: int, tasks: int) -> float:
    """Peak traced memory per operation above the level before it (see the module)."""
    if tasks == 1:
        peaks = []
        for i in range(ops):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            await op(KEYS[i * 7 % len(KEYS)])
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        return statistics.median(peaks)
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    await run_ops(op, ops, tasks)
    return (tracemalloc.get_traced_memory()[1] - before) / tasks


async def measure(
    client: str, port: int, max_conns: int | None, ops: int, mode: str, concurrency: list[int]
) -> Any:
    """One figure per operation and task count, each from a client of its own.

    A fresh client per figure: a pool grown by one load would otherwise serve the next.
    """
    results: dict[tuple[str, int], Any] = {}
    for index in range(2):
        for tasks in concurrency:
            get, set_, close = await open_client(client, port, max_conns)
            op = (get, set_)[index]
            try:
                if not results:
                    for key in KEYS:
                        await set_(key)
                await run_ops(op, 2000, tasks)  # warm up
                results[("get", "set")[index], tasks] = await measure_one(op, ops, tasks, mode)
            finally:
                await close()
    return results


async def measure_one(op: Op, ops: int, tasks: int, mode: str) -> Any:
    count = ops // tasks * tasks
    if mode == "alloc":
        transport_class: Any = asyncio.selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
        transport_class.max_size = _RECV_SIZE
        tracemalloc.start()
        try:
            return await transient_bytes(op, min(count, 2000), tasks)
        finally:
            tracemalloc.stop()
            del transport_class.max_size
    latencies: list[float] = []
    iterations, writes, written = COUNTS.iterations, COUNTS.writes, COUNTS.written
    cpu = cpu_seconds()
    await run_ops(op, count, tasks, latencies if mode == "cpu" and tasks == 1 else None)
    cpu = cpu_seconds() - cpu
    if mode == "cpu":
        p50 = statistics.median(latencies) * 1e6 if latencies else None
        return cpu / count * 1e6, p50
    writes = COUNTS.writes - writes
    return (
        (COUNTS.iterations - iterations) / count,
        writes / count,
        (COUNTS.written - written) / writes if writes else 0.0,
    )


def one_report(args: argparse.Namespace, client: str, loop: str, port: int) -> list[str]:
    base = loop_class(loop)
    passes: dict[str, dict[tuple[str, int], Any]] = {}
    for mode, factory in (("cpu", base), ("count", _instrumented(base)), ("alloc", base)):
        if mode == "alloc" and args.no_alloc:
            passes[mode] = {}
            continue
        with asyncio.Runner(loop_factory=factory) as runner:
            coro = measure(client, port, args.max_connections, args.ops, mode, args.tasks)
            passes[mode] = runner.run(coro)
    lines = []
    for key in passes["cpu"]:
        cpu, p50 = passes["cpu"][key]
        iters, writes, per_write = passes["count"][key]
        name, tasks = key
        iters_text = f"{iters:7.2f}" if loop == "asyncio" else "    n/a"
        p50_text = f"{p50:7.1f}" if p50 is not None else "      -"
        lines.append(
            f"{client:8} {loop:8} {name:4} {tasks:3} {iters_text} {writes:7.3f} {per_write:8.0f}"
            f" {cpu:7.2f} {p50_text} {passes['alloc'].get(key, float('nan')):8.0f}"
        )
    return lines


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--client", nargs="+", default=["ours"], choices=["ours", "ceiling"])
    cli.add_argument("--loop", nargs="+", default=["asyncio"], choices=["asyncio", "uvloop"])
    cli.add_argument("--max-connections", type=int, help="the pool's (or the probe's) size")
    cli.add_argument("--ops", type=int, default=20000, help="operations per measurement")
    cli.add_argument("--port", type=int, help="an already running node on 127.0.0.1")
    cli.add_argument("--tasks", type=int, nargs="+", default=[1, 32], help="concurrent tasks")
    cli.add_argument("--no-alloc", action="store_true", help="skip the tracemalloc pass")
    args = cli.parse_args()
    header = "client   loop     op   tasks iters  writes  B/write  cpu_us  p50_us  alloc_B"
    with node_port(args.port) as port:
        print(header)
        for loop in args.loop:
            for client in args.client:
                for line in one_report(args, client, loop, port):
                    print(line, flush=True)


if __name__ == "__main__":
    main()
