"""Benchmark emcache side by side with the peer clients and the ceiling probe.

``hatch run bench:run`` starts four memcached nodes with the tools launcher,
makes sure every peer has its virtualenv (``tools/peers.py``), then runs each cell
(workload x event loop x pool setting x client) as a ``worker.py`` subprocess
with that client's interpreter. Rounds are the outer loop and the clients of a
cell take turns within a round (A B C, then B C A, ...), so drift of the machine
hits every client alike; each figure is the median over the rounds.

Writes ``results.json``, ``results.md`` and ``chart.png`` into ``docs/bench/``
(``--quick`` writes into ``.bench/`` unless ``--out`` says otherwise).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peers
from bench import compiled, report
from bench.worker import WORKLOADS
from emcache_testing import MemcachedLauncher

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

CLIENTS = [
    "ours",
    "ours-compiled",
    "emcache-1.3.3",
    "aiomcache",
    "memcachio",
    "pymemcache",
    "ceiling",
]
DEFAULT_WORKLOADS = [w for w in WORKLOADS if w != "rss-1m"]
QUICK_WORKLOADS = ["get-32", "set-32", "autobatch-get-32", "get_many-100x4"]
SETTINGS = {"default": None, "mc32": 32}
LOOPS = ["asyncio", "uvloop"]
PEER_VENV = {"emcache-1.3.3", "aiomcache", "memcachio", "pymemcache"}


@dataclass(frozen=True)
class Cell:
    """One measured combination; ``loop`` is "threads" for pymemcache."""

    workload: str
    loop: str
    setting: str
    client: str

    def key(self) -> str:
        return f"{self.workload}|{self.loop}|{self.setting}|{self.client}"


def applies(workload: str, setting: str, client: str) -> bool:
    """Whether a client takes part in a workload at a pool setting."""
    spec = WORKLOADS[workload]
    if spec.autobatching and client not in ("ours", "ours-compiled", "emcache-1.3.3"):
        return False  # only the emcache clients batch concurrent gets by themselves
    if spec.op == "get_many" and client in ("ceiling", "aiomcache"):
        return False  # neither routes keys over several nodes
    # One task uses one connection whatever the pool; the ceiling is defined on 2 connections.
    return setting == "default" or (spec.tasks > 1 and client != "ceiling")


def plan(args: argparse.Namespace) -> list[list[Cell]]:
    """Groups of cells whose clients take turns; pymemcache joins the stock-loop group."""
    groups: list[list[Cell]] = []
    for workload in args.workloads:
        for setting in args.settings:
            for loop in args.loops:
                group = []
                for client in args.clients:
                    if not applies(workload, setting, client):
                        continue
                    if client == "pymemcache":
                        if loop != args.loops[0]:
                            continue
                        group.append(Cell(workload, "threads", setting, client))
                    else:
                        group.append(Cell(workload, loop, setting, client))
                if group:
                    groups.append(group)
    return groups


def python_for(client: str, ours_python: str) -> str:
    if client in PEER_VENV:
        return str(peers.python_of(client))
    if client == "ours-compiled":  # our packages, emcache-protocol compiled (bench.compiled)
        return str(compiled.python())
    return ours_python


def run_cell(cell: Cell, args: argparse.Namespace, nodes: str) -> dict[str, Any]:
    cmd = [
        python_for(cell.client, args.ours_python),
        str(HERE / "worker.py"),
        f"--client={cell.client}",
        f"--workload={cell.workload}",
        f"--loop={cell.loop}",
        f"--nodes={nodes}",
        f"--duration={args.duration}",
        f"--warmup={args.warmup}",
    ]
    max_conns = SETTINGS[cell.setting]
    if max_conns is not None:
        cmd.append(f"--max-connections={max_conns}")
    limit = args.duration + args.warmup + 60 + (600 if WORKLOADS[cell.workload].count else 0)
    try:
        env = peers.peer_env() if cell.client in PEER_VENV | {"ours-compiled"} else None
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, env=env)
    except subprocess.TimeoutExpired:
        return {"failed": f"no result within {limit:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        err = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
        where = [line.strip() for line in err if line.lstrip().startswith("File ")][-1:]
        return {"failed": " / ".join([err[-1], *where])}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def busy_fraction(seconds: float = 0.15) -> float:
    """Share of the machine's CPU time spent busy (by anything) over a short sample."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def wait_quiet(limit: float, threshold: float = 0.2) -> float:
    """Wait (at most ``limit`` s) for other work to leave the machine; return the busy share."""
    deadline = time.monotonic() + limit
    busy = busy_fraction()
    while busy > threshold and time.monotonic() < deadline:
        time.sleep(0.5)
        busy = busy_fraction()
    return busy


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of the rounds for rates and latencies; totals for errors and timeouts."""
    ok = [r for r in rounds if "ops_per_s" in r]
    if not ok:
        reason = next((r.get("failed") or r.get("skipped") for r in rounds), "no result")
        return {"failed": reason}
    out: dict[str, Any] = {"rounds": len(ok)}
    for name in ("ops_per_s", "p50_us", "p99_us", "cpu_us_per_op", "rss_growth"):
        values = [r[name] for r in ok if name in r]
        if values:
            out[name] = statistics.median(values)
    for name in ("errors", "timeouts", "exceptions", "misses"):
        out[name] = sum(r.get(name, 0) for r in ok)
    out["stalled_tasks"] = max(r.get("stalled_tasks", 0) for r in ok)
    out["background_busy"] = max(r.get("background_busy", 0.0) for r in ok)
    out["first_error"] = next((r["first_error"] for r in ok if r.get("first_error")), None)
    out["version"] = ok[0].get("version")
    return out


def ours_available(python: str) -> bool:
    code = "import emcache, sys; sys.exit(0 if hasattr(emcache, 'create_client') else 1)"
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def estimate(groups: list[list[Cell]], args: argparse.Namespace) -> float:
    per_cell = float(args.duration + args.warmup) + 0.2  # + start-up and preload
    return float(sum(len(g) for g in groups) * args.rounds * per_cell)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS))
    parser.add_argument("--clients", nargs="+", choices=CLIENTS, default=CLIENTS)
    parser.add_argument("--loops", nargs="+", choices=LOOPS, default=LOOPS)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 1.2)")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (default 0.4)")
    parser.add_argument("--rounds", type=int, help="runs per cell, median kept (default 3)")
    parser.add_argument("--quick", action="store_true", help="32-task workloads, 1 short round")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=3.0,
        help="seconds to wait at most, before each run, for other load on the machine to go",
    )
    parser.add_argument(
        "--quiet-budget",
        type=float,
        help="total seconds of such waiting in the whole run (default 30; 15 with --quick)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the 1M-operation RSS check")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the measured cells in the output's existing results.json",
    )
    parser.add_argument("--out", type=Path, help="output folder (default docs/bench)")
    parser.add_argument(
        "--ours-python", default=sys.executable, help="interpreter with our emcache"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.workloads = args.workloads or (QUICK_WORKLOADS if quick else DEFAULT_WORKLOADS)
    args.duration = args.duration or (1.0 if quick else 1.2)
    args.warmup = args.warmup if args.warmup is not None else (0.3 if quick else 0.4)
    args.rounds = args.rounds or (1 if quick else 3)
    args.out = args.out or (ROOT / ".bench" if quick else ROOT / "docs" / "bench")
    if args.quiet_budget is None:
        args.quiet_budget = 15.0 if quick else 30.0
    args.memory = not (quick or args.no_memory) and "ours" in args.clients
    return args


def log(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wanted_peers = sorted(PEER_VENV & set(args.clients))
    for name in wanted_peers:
        peers.ensure(peers.PEERS[name])
    if "ours-compiled" in args.clients:
        compiled.ensure()
    if "ours" in args.clients and not ours_available(args.ours_python):
        log(f"our emcache has no create_client in {args.ours_python}: measuring the others only")
        args.clients = [c for c in args.clients if c != "ours"]
        args.memory = False
    groups = plan(args)
    total = estimate(groups, args) + (12 * args.rounds if args.memory else 0) + args.quiet_budget
    log(f"{sum(map(len, groups))} cells x {args.rounds} rounds, about {total / 60:.1f} min")

    started = time.monotonic()
    raw: dict[str, list[dict[str, Any]]] = {}
    cells: dict[str, Cell] = {}
    with MemcachedLauncher() as launcher:
        procs = launcher.start(4)
        all_nodes = ",".join(f"{p.host}:{p.port}" for p in procs)
        quiet_budget = args.quiet_budget
        for rnd in range(args.rounds):
            for group in groups:
                shift = rnd % len(group)
                for cell in group[shift:] + group[:shift]:
                    spec = WORKLOADS[cell.workload]
                    nodes = all_nodes if spec.nodes > 1 else all_nodes.split(",")[0]
                    waited = time.monotonic()
                    busy = wait_quiet(min(args.quiet_wait, quiet_budget))
                    quiet_budget = max(0.0, quiet_budget - (time.monotonic() - waited))
                    result = run_cell(cell, args, nodes)
                    result["background_busy"] = busy
                    raw.setdefault(cell.key(), []).append(result)
                    cells[cell.key()] = cell
                    log(f"[{rnd + 1}/{args.rounds}] {cell.key():48} {brief(result)}")
        if args.memory:
            cell = Cell("rss-1m", "asyncio", "default", "ours")
            cells[cell.key()] = cell
            for rnd in range(args.rounds):
                result = run_cell(cell, args, all_nodes.split(",")[0])
                raw.setdefault(cell.key(), []).append(result)
                log(f"[{rnd + 1}/{args.rounds}] {cell.key():48} {brief(result)}")

    records = [
        {**vars(cells[k]), "summary": summarize(v), "runs": v} for k, v in sorted(raw.items())
    ]
    loads: list[float] = [
        r["background_busy"] for runs in raw.values() for r in runs if "background_busy" in r
    ]
    meta = {
        "background_busy_median": statistics.median(loads) if loads else None,
        "background_busy_max": max(loads) if loads else None,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rounds": args.rounds,
        "elapsed_s": round(time.monotonic() - started, 1),
        "command": "hatch run bench:run " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    if args.merge and (args.out / "results.json").exists():
        meta, records = merge(args.out / "results.json", meta, records)
    write_outputs(args.out, meta, records)
    log(f"done in {meta['elapsed_s']} s: {args.out}")
    return 0


def merge(
    path: Path, meta: dict[str, Any], records: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The earlier run's records with the cells measured now replaced; notes the rerun in meta."""
    earlier = json.loads(path.read_text())

    def key(r: dict[str, Any]) -> tuple[str, ...]:
        return (r["workload"], r["loop"], r["setting"], r["client"])

    fresh = {key(r) for r in records}
    kept = [r for r in earlier["results"] if key(r) not in fresh]
    merged_meta = dict(earlier["meta"])
    reruns = [*merged_meta.get("reruns", []), {"date": meta["date"], "command": meta["command"]}]
    merged_meta["reruns"] = reruns
    return merged_meta, sorted([*kept, *records], key=key)


def brief(result: dict[str, Any]) -> str:
    if "ops_per_s" not in result:
        return str(result.get("failed") or result.get("skipped"))
    text = f"{result['ops_per_s']:>10,.0f} ops/s"
    if "p99_us" in result:
        text += f"  p99 {result['p99_us']:>8,.0f} us"
    extra = [f"{k}={result[k]}" for k in ("errors", "timeouts", "stalled_tasks") if result.get(k)]
    if "rss_growth" in result:
        extra.append(f"rss {result['rss_growth']:+.2%}")
    return text + ("  " + " ".join(extra) if extra else "")


def write_outputs(out: Path, meta: dict[str, Any], records: Iterable[dict[str, Any]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    records = list(records)
    targets = report.evaluate_targets(records)
    document = {"meta": meta, "targets": targets, "results": records}
    (out / "results.json").write_text(json.dumps(document, indent=1) + "\n")
    (out / "results.md").write_text(report.markdown(meta, targets, records))
    report.chart(records, out / "chart.png")


if __name__ == "__main__":
    sys.exit(main())
