"""What ``emcache.otel`` costs: throughput of the 32-task bench with and without it.

``hatch run bench:otel`` (or ``hatch run python -m bench.otel_overhead``) starts one
memcached node, then runs ``worker.py``'s workloads for our client in a subprocess per
mode, the modes taking turns within each round so that drift of the machine hits them
alike; each figure is the median over the rounds. Modes:

* ``off``: emcache.otel never imported (the baseline);
* ``no-sdk``: ``emcache.otel.instrument()`` called with no SDK configured, as a service
  that ships the extra but does not export telemetry (it wraps nothing);
* ``api-noop``: the wrappers forced on over the API's no-op tracer and meter, which is
  what ``no-sdk`` avoids;
* ``sdk-metrics``, ``sdk-traces``, ``sdk``: the SDK with in-memory exporters, with
  metrics only, traces only (batch span processor), and both;
* ``sdk-sampled``: both, with 1% of the traces sampled (``ParentBased(TraceIdRatioBased)``).

Prints a Markdown table of the median throughput and of the client's CPU time per
operation (less sensitive than throughput to other work on the machine); ``--json``
adds the raw results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

MODES = ["off", "no-sdk", "api-noop", "sdk-metrics", "sdk-traces", "sdk", "sdk-sampled"]
WORKLOADS = ["get-32", "set-32", "autobatch-get-32"]


def configure(mode: str) -> None:
    """Set up OpenTelemetry in this (child) process as ``mode`` says."""
    if mode == "off":
        return
    import emcache.otel

    if mode == "no-sdk":
        assert not emcache.otel.instrument()
        return
    if mode == "api-noop":
        from opentelemetry import metrics, trace

        from emcache.otel._install import install
        from emcache.otel._telemetry import Telemetry

        meter = metrics.NoOpMeter("emcache")
        install(Telemetry(trace.NoOpTracer(), meter, record_keys=False), meter)
        return
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    tracer_provider = meter_provider = None
    if mode in ("sdk-traces", "sdk", "sdk-sampled"):
        sampler = ParentBased(TraceIdRatioBased(0.01 if mode == "sdk-sampled" else 1.0))
        tracer_provider = TracerProvider(sampler=sampler)
        tracer_provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
    if mode in ("sdk-metrics", "sdk", "sdk-sampled"):
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    assert emcache.otel.instrument(
        tracer_provider=tracer_provider or NoOpTracerProvider(),
        meter_provider=meter_provider or NoOpMeterProvider(),
    )


def child(argv: list[str]) -> int:
    """``--child MODE worker-args...``: configure, then run one worker measurement."""
    from bench import worker

    configure(argv[0])
    return int(worker.main(argv[1:]))


def measure(mode: str, workload: str, node: str, duration: float) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.otel_overhead",
        "--child",
        mode,
        "--client",
        "ours",
        "--workload",
        workload,
        "--nodes",
        node,
        "--duration",
        str(duration),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} {workload} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--modes", nargs="+", default=MODES, choices=MODES)
    parser.add_argument("--workloads", nargs="+", default=WORKLOADS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from emcache_testing import MemcachedLauncher

    rates: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    with MemcachedLauncher() as launcher:
        [node] = launcher.start(1, threads=2)
        address = f"{node.host}:{node.port}"
        for number in range(args.rounds):
            turn = args.modes[number % len(args.modes) :] + args.modes[: number % len(args.modes)]
            for workload in args.workloads:
                for mode in turn:
                    result = measure(mode, workload, address, args.duration)
                    rates.setdefault((workload, mode), []).append(result["ops_per_s"])
                    cpu.setdefault((workload, mode), []).append(result["cpu_us_per_op"])
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print("ops/s (median)\n")
    print(table(rates, args.modes, args.workloads, "{:,.0f}"))
    print("\nclient CPU per operation, us (median)\n")
    print(table(cpu, args.modes, args.workloads, "{:.1f}"))
    if args.json:
        raw = {
            f"{w}|{m}": {"ops_per_s": r, "cpu_us_per_op": cpu[(w, m)]}
            for (w, m), r in rates.items()
        }
        print(json.dumps(raw, indent=1))
    return 0


def table(
    figures: dict[tuple[str, str], list[float]], modes: list[str], workloads: list[str], fmt: str
) -> str:
    """The median per workload and mode, and its change against ``off``."""
    lines = [
        "| workload | " + " | ".join(modes) + " |",
        "| --- | " + " | ".join("---:" for _ in modes) + " |",
    ]
    for workload in workloads:
        base = statistics.median(figures[(workload, "off")]) if "off" in modes else None
        cells = []
        for mode in modes:
            median = statistics.median(figures[(workload, mode)])
            cell = fmt.format(median)
            if base and mode != "off":
                cell += f" ({median / base - 1:+.1%})"
            cells.append(cell)
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2:]))
    sys.exit(main())
