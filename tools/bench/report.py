"""Turn benchmark records into the targets verdict, the markdown tables and the charts.

``python tools/bench/report.py docs/bench/results.json`` renders them again from
a results file without measuring anything.

``results.md`` has two named snippet sections: ``targets`` (the verdict, for
contributors: docs/contributing/performance-targets.md) and ``results`` (the
tables, for users: docs/performance.md). ``chart.png`` is the headline chart,
sized to be read at page width; ``chart-matrix.png`` has every workload, loop
and pool setting.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Record = dict[str, Any]

PEERS = ["emcache-1.3.3", "aiomcache", "memcachio", "pymemcache"]
ASYNC_PEERS = [peer for peer in PEERS if peer != "pymemcache"]
ORDER = ["ours", "ours-compiled", *PEERS, "ceiling"]
TITLES = {
    "set-1": "set, 1 task, 100 B values",
    "set-32": "set, 32 tasks, 100 B values",
    "set-256": "set, 256 tasks, 100 B values",
    "get-1": "get, 1 task, 100 B values",
    "get-32": "get, 32 tasks, 100 B values",
    "get-256": "get, 256 tasks, 100 B values",
    "get-32-10k": "get, 32 tasks, 10 KB values",
    "get_many-100x4": "get_many of 100 keys over 4 nodes, 16 tasks (ops = calls)",
    "autobatch-get-32": "get with autobatching=True, 32 tasks, 100 B values",
    "get-8-100k": "get, 8 tasks, 100 KB values",
    "set-8-100k": "set, 8 tasks, 100 KB values",
    "get-8-1m": "get, 8 tasks, 1 MB values",
    "set-8-1m": "set, 8 tasks, 1 MB values",
}
LARGE = ["get-8-100k", "set-8-100k", "get-8-1m", "set-8-1m"]
LOOP_NAMES = {"asyncio": "asyncio", "uvloop": "uvloop", "threads": "threads"}
SETTING_NAMES = {"default": "default", "mc32": "32 conns"}


class Index:
    """Summaries of the records by (workload, loop, setting, client)."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.by_key = {
            (r["workload"], r["loop"], r["setting"], r["client"]): r["summary"] for r in records
        }

    def get(self, workload: str, loop: str, setting: str, client: str) -> dict[str, Any] | None:
        if client == "pymemcache":
            loop = "threads"  # no event loop: the same figure stands for both loops
        summary = self.by_key.get((workload, loop, setting, client))
        return summary if summary and "ops_per_s" in summary else None

    def rate(self, workload: str, loop: str, setting: str, client: str) -> float | None:
        summary = self.get(workload, loop, setting, client)
        return None if summary is None else float(summary["ops_per_s"])


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _fmt_ratio(value: float | None, threshold: float | None = None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.2f}x"
    if threshold is not None and text == f"{threshold:.2f}x":
        text = f"{value:.3f}x"  # do not print a miss as the threshold itself
    return text


def _verdict(rows: list[tuple[str, bool | None]]) -> tuple[str, bool | None]:
    known = [ok for _, ok in rows if ok is not None]
    met = None if not known or len(known) < len(rows) else all(known)
    return "; ".join(text for text, _ in rows), met


