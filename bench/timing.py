"""Tiny timing helpers shared by the benchmarks: repeat, median, p95, a table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class Row:
    case: str
    samples_ms: list[float]
    budget: str
    floor_ms: float | None = None
    floor_name: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(fn: Callable[[], object], repeat: int = 20, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def print_table(title: str, rows: Sequence[Row]) -> None:
    print(f"\n{title}")
    header = f"{'case':<44} {'median ms':>10} {'p95 ms':>9} {'floor ms':>9} {'ratio':>7}  budget"
    print(header)
    print("-" * len(header))
    for r in rows:
        floor = f"{r.floor_ms:9.2f}" if r.floor_ms is not None else f"{'':>9}"
        ratio = f"{r.median / r.floor_ms:7.2f}" if r.floor_ms else f"{'':>7}"
        print(f"{r.case:<44} {r.median:10.2f} {r.p95:9.2f} {floor} {ratio}  {r.budget}")
    floors = {r.floor_name for r in rows if r.floor_name}
    for name in sorted(floors):
        print(f"  floor: {name}")
