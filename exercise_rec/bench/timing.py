"""The one timing rule every benchmark uses: settle, warm up, then repeated wall-clock runs, median and p90.

Why median and p90 rather than mean: on a shared 2-core machine a run now and then is slowed by
someone else's work; the median is what a run usually costs and the p90 says how bad the tail is.
Their ratio is the row's *spread*, and a row whose spread exceeds :data:`NOISE_LIMIT` is noise (see
``report``): the bench prints no ratio for it rather than a number nobody should believe. So is a
row during which other processes used more than :data:`SHARED_LIMIT` of the CPUs
(:func:`cpu_ticks`): with torch's threads on every core, each parallel region then waits for a
thread the other work preempted, and a row can be uniformly 10-250x slow with a clean spread.

Why a pause before each measurement and a warm-up by time, not by one call (both measured on the
2-core machine, issue 29):

* After a call, the thread pools of the backend that made it keep spinning for a while, waiting for
  more work: onnxruntime's intra-op threads burned ~47 ms of CPU after a call, libgomp's (torch)
  ~11 ms, OpenVINO's ~1 ms. A row measured next, on another backend, shared the two cores with them:
  torch eager at batch 8 called right after an onnxruntime call took 56 ms against 12 ms on its own
  (quick-size clips, where a whole row of calls fits in that spin). So every measurement starts
  with :data:`SETTLE_S` of idle time, longer than the longest spin seen.
* The first calls of a model cost more than the steady state (oneDNN primitives are created, the
  allocator's pools grow): in a fresh process the first eager call of mobilenet_v2_3d took 15-750 ms
  against 7-9 ms settled, and the next two or three calls, still page-faulting new memory, up to
  ~1.3x the settled time. One warm-up call left those in the timed runs; warming up for
  :data:`WARMUP_S` (at least ``warmup`` calls, at most :data:`MAX_WARMUP_CALLS`) does not, and adds
  nothing for a function slower than that.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

NOISE_LIMIT = 1.5  # p90 / median above this: the row is noise, no ratio is printed for it
SHARED_LIMIT = 0.2  # other processes using more than this share of the CPUs during a row: the same
SETTLE_S = 0.1  # idle before a measurement, so the previous one's spinning threads have parked
WARMUP_S = 0.5  # warm-up keeps calling until this much time has passed ...
MAX_WARMUP_CALLS = 20  # ... or this many calls were made (the ``warmup`` minimum always runs)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


@dataclass(frozen=True)
class Stats:
    """Wall times of repeated runs, in milliseconds, how many untimed calls came first, and the share
    of the CPUs other processes used from the warm-up to the last run (None where /proc does not
    say: see :func:`cpu_ticks`)."""

    samples_ms: tuple[float, ...]
    warmup_calls: int = 0
    others_share: float | None = None

    @property
    def median(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p90(self) -> float:
        return percentile(self.samples_ms, 90)

    @property
    def spread(self) -> float:
        """p90 / median of the times: 1.0 when every run took the same time."""
        return spread(self.samples_ms)


def spread(samples_ms: Sequence[float]) -> float:
    """p90 / median of ``samples_ms`` (the noise rule's measure; infinite for a zero median)."""
    median = percentile(samples_ms, 50)
    return percentile(samples_ms, 90) / median if median > 0 else float("inf")


@dataclass(frozen=True)
class NoiseRule:
    """When a timed row is noise: its p90/median above ``limit``, or other processes using more than
    ``shared_limit`` of the CPUs while it ran. A noise row gets no ratio (see ``report``)."""

    limit: float = NOISE_LIMIT
    shared_limit: float = SHARED_LIMIT

    def why(self, spread_value: float | None, others: float | None) -> str:
        """Why a row with this spread and others' CPU share is noise, or "" when it is not (None: not
        measured, e.g. a memory row or a system without /proc, never counts against a row)."""
        if spread_value is not None and spread_value > self.limit:
            return f"noisy (p90/median {spread_value:.2f} > {self.limit:g})"
        if others is not None and others > self.shared_limit:
            return f"shared (other processes used {others:.0%} of the CPUs > {self.shared_limit:.0%})"
        return ""

    def text(self) -> str:
        """The rule, as the table's notes state it."""
        return (f"noise rule: a row whose p90/median exceeds {self.limit:g} (noisy), or during whose warm-up and "
                f"runs other processes used more than {self.shared_limit:.0%} of the CPUs (shared, from /proc), "
                f"gets no ratio, nor does a row compared with it, nor a target on it")


def cpu_ticks() -> tuple[int, int] | None:
    """Clock ticks of CPU time so far: the whole machine's busy time (``/proc/stat``) and this
    process's with its descendants' (``/proc/PID/stat``, e.g. data-loader workers), those that
    have exited and been waited for included (each live process's ``cutime`` + ``cstime``: the
    batch command's workers exit at the end of every run, and counting only live processes made
    their time look like other processes' work); None where /proc does not say.

    Why: a row timed while other work holds the cores can be uniformly slow, so its spread looks
    clean (in a quick run at load 8, r3d_18 eager took 1578 ms against ~100 ms idle with a
    p90/median of 1.33); what the other processes used of the CPUs meanwhile says so directly. The
    time this process's own threads waited for a core (``schedstat``) does not: ``read_clip``'s
    decoder threads wait for each other on an idle machine too.
    """
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        procs: dict[int, tuple[int, int]] = {}  # pid -> (ppid, its and its reaped children's CPU time)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    rest = handle.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):  # a process that ended meanwhile
                continue
            procs[int(entry)] = (int(rest[1]), sum(int(v) for v in rest[11:15]))  # utime stime cutime cstime
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal (guest is in user)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    own, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        own += procs.get(pid, (0, 0))[1]
        todo += children.get(pid, [])
    return busy, own


def others_share(before: tuple[int, int] | None, after: tuple[int, int] | None, seconds: float) -> float | None:
    """The share of all CPUs' time that other processes used between two :func:`cpu_ticks` readings
    ``seconds`` apart (0: the machine was this process's alone)."""
    if before is None or after is None or seconds <= 0:
        return None
    capacity = seconds * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    return max(0.0, (after[0] - before[0]) - (after[1] - before[1])) / capacity


def warm_up(fn: Callable[[], object], calls: int, seconds: float = WARMUP_S, max_calls: int = MAX_WARMUP_CALLS) -> int:
    """Call ``fn()`` at least ``calls`` times, then until ``seconds`` have passed or ``max_calls``
    calls were made; returns how many calls it made."""
    started, made = time.perf_counter(), 0
    while made < calls or (made < max(calls, max_calls) and time.perf_counter() - started < seconds):
        fn()
        made += 1
    return made


def measure(
    fn: Callable[[], object],
    repeats: int,
    warmup: int = 1,
    *,
    settle_s: float = SETTLE_S,
    warmup_s: float = WARMUP_S,
) -> Stats:
    """Wall times of ``repeats`` calls of ``fn()`` after ``settle_s`` idle and a warm-up of at least
    ``warmup`` untimed calls lasting ``warmup_s`` (``warmup=0``: none; see the module's docstring)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if settle_s > 0:
        time.sleep(settle_s)
    ticks, began = cpu_ticks(), time.perf_counter()  # from the warm-up on: 10 ms ticks need a long window
    warmed = warm_up(fn, warmup, warmup_s) if warmup > 0 else 0  # 0: no warm-up at all
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1e3)
    return Stats(tuple(times), warmed, others_share(ticks, cpu_ticks(), time.perf_counter() - began))


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds (the one number quick scripts print)."""
    return measure(fn, repeats, warmup).median