def evaluate_targets(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Check the speed targets against one run's records."""
    idx = Index(records)
    targets: list[dict[str, Any]] = []

    def add(text: str, rows: list[tuple[str, bool | None]]) -> None:
        measured, met = _verdict(rows)
        targets.append({"target": text, "measured": measured, "met": met})

    rows: list[tuple[str, bool | None]] = []
    for op in ("get", "set"):
        ours = idx.get(f"{op}-32", "asyncio", "default", "ours")
        r = _ratio(idx.rate(f"{op}-32", "asyncio", "default", "ours"),
                   idx.rate(f"{op}-32", "asyncio", "default", "emcache-1.3.3"))  # fmt: skip
        timeouts = None if ours is None else ours["timeouts"]
        ok = None if r is None or timeouts is None else r >= 4.0 and timeouts == 0
        rows.append((f"{op} {_fmt_ratio(r, 4.0)}, {timeouts} timeouts", ok))
    add("32 tasks, defaults, asyncio: get and set >= 4.0x emcache 1.3.3, zero timeouts", rows)

    rows = []
    for loop in ("asyncio", "uvloop"):
        for op in ("get", "set"):
            r = _ratio(idx.rate(f"{op}-32", loop, "default", "ours"),
                       idx.rate(f"{op}-32", loop, "default", "ceiling"))  # fmt: skip
            rows.append(
                (
                    f"{loop} {op} {'n/a' if r is None else f'{r:.0%}'}",
                    None if r is None else r >= 0.5,
                )
            )
    add("32 tasks, defaults: >= 50% of the ceiling probe, asyncio and uvloop", rows)

    rows = []
    for op in ("get", "set"):
        ours_rate = idx.rate(f"{op}-32", "uvloop", "default", "ours")
        best, best_name = 0.0, "none"
        best_async, async_name = 0.0, "none"
        for peer in PEERS:
            for setting in ("default", "mc32"):
                rate = idx.rate(f"{op}-32", "uvloop", setting, peer)
                name = f"{peer} {SETTING_NAMES[setting]}"
                if rate is not None and rate > best:
                    best, best_name = rate, name
                if rate is not None and rate > best_async and peer != "pymemcache":
                    best_async, async_name = rate, name
        r = _ratio(ours_rate, best or None)
        text = f"{op} {_fmt_ratio(r, 1.5)} of {best_name}"
        if async_name != best_name:
            text += f" ({_fmt_ratio(_ratio(ours_rate, best_async or None))} of {async_name})"
        rows.append((text, None if r is None else r >= 1.5))
    add(
        "uvloop, 32 tasks, ours at defaults: get and set >= 1.5x the best peer at any pool size",
        rows,
    )

    rows = []
    for loop in ("asyncio", "uvloop"):
        for setting in ("default", "mc32"):
            for op in ("get", "set"):
                ours = idx.get(f"{op}-32", loop, setting, "ours")
                fair = [
                    s
                    for p in PEERS
                    if (s := idx.get(f"{op}-32", loop, setting, p))
                    and not s["stalled_tasks"]
                    and not s["timeouts"]
                    and "p99_us" in s
                ]
                lowest = min((float(s["p99_us"]) for s in fair), default=None)
                if ours is None or lowest is None:
                    rows.append((f"{loop}/{SETTING_NAMES[setting]} {op} n/a", None))
                    continue
                text = (
                    f"{loop}/{SETTING_NAMES[setting]} {op} {ours['p99_us']:.0f} vs {lowest:.0f} us"
                )
                rows.append((text, ours["p99_us"] <= lowest))
    add(
        "32 tasks: p99 no worse than the best peer's (peers that stalled tasks or timed out "
        "are left out)",
        rows,
    )

    for workload, target, title in (
        (
            "autobatch-get-32",
            1.3,
            "autobatching get, defaults: >= 1.3x emcache 1.3.3's autobatching",
        ),
        (
            "get_many-100x4",
            1.5,
            "get_many of 100 keys over 4 nodes, defaults: >= 1.5x emcache 1.3.3",
        ),
    ):
        rows = []
        for loop in ("asyncio", "uvloop"):
            peer = idx.rate(workload, loop, "default", "emcache-1.3.3")
            r = _ratio(idx.rate(workload, loop, "default", "ours"), peer)
            text = f"{loop} {_fmt_ratio(r, target)}"
            compiled = _ratio(idx.rate(workload, loop, "default", "ours-compiled"), peer)
            if compiled is not None:
                text += f" (compiled build {_fmt_ratio(compiled, target)})"
            rows.append((text, None if r is None else r >= target))
        add(title, rows)

    rows = []
    for loop in ("asyncio", "uvloop"):
        for op in ("get", "set"):
            workload = f"{op}-1"
            ours = idx.rate(workload, loop, "default", "ours")
            rates = {p: idx.rate(workload, loop, "default", p) for p in ASYNC_PEERS}
            best = max((p for p in ASYNC_PEERS if rates[p]), key=lambda p: rates[p] or 0.0,
                       default="none")  # fmt: skip
            r = _ratio(ours, rates.get(best))
            ceiling = _ratio(ours, idx.rate(workload, loop, "default", "ceiling"))
            ok = None if r is None or ceiling is None else r >= 1.0 and ceiling >= 0.9
            text = f"{loop} {op} {_fmt_ratio(r, 1.0)} of {best}, {_fmt_ratio(ceiling, 0.9)} ceiling"
            rows.append((text, ok))
    add("1 task, sequential get and set: >= 1.0x the best asyncio peer and >= 0.9x the ceiling, "
        "both loops", rows)  # fmt: skip

    rows = []
    for loop in ("asyncio", "uvloop"):
        for tasks in (32, 256):
            for op in ("get", "set"):
                workload = f"{op}-{tasks}"
                r = _ratio(idx.rate(workload, loop, "mc32", "ours"),
                           idx.rate(workload, loop, "default", "ours"))  # fmt: skip
                rows.append((f"{loop} {op} {tasks} tasks {_fmt_ratio(r, 0.9)}",
                             None if r is None else r >= 0.9))  # fmt: skip
    add("max_connections=32: >= 0.9x our own defaults at 32 and 256 tasks (one task uses one "
        "connection whatever the pool)", rows)  # fmt: skip

    rows = []
    for loop in ("asyncio", "uvloop"):
        for op in ("get", "set"):
            workload = f"{op}-256"
            r = _ratio(idx.rate(workload, loop, "default", "ours"),
                       idx.rate(workload, loop, "default", "ceiling"))  # fmt: skip
            text = f"{loop} {op} {_fmt_ratio(r, 0.8)}"
            compiled = _ratio(idx.rate(workload, loop, "default", "ours-compiled"),
                              idx.rate(workload, loop, "default", "ceiling"))  # fmt: skip
            if compiled is not None:
                text += f" (compiled build {_fmt_ratio(compiled, 0.8)})"
            rows.append((text, None if r is None else r >= 0.8))
    add("256 tasks, defaults: >= 0.8x the ceiling probe, both loops", rows)

    rows = []
    for workload in LARGE:
        for loop in ("asyncio", "uvloop"):
            rates = {p: idx.rate(workload, loop, "default", p) for p in PEERS}
            best_name = max((p for p in PEERS if rates[p]), key=lambda p: rates[p] or 0.0,
                            default="none")  # fmt: skip
            r = _ratio(idx.rate(workload, loop, "default", "ours"), rates.get(best_name))
            text = f"{workload} {loop} {_fmt_ratio(r, 1.0)} of {best_name}"
            rows.append((text, None if r is None else r >= 1.0))
    add("100 KB and 1 MB values, 8 tasks, defaults: get and set >= 1.0x the best peer on the "
        "same loop", rows)  # fmt: skip

    mem = idx.get("rss-1m", "asyncio", "default", "ours")
    growth = None if mem is None else mem.get("rss_growth")
    text = "n/a" if growth is None else f"{growth:+.2%}"
    add("memory: resident size grows < 5% over 1M operations after warm-up (median of runs)",
        [(text, None if growth is None else growth < 0.05)])  # fmt: skip
    return targets


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _load_note(meta: dict[str, Any]) -> list[str]:
    busy = meta.get("background_busy_median")
    if busy is None:
        return [""]
    return [
        "",
        f"Other load on the machine just before a run (share of all CPU busy, median over runs): "
        f"{busy:.0%}; highest {meta.get('background_busy_max', 0):.0%}.",
        "",
    ]


def _rerun_note(meta: dict[str, Any]) -> list[str]:
    return [f"Some cells were measured again on {r['date']}: `{r['command']}`." for r in
            meta.get("reruns", [])] + ([""] if meta.get("reruns") else [])  # fmt: skip


def markdown(meta: dict[str, Any], targets: list[dict[str, Any]], records: list[Record]) -> str:
    """The results fragment: a note on the run, one table per workload, then the targets."""
    idx = Index(records)
    out = [
        "<!-- --8<-- [start:results] -->",
        f"Measured {meta['date']} on {meta['machine']}, Python {meta['python']}, memcached and "
        f"the client on the same box. Each figure is the median of {meta['rounds']} round(s) of "
        f"{meta['duration_s']:g} s after {meta['warmup_s']:g} s of warm-up; errors (exceptions "
        "and wrong results) and timeouts are summed over the rounds; *stalled* is the number of "
        "tasks that completed no operation in a measured window. *ours / this* divides our "
        "figure (same loop and pool setting; our defaults for the ceiling row, our asyncio figure "
        "for pymemcache, which runs threads) by the row's. *CPU µs/op* is the client process's "
        "CPU time per operation (memcached's not included).",
        "",
        *_load_note(meta),
        *_rerun_note(meta),
    ]
    workloads = [w for w in TITLES if any(r["workload"] == w for r in records)]
    for workload in workloads:
        out += ["", f"#### {TITLES[workload]}", ""]
        out.append("| loop | pool | client | ops/s | p50 µs | p99 µs | errors | timeouts | stalled "
                   "| CPU µs/op | ours / this |")  # fmt: skip
        out.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for loop in ("asyncio", "uvloop", "threads"):
            for setting in ("default", "mc32"):
                # pymemcache runs threads, no event loop: compared with ours on asyncio.
                ours_loop = "asyncio" if loop == "threads" else loop
                for client in ["pymemcache"] if loop == "threads" else ORDER:
                    s = idx.get(workload, loop, setting, client)
                    if s is None or (client == "pymemcache" and loop != "threads"):
                        continue
                    base_setting = "default" if client == "ceiling" else setting
                    base = idx.rate(workload, ours_loop, base_setting, "ours")
                    ratio = "" if client == "ours" else _fmt_ratio(_ratio(base, s["ops_per_s"]))
                    out.append(
                        f"| {loop} | {SETTING_NAMES[setting]} | {client} "
                        f"| {_num(s['ops_per_s'])} | {_num(s.get('p50_us'))} "
                        f"| {_num(s.get('p99_us'))} | {s['errors']} | {s['timeouts']} "
                        f"| {s['stalled_tasks']} | {_num(s.get('cpu_us_per_op'), 1)} | {ratio} |"
                    )
    failed = [r for r in records if "failed" in r["summary"]]
    if failed:
        out += ["", "Not measured:", ""]
        for r in failed:
            what = f"{r['workload']} / {r['loop']} / {r['setting']} / {r['client']}"
            out.append(f"- {what}: {r['summary']['failed']}")
    out += ["<!-- --8<-- [end:results] -->", "", "<!-- --8<-- [start:targets] -->"]
    out += ["| Target | Measured | Met |", "| --- | --- | --- |"]
    for t in targets:
        met = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
        out.append(f"| {t['target']} | {t['measured']} | {met} |")
    out.append("<!-- --8<-- [end:targets] -->")
    return "\n".join(out) + "\n"


HEADLINE = ["get-1", "get-32", "get-256", "set-32", "set-256", "get-32-10k"]
CHART_LABELS = {
    "ours": "emcache (this project)",
    "ours-compiled": "emcache, compiled protocol",
    "pymemcache": "pymemcache (threads)",
    "ceiling": "ceiling probe (not a client)",
}


def chart(records: list[Record], path: Path) -> None:
    """The headline chart at ``path`` and the full matrix next to it."""
    import matplotlib

    matplotlib.use("Agg")
    headline_chart(records, path)
    matrix_chart(records, path.with_name("chart-matrix.png"))


def headline_chart(records: list[Record], path: Path) -> None:
    """Horizontal bars of thousands of ops/s, stock asyncio, each client's default pool."""
    import matplotlib.pyplot as plt

    idx = Index(records)
    workloads = [w for w in HEADLINE if any(r["workload"] == w for r in records)]
    clients = [c for c in ORDER if any(r["client"] == c for r in records)]
    height = 0.8 / max(1, len(clients))
    fig, ax = plt.subplots(figsize=(8, 1.1 + 1.05 * len(workloads)))
    for i, client in enumerate(clients):
        values = [(idx.rate(w, "asyncio", "default", client) or 0.0) / 1000 for w in workloads]
        ys = [y + (i - (len(clients) - 1) / 2) * height for y in range(len(workloads))]
        label = CHART_LABELS.get(client, client)
        bars = ax.barh(ys, values, height, label=label)
        ax.bar_label(bars, fmt="%.0f", padding=2, fontsize=7)
    ax.set_yticks(range(len(workloads)))
    ax.set_yticklabels([TITLES[w].replace(", 100 B values", "") for w in workloads], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("thousands of operations per second (higher is better)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Stock asyncio loop, each client at its default pool size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def matrix_chart(records: list[Record], path: Path) -> None:
    """Grouped bars of ops/s: one panel per (loop, pool setting), one bar per client."""
    import matplotlib.pyplot as plt

    idx = Index(records)
    workloads = [w for w in TITLES if any(r["workload"] == w for r in records)]
    clients = [c for c in ORDER if any(r["client"] == c for r in records)]
    fig, axes = plt.subplots(2, 2, figsize=(14, 8), sharey=True)
    width = 0.8 / max(1, len(clients))
    for row, loop in enumerate(("asyncio", "uvloop")):
        for col, setting in enumerate(("default", "mc32")):
            ax = axes[row][col]
            for i, client in enumerate(clients):
                values = [idx.rate(w, loop, setting, client) or 0.0 for w in workloads]
                xs = [x + (i - (len(clients) - 1) / 2) * width for x in range(len(workloads))]
                ax.bar(xs, values, width, label=client)
            ax.set_yscale("log")
            ax.set_title(f"{loop}, pool {SETTING_NAMES[setting]}")
            ax.set_xticks(range(len(workloads)))
            ax.set_xticklabels(workloads, rotation=30, ha="right", fontsize=8)
            ax.grid(axis="y", alpha=0.3)
            if col == 0:
                ax.set_ylabel("ops/s (log)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(clients), bbox_to_anchor=(0.5, 0.95))
    fig.suptitle("memcached clients, ops/s (higher is better; pymemcache uses threads)")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str]) -> int:
    source = (
        Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "docs/bench/results.json"
    )
    doc = json.loads(source.read_text())
    targets = evaluate_targets(doc["results"])
    doc["targets"] = targets
    source.write_text(json.dumps(doc, indent=1) + "\n")
    (source.parent / "results.md").write_text(markdown(doc["meta"], targets, doc["results"]))
    chart(doc["results"], source.parent / "chart.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
