"""What the side-by-side benchmarks share (``herd.py``, ``meta.py``): options and rounds.

Each compares two ways of doing one thing in alternating rounds (A B, B A, ...), so
that drift of the machine hits both sides alike, and reports the median of each
figure over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["alternating_medians", "parser"]

M = TypeVar("M")


def parser(doc: str) -> argparse.ArgumentParser:
    """The options every side-by-side benchmark takes; a script adds its own."""
    options = argparse.ArgumentParser(description=doc.splitlines()[0])
    options.add_argument("--seconds", type=float, default=2.0)
    options.add_argument("--rounds", type=int, default=5)
    options.add_argument("--callers", type=int, default=32)
    options.add_argument("--connections", type=int, default=2)
    return options


def alternating_medians(
    pair: Sequence[tuple[str, M]], run: Callable[[M], tuple[float, float]], rounds: int
) -> dict[str, tuple[float, float]]:
    """``run`` each side of ``pair`` once a round, in turns; the medians of its two figures."""
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in pair}
    for number in range(rounds):
        for name, measure in pair if number % 2 == 0 else pair[::-1]:
            rows[name].append(run(measure))
    return {
        name: (statistics.median(a for a, _ in r), statistics.median(b for _, b in r))
        for name, r in rows.items()
    }
