"""Peak memory allocated while one large value is read, as a multiple of its size.

Measured with ``tracemalloc`` (Python allocations: the chunks read, buffers, the value
handed out), from just before the read to its end, for 100 KB, 1 MB and 10 MB values:

* ``parser``: the sans-IO parser alone, fed the reply in 64 KiB chunks, each made as a
  socket's ``recv`` would make it, so the chunk being parsed counts;
* ``parser into``: the same, but the bytes of the value are written into the parser's
  value buffer, as ``recv_into`` would;
* ``pool``: ``Client.get`` through the real pool from a real memcached (started with
  ``-I 16m`` for the 10 MB value), on asyncio's stock loop and on uvloop.

``hatch run python -m bench.large_memory``; pass ``--sizes`` to choose other sizes.
1.0x would be the value alone; the reply buffer and the chunk being read come on top.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import uvloop

import emcache
from emcache_protocol import NEED_DATA, ReplyKind, Request, ResponseParser
from emcache_testing import MemcachedLauncher

CHUNK = 64 * 1024
KEY = b"large:value"


def traced_peak(run: Callable[[], object]) -> int:
    """Bytes allocated at the peak of ``run()`` over what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = run()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    del result
    return peak


def parse_in_chunks(stream: bytes, *, into: bool) -> object:
    """Read one get reply fed in 64 KiB chunks; ``into`` fills the value buffer directly."""
    parser = ResponseParser()
    request = Request(b"", ReplyKind.RETRIEVAL, [KEY])
    source = memoryview(stream)
    pos = 0
    reply: object = NEED_DATA
    while reply is NEED_DATA:
        view = parser.value_buffer() if into else None
        if view is None:
            parser.receive_data(bytes(source[pos : pos + CHUNK]))  # what recv would allocate
            pos += CHUNK
        else:
            count = min(len(view), CHUNK, len(stream) - pos)
            view[:count] = source[pos : pos + count]
            del view
            parser.value_received(count)
            pos += count
        reply = parser.next_reply(request)
    return reply


def parser_ratio(size: int, *, into: bool) -> float:
    stream = b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (KEY, size, b"v" * size)
    return traced_peak(lambda: parse_in_chunks(stream, into=into)) / size


def pool_ratios(port: int, sizes: list[int], new_loop: Callable[[], Any]) -> list[float]:
    """The peak of one ``get`` of each size through a client at its defaults."""
    loop = new_loop()
    run = loop.run_until_complete
    client = run(emcache.create_client([emcache.MemcachedHostAddress("127.0.0.1", port)]))
    ratios = []
    try:
        for size in sizes:
            run(client.set(KEY, b"v" * size))
            run(client.get(KEY))  # warm: the connections and their buffers exist
            ratios.append(traced_peak(lambda: run(client.get(KEY))) / size)
    finally:
        run(client.close())
        loop.close()
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    args = parser.parse_args(argv)
    sizes: list[int] = args.sizes
    with MemcachedLauncher() as launcher:
        node = launcher.start(1, extra_args=["-I", "16m"])[0]
        stock = pool_ratios(node.port, sizes, asyncio.new_event_loop)
        uv = pool_ratios(node.port, sizes, uvloop.new_event_loop)
    print(f"{'value size':>12} {'parser':>8} {'parser into':>12} {'pool':>8} {'pool uvloop':>12}")
    for size, on_stock, on_uvloop in zip(sizes, stock, uv, strict=True):
        plain = parser_ratio(size, into=False)
        into = parser_ratio(size, into=True)
        print(f"{size:>12,} {plain:>7.2f}x {into:>11.2f}x {on_stock:>7.2f}x {on_uvloop:>11.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
