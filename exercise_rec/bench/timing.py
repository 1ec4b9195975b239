"""The one timing rule every benchmark uses: warm up, then repeated wall-clock runs, median and p90.

Why median and p90 rather than mean: on a shared 2-core machine a run now and then is slowed by
someone else's work; the median is what a run usually costs and the p90 says how bad the tail is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


@dataclass(frozen=True)
class Stats:
    """Wall times of repeated runs, in milliseconds."""

    samples_ms: tuple[float, ...]

    @property
    def median(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p90(self) -> float:
        return percentile(self.samples_ms, 90)


def measure(fn: Callable[[], object], repeats: int, warmup: int = 1) -> Stats:
    """Wall times of ``repeats`` calls of ``fn()`` after ``warmup`` untimed ones."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1e3)
    return Stats(tuple(times))


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds (the one number quick scripts print)."""
    return measure(fn, repeats, warmup).median
