"""Benchmark of the emcache_protocol parser and encoder against emcache 1.3.3's.

Run from the workspace root::

    hatch run python tools/bench/protocol.py

Four workloads, each timed in CPU time as the best of ``--repeat`` runs in each
of ``--rounds`` rounds (the two halves alternate between rounds):

1. ``get1``: N single-value get replies, each fed as its own chunk.
2. ``get4k``: the same replies as one pipelined stream fed in 4 KB chunks.
3. ``multi100``: a 100-key multi-get reply, fed as one chunk, parsed ``--multi`` times.
4. ``encode``: encoding N set requests (key validation included).

A third column, ``compiled``, runs the same code as ``ours`` with the compiled build
of emcache-protocol (the venv of ``bench.compiled``, built on first use;
``--no-compiled`` leaves it out).

The peer half runs in the peer's own virtualenv (its import name, ``emcache``,
clashes with ours), driven through its compiled parser classes the way its
client uses them: a new parser per request, then its result lists are read.
The peer cannot parse several replies from one chunk (one request in flight
per connection), so ``get4k`` has no peer figure. For ``encode`` the peer's
encoder is an ``async`` method; the cost of creating and finishing an empty
coroutine of the same shape is measured and subtracted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

VALUE = b"x" * 100
CHUNK = 4096
MULTI_KEYS = 100


def workload(n: int) -> dict[str, Any]:
    """The keys and reply bytes every workload uses, identical on both sides."""
    keys = [b"key:%08d" % i for i in range(n)]
    replies = [b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (k, len(VALUE), VALUE) for k in keys]
    multi_keys = keys[:MULTI_KEYS]
    multi = b"".join(b"VALUE %s 0 %d\r\n%s\r\n" % (k, len(VALUE), VALUE) for k in multi_keys)
    return {"keys": keys, "replies": replies, "multi_keys": multi_keys, "multi": multi + b"END\r\n"}


def best_ns(run: Callable[[], None], repeat: int) -> int:
    """The fastest of ``repeat`` runs, in CPU nanoseconds, with the collector paused.

    CPU time of this process, not wall time: the figures stay comparable on a
    machine where other work competes for the cores.
    """
    best = None
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        start = time.process_time_ns()
        run()
        elapsed = time.process_time_ns() - start
        gc.enable()
        best = elapsed if best is None else min(best, elapsed)
    assert best is not None
    return best


def ours(n: int, multi: int, repeat: int) -> dict[str, float]:
    """ns per operation of emcache_protocol."""
    from emcache_protocol import NEED_DATA, ResponseParser, retrieval_command, storage_command

    data = workload(n)
    replies = data["replies"]
    # The requests are encoded beforehand: the parser is measured, not the encoder.
    requests = [retrieval_command(b"get", (k,)) for k in data["keys"]]

    def get1() -> None:
        parser = ResponseParser()
        receive, next_reply = parser.receive_data, parser.next_reply
        for reply, request in zip(replies, requests, strict=True):
            receive(reply)
            next_reply(request)

    stream = b"".join(replies)
    chunks = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]

    def get4k() -> None:
        parser = ResponseParser()
        receive, next_reply = parser.receive_data, parser.next_reply
        index = 0
        for chunk in chunks:
            receive(chunk)
            while index < n:
                if next_reply(requests[index]) is NEED_DATA:
                    break
                index += 1
        assert index == n

    multi_reply = data["multi"]
    multi_request = retrieval_command(b"get", data["multi_keys"])

    def multi100() -> None:
        parser = ResponseParser()
        receive, next_reply = parser.receive_data, parser.next_reply
        for _ in range(multi):
            receive(multi_reply)
            next_reply(multi_request)

    keys = data["keys"]

    def encode() -> None:
        for key in keys:
            storage_command(b"set", key, VALUE, 0, 0)

    check = ResponseParser()
    check.receive_data(multi_reply)
    values = check.next_reply(multi_request)
    assert isinstance(values, list)
    assert len(values) == MULTI_KEYS
    return {
        "get1": best_ns(get1, repeat) / n,
        "get4k": best_ns(get4k, repeat) / n,
        "multi100": best_ns(multi100, repeat) / multi,
        "encode": best_ns(encode, repeat) / n,
    }


def peer(n: int, multi: int, repeat: int) -> dict[str, float]:
    """ns per operation of emcache 1.3.3 (run inside the peer's virtualenv)."""
    from emcache._cython import cyemcache  # type: ignore[import-not-found]
    from emcache.protocol import MemcacheAsciiProtocol  # type: ignore[import-not-found]

    class Done:
        """Stands for the asyncio future the peer's parser resolves."""

        __slots__ = ("count",)

        def __init__(self) -> None:
            self.count = 0

        def set_result(self, result: object) -> None:
            self.count += 1

    data = workload(n)
    replies = data["replies"]
    multi_parser = cyemcache.AsciiMultiLineParser

    def get1() -> None:
        done = Done()
        for reply in replies:
            parser = multi_parser(done)
            parser.feed_data(reply)
            parser.keys(), parser.values(), parser.flags(), parser.cas(), parser.client_error()
        assert done.count == n

    multi_reply = data["multi"]

    def multi100() -> None:
        done = Done()
        for _ in range(multi):
            parser = multi_parser(done)
            parser.feed_data(multi_reply)
            parser.keys(), parser.values(), parser.flags(), parser.cas(), parser.client_error()
        assert done.count == multi
        assert len(parser.values()) == MULTI_KEYS

    class Transport:
        def write(self, data: bytes) -> None:
            pass

    protocol = object.__new__(MemcacheAsciiProtocol)
    protocol._transport = Transport()
    keys = data["keys"]
    is_key_valid = cyemcache.is_key_valid
    storage = protocol.storage_command

    def encode() -> None:
        for key in keys:
            if is_key_valid(key) is False:
                raise ValueError(key)
            try:  # noqa: SIM105 - a with-statement would add its own cost to the timing
                storage(b"set", key, VALUE, 0, 0, True, None).send(None)
            except StopIteration:
                pass

    async def empty(*args: object) -> None:
        return None

    def coroutine_overhead() -> None:
        for key in keys:
            try:  # noqa: SIM105 - same shape as the measured loop
                empty(b"set", key, VALUE, 0, 0, True, None).send(None)
            except StopIteration:
                pass

    overhead = best_ns(coroutine_overhead, repeat) / n
    return {
        "get1": best_ns(get1, repeat) / n,
        "multi100": best_ns(multi100, repeat) / multi,
        "encode": best_ns(encode, repeat) / n - overhead,
        "encode_raw": best_ns(encode, repeat) / n,
    }


def _keep_best(best: dict[str, float], new: dict[str, float]) -> None:
    for name, value in new.items():
        best[name] = min(value, best.get(name, value))


def _ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base


def main() -> None:
    """Run both halves and print ns per operation and the ratios."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("-n", type=int, default=100_000, help="replies / requests per run")
    cli.add_argument("--multi", type=int, default=2_000, help="100-key replies per run")
    cli.add_argument("--repeat", type=int, default=5, help="runs per round; the best counts")
    cli.add_argument("--rounds", type=int, default=3, help="alternations of the two halves")
    cli.add_argument("--peer-python", help="python of the peer venv (default: .peers/)")
    cli.add_argument("--no-compiled", action="store_true", help="leave the compiled build out")
    cli.add_argument("--as-peer", action="store_true", help=argparse.SUPPRESS)
    cli.add_argument("--as-ours", action="store_true", help=argparse.SUPPRESS)
    args = cli.parse_args()
    if args.as_peer or args.as_ours:
        run = peer if args.as_peer else ours
        print(json.dumps(run(args.n, args.multi, args.repeat)))
        return
    # Not at the top: this file also runs in other venvs, where tools/ is not on the path.
    import peers
    from bench import compiled

    peer_python = args.peer_python or str(peers.python_of(peers.EMCACHE_1))
    compiled_python = None if args.no_compiled else str(compiled.ensure())

    def elsewhere(python: str, mode: str) -> dict[str, float]:
        command = [python, os.path.abspath(__file__), mode, "-n", str(args.n)]
        command += ["--multi", str(args.multi), "--repeat", str(args.repeat)]
        done = subprocess.run(
            command, check=True, capture_output=True, text=True, env=peers.peer_env()
        )
        result: dict[str, float] = json.loads(done.stdout)
        return result

    # Alternate the halves so that all see the same machine conditions.
    mine: dict[str, float] = {}
    built: dict[str, float] = {}
    theirs: dict[str, float] = {}
    for _ in range(args.rounds):
        _keep_best(mine, ours(args.n, args.multi, args.repeat))
        if compiled_python is not None:
            _keep_best(built, elsewhere(compiled_python, "--as-ours"))
        if os.path.exists(peer_python):
            _keep_best(theirs, elsewhere(peer_python, "--as-peer"))
    rows = [
        ("get1", "single-value get reply, one chunk per reply", "ns/reply"),
        ("get4k", "single-value get replies, 4 KB chunks", "ns/reply"),
        ("multi100", "100-key multi-get reply", "ns/reply"),
        ("encode", "encode a set request (100-byte value)", "ns/request"),
    ]
    runs = args.repeat * args.rounds
    print(f"python {sys.version.split()[0]}, n={args.n}, multi={args.multi}, best of {runs} runs")
    heads = ["ours", "compiled", "1.3.3", "ours/1.3.3", "compiled/1.3.3"]
    print(f"| {'workload':<44} | {'unit':<10} | " + " | ".join(f"{h:>9}" for h in heads) + " |")
    print(f"|{'-' * 46}|{'-' * 12}|" + "|".join("-" * (max(9, len(h)) + 2) for h in heads) + "|")
    for name, label, unit in rows:
        peer_ns = theirs.get(name)
        cells = [mine[name], built.get(name), peer_ns]
        cells += [_ratio(mine[name], peer_ns), _ratio(built.get(name), peer_ns)]
        texts = [f"{'n/a':>{max(9, len(h))}}" for h in heads]
        for index, value in enumerate(cells):
            if value is not None:
                width = max(9, len(heads[index]))
                texts[index] = f"{value:{width}.0f}" if index < 3 else f"{value:{width}.2f}"
        print(f"| {label:<44} | {unit:<10} | " + " | ".join(texts) + " |")
    if "encode_raw" in theirs:
        print(f"(1.3.3 encode including its coroutine: {theirs['encode_raw']:.0f} ns/request)")


if __name__ == "__main__":
    main()
