"""Tiny timing helpers shared by the benchmarks: repeat, interleave, median, p95, a table."""

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
    note: str = ""
    """Printed after the budget (a crash, a count); a row without samples shows it instead."""

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples_ms) if self.samples_ms else None

    @property
    def p95(self) -> float | None:
        return p95(self.samples_ms)

    @property
    def ratio(self) -> float | None:
        median = self.median
        if median is None or not self.floor_ms:
            return None
        return median / self.floor_ms


def median(samples: Sequence[float]) -> float | None:
    """The median, or None for no samples (a case that crashed or timed out)."""
    return statistics.median(samples) if samples else None


def p95(samples: Sequence[float]) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
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


@dataclass
class Case:
    """One thing to time; ``before`` runs untimed before each sample (e.g. clearing a cache)."""

    name: str
    run: Callable[[], object]
    before: Callable[[], object] | None = None


def interleaved(cases: Sequence[Case], repeat: int = 20, warmup: int = 2) -> dict[str, list[float]]:
    """Samples of every case, taken in rounds of one sample each.

    On a shared machine the load changes from second to second; timing a
    product and its floor in separate loops lets a burst of someone else's
    work land on one of them only. Here each round times every case once, and
    the order alternates between rounds so that no case always runs right
    after the same neighbour (warm caches, a pending garbage collection).
    """
    samples: dict[str, list[float]] = {case.name: [] for case in cases}
    for round_number in range(warmup + repeat):
        order = cases if round_number % 2 == 0 else list(reversed(cases))
        for case in order:
            if case.before is not None:
                case.before()
            start = time.perf_counter()
            case.run()
            elapsed = (time.perf_counter() - start) * 1000
            if round_number >= warmup:
                samples[case.name].append(elapsed)
    return samples


def fmt(value: float | None, width: int = 10, digits: int = 2) -> str:
    return f"{value:{width}.{digits}f}" if value is not None else f"{'—':>{width}}"


def print_table(title: str, rows: Sequence[Row]) -> None:
    print(f"\n{title}")
    header = f"{'case':<52} {'median ms':>10} {'p95 ms':>9} {'floor ms':>9} {'ratio':>7}  budget"
    print(header)
    print("-" * len(header))
    for r in rows:
        if not r.samples_ms:
            # A case that produced nothing (a crash, nothing noticed) is reported, not fatal.
            print(f"{r.case:<52} {'no samples':>10}  {r.budget}  {r.note}".rstrip())
            continue
        floor = fmt(r.floor_ms, 9) if r.floor_ms is not None else f"{'':>9}"
        ratio = fmt(r.ratio, 7) if r.floor_ms else f"{'':>7}"
        line = f"{r.case:<52} {fmt(r.median)} {fmt(r.p95, 9)} {floor} {ratio}  {r.budget}"
        print(f"{line}  {r.note}".rstrip())
    floors = {r.floor_name for r in rows if r.floor_name}
    for name in sorted(floors):
        print(f"  floor: {name}")
