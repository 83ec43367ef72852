"""Run the fault scenarios and hostile-server attacks and print what happened, as a table.

Usage::

    hatch run python tools/fault_report.py            # everything (about a minute)
    hatch run python tools/fault_report.py sigkill    # chosen fault scenarios only
    hatch run python tools/fault_report.py --attacks  # hostile-server attacks only

Each row says what the callers saw (successes, and per error type the count
and the longest wait), how long after the fault ended operations on the
faulted node succeeded again without interruption, and whether any data was
lost or handed to the wrong caller. Fault scenarios come from
``fault_scenarios`` (next to this script); attacks use emcache-testing's ``HostileServer``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import emcache
from emcache_testing import Act, HostileServer, Request
from fault_scenarios import OP_TIMEOUT, SCENARIOS, Outcome, run_scenario

ATTACK_TIMEOUT = 0.5


@dataclass
class Row:
    what: str
    saw: str
    recovery: str
    data: str
    health: str


def outcome_row(outcome: Outcome) -> Row:
    events = ", ".join(e.split()[0] for e in outcome.events) or "none"
    health = f"events: {events}"
    if outcome.notes:
        health += "; " + "; ".join(outcome.notes[:2])
    return Row(
        outcome.name,
        outcome.callers_saw(),
        outcome.recovery_text(),
        outcome.data_text(),
        health,
    )


def _extra(data: bytes) -> object:
    def script(request: Request, honest: bytes) -> list[Act]:
        return [Act(honest + data)]

    return script


ATTACKS: dict[str, object] = {
    "garbage line": [Act(b"HELLO WORLD\r\n")],
    "reply of another kind (STORED to a get)": [Act(b"STORED\r\n")],
    "data longer than its length field": [Act(b"VALUE evil 0 3\r\nabcdef\r\nEND\r\n")],
    "length field of 20 digits": [Act(b"VALUE evil 0 99999999999999999999\r\n")],
    "1 GiB length announced, 64 KiB sent": [Act(b"VALUE evil 0 1073741824\r\n" + b"x" * 65536)],
    "value for a key never asked": [Act(b"VALUE other 0 6\r\nsecret\r\nEND\r\n")],
    "truncated reply, then close": [Act(b"VALUE evil 0 10\r\nabc", close=True)],
    "reset mid-reply": [Act(b"VALUE evil 0 10\r\nab", reset=True)],
    "8 MiB line without end": [Act(flood=8 << 20, flood_byte=b"A")],
    "extra reply after the real one": _extra(b"STORED\r\n"),
    "black hole (request swallowed, no answer ever)": [Act(delay=3600)],
}


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def run_attack(name: str, script: object) -> Row:
    """One attack on a single hostile node; then measure how soon good calls succeed."""
    async with HostileServer() as server:
        client = await emcache.create_client(
            [emcache.MemcachedHostAddress(server.host, server.port)], timeout=ATTACK_TIMEOUT
        )
        try:
            await client.set(b"evil", b"evil-value")
            await client.set(b"good", b"good-value")
            server.attack(b"evil", script)  # type: ignore[arg-type]
            before = rss_mb()
            started = time.monotonic()
            mixed = 0
            try:
                item = await client.get(b"evil")
            except Exception as exc:
                saw = f"{type(exc).__name__} after {1000 * (time.monotonic() - started):.0f} ms"
            else:
                saw = f"own value after {1000 * (time.monotonic() - started):.0f} ms"
                mixed += item is None or item.value != b"evil-value"
            grown = rss_mb() - before
            failed_at = time.monotonic()
            # Recovery: from the failure until 20 good calls in a row succeed (5 s at most).
            streak, failures, recovered_at = 0, 0, None
            while streak < 20 and time.monotonic() - failed_at < 5.0:
                try:
                    good = await client.get(b"good")
                except Exception:
                    streak, recovered_at = 0, None
                    failures += 1
                    continue
                mixed += good is None or good.value != b"good-value"
                if streak == 0:
                    recovered_at = time.monotonic()
                streak += 1
            concurrent = await asyncio.gather(
                *(client.get(b"good") for _ in range(200)), return_exceptions=True
            )
            late = sum(isinstance(r, BaseException) for r in concurrent)
            mixed += sum(
                not isinstance(r, BaseException) and (r is None or r.value != b"good-value")
                for r in concurrent
            )
            dropped = sum(c.closed_by_peer for c in server.connections)
            recovery = (
                "not within 5 s"
                if recovered_at is None
                else f"{1000 * (recovered_at - failed_at):.0f} ms"
            )
            if failures:
                recovery += f" ({failures} later calls failed first)"
            if late:
                recovery += f"; then {late}/200 concurrent calls failed"
            health = f"connections closed by client: {dropped}; RSS +{grown:.1f} MiB"
            return Row(f"hostile: {name}", saw, recovery, f"mixed {mixed}; lost 0", health)
        finally:
            await client.close()


async def run_stats_flood() -> Row:
    """A stats reply of 2 million distinct STAT lines (about 50 MB) that never ends."""
    async with HostileServer() as server:
        address = emcache.MemcachedHostAddress(server.host, server.port)
        client = await emcache.create_client([address], timeout=ATTACK_TIMEOUT)
        try:
            await client.set(b"good", b"good-value")
            chunks = [
                Act(b"".join(b"STAT n%02d_%07d %d\r\n" % (part, i, i) for i in range(100_000)))
                for part in range(20)
            ]
            server.attack(lambda r: r.command == b"stats", chunks)
            before = rss_mb()
            started = time.monotonic()
            try:
                await client.stats(address)
            except Exception as exc:
                saw = f"{type(exc).__name__} after {1000 * (time.monotonic() - started):.0f} ms"
            else:
                saw = "a stats reply"
            last = rss_mb()
            for _ in range(10):
                await asyncio.sleep(0.5)
                now = rss_mb()
                if abs(now - last) < 1:
                    break
                last = now
            failed_at = time.monotonic()
            good = await client.get(b"good")
            mixed = int(good is None or good.value != b"good-value")
            recovery = f"{1000 * (time.monotonic() - failed_at):.0f} ms"
            health = f"RSS +{rss_mb() - before:.0f} MiB kept after the caller gave up"
            return Row("hostile: endless stats reply", saw, recovery, f"mixed {mixed}", health)
        finally:
            await client.close()


def print_table(rows: Sequence[Row]) -> None:
    header = ("fault / attack", "what callers saw", "recovery", "data lost or mixed", "health")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print(f"| {row.what} | {row.saw} | {row.recovery} | {row.data} | {row.health} |")


async def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", choices=[[], *SCENARIOS], default=[])
    parser.add_argument("--attacks", action="store_true", help="hostile-server attacks only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    rows: list[Row] = []
    scenarios = [] if args.attacks else (args.scenarios or list(SCENARIOS))
    for name in scenarios:
        print(f"running {name} ...", file=sys.stderr)
        rows.append(outcome_row(await run_scenario(name)))
    if args.attacks or not args.scenarios:
        for name, script in ATTACKS.items():
            print(f"attack: {name} ...", file=sys.stderr)
            rows.append(await run_attack(name, script))
        print("attack: endless stats reply ...", file=sys.stderr)
        rows.append(await run_stats_flood())
    print(
        f"\nFault scenarios: 16 callers on 3 nodes, operation timeout {OP_TIMEOUT} s, every value "
        "derived from its key and every read checked; recovery is counted from the end of the "
        "fault. 'lost' counts keys written before the fault and never rewritten that were gone "
        "afterwards: a killed or restarted memcached comes back empty, and a node removed by "
        "autodiscovery takes its keys away. Hostile attacks: one scripted fake node, operation "
        f"timeout {ATTACK_TIMEOUT} s; recovery is counted from the failed call.\n"
    )
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
