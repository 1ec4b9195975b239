"""Section 2: 16 frames from a 10 s and a long 720p H.264 file, ``read_clip`` against the naive way.

``read_clip`` picks the frame indices first, grabs past the others and converts only those it keeps;
the naive peer decodes and converts every frame and then keeps 16. Each (method, file) runs in a
fresh subprocess so its peak RSS is its own; the child times its reads and reports them as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exercise_rec.bench.config import BenchConfig
from exercise_rec.bench.media import SHORT_SECONDS, bench_video, video_label
from exercise_rec.bench.report import Row, Section, Target
from exercise_rec.bench.timing import Stats, measure

log = logging.getLogger(__name__)

FRAMES = 16
METHODS = ("read_clip", "naive")
NAIVE_LONG_RUNS = 3  # every frame of a 2-minute file takes seconds: a few runs bound the section
GOAL_SPEEDUP, GOAL_RSS = 3.0, 1.2  # the performance issue's targets


def naive_clip(path: str, num_frames: int = FRAMES) -> np.ndarray:
    """The peer: read every frame with OpenCV, convert each to RGB, keep the uniformly sampled ones."""
    import cv2

    cap = cv2.VideoCapture(path)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = set(np.linspace(0, total - 1, num_frames).round().astype(int).tolist())
    kept, index = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if index in wanted:
            kept.append(rgb)
        index += 1
    cap.release()
    return np.stack(kept)


def _rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process from /proc, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise OSError(f"/proc/self/status has no {field}")


def child(method: str, path: str, repeats: int, warmup: int, threads: int) -> dict[str, object]:
    """Runs in the fresh subprocess: read times, the RSS before decoding and the peak while decoding.

    The peak is reset once the imports are done (``/proc/self/clear_refs``), so that a transient
    peak while importing torch and lightning cannot hide what decoding costs.
    """
    import cv2

    from exercise_rec.data.video import read_clip

    cv2.setNumThreads(threads)
    import_peak = _rss_mb("VmHWM")
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets the peak to the current RSS
    before = _rss_mb("VmRSS")
    read = (lambda: naive_clip(path)) if method == "naive" else (lambda: read_clip(path, FRAMES))
    stats = measure(read, repeats, warmup)
    return {"times_ms": list(stats.samples_ms), "peak_mb": _rss_mb("VmHWM"), "before_mb": before,
            "import_peak_mb": import_peak, "others_share": stats.others_share, "warmup_calls": stats.warmup_calls}


@dataclass(frozen=True)
class Reading:
    """What one child process reported (see :func:`child`)."""

    times_ms: list[float]
    peak_mb: float
    before_mb: float
    import_peak_mb: float
    others_share: float | None = None  # other processes' share of the CPUs meanwhile (``timing.Stats``)
    warmup_calls: int = 0


def _in_subprocess(method: str, path: Path, repeats: int, warmup: int, threads: int) -> Reading:
    code = (
        "import json; from exercise_rec.bench.decode import child; "
        f"print(json.dumps(child({method!r}, {str(path)!r}, {repeats}, {warmup}, {threads})))"
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"decode benchmark child failed ({method}, {path}): {done.stderr.strip()[-500:]}")
    return Reading(**json.loads(done.stdout.strip().splitlines()[-1]))


def _speed_rows(readings: dict[tuple[str, int], Reading], seconds: int) -> list[Row]:
    """read_clip's time on one file with its speed-up over the naive peer, then the peer."""
    def row(method: str, label: str) -> Row:
        reading = readings[method, seconds]
        stats = Stats(tuple(reading.times_ms), reading.warmup_calls, reading.others_share)
        return Row.time(f"{label}, {video_label(seconds)}", stats)

    ours, naive = row("read_clip", "read_clip"), row("naive", "naive (decode all, keep 16)")
    return [ours.with_ratios(ours.faster(naive, "faster than naive")), naive.as_peer()]


def _memory_rows(readings: dict[tuple[str, int], Reading], added: bool) -> list[Row]:
    """Peak RSS (or what decoding added to the RSS) of every child, relative to read_clip on the 10 s file."""
    def row(method: str, seconds: int) -> Row:
        reading = readings[method, seconds]
        value = reading.peak_mb - (reading.before_mb if added else 0.0)
        what = "RSS added by decoding" if added else "peak RSS"
        return Row(f"{what}, {method}, {video_label(seconds)}", "MB", value, value, 1)

    peer = row("read_clip", SHORT_SECONDS).as_peer()
    rows = [peer]
    for method, seconds in readings:
        if (method, seconds) != ("read_clip", SHORT_SECONDS):
            other = row(method, seconds)
            rows.append(other.with_ratios(other.per(peer, f"read_clip's on the {SHORT_SECONDS} s file")))
    return rows


def run(cfg: BenchConfig) -> Section:
    files = {seconds: bench_video(cfg.data_dir, seconds) for seconds in (SHORT_SECONDS, cfg.long_seconds)}
    naive_long_runs = min(cfg.repeats, NAIVE_LONG_RUNS)
    readings: dict[tuple[str, int], Reading] = {}
    for seconds, path in files.items():
        for method in METHODS:
            log.info("decode: %s, %s (fresh process)", method, video_label(seconds))
            slow = method == "naive" and seconds != SHORT_SECONDS
            repeats, warmup = (naive_long_runs, 0) if slow else (cfg.repeats, cfg.warmup)
            readings[method, seconds] = _in_subprocess(method, path, repeats, warmup, cfg.threads)
    rows = [row for seconds in files for row in _speed_rows(readings, seconds)]
    rows += _memory_rows(readings, added=False) + _memory_rows(readings, added=True)
    short, long_ = video_label(SHORT_SECONDS), video_label(cfg.long_seconds)
    targets = (
        Target(f"read_clip >= {GOAL_SPEEDUP:g}x faster than naive on the {short} file", "decode",
               f"read_clip, {short}", 0, at_least=GOAL_SPEEDUP),
        Target(f"peak RSS {long_} / {short} <= {GOAL_RSS:g}", "decode",
               f"peak RSS, read_clip, {long_}", 0, at_most=GOAL_RSS),
    )
    first = readings["read_clip", SHORT_SECONDS]
    notes = (
        (f"{FRAMES} frames sampled uniformly, OpenCV with {cfg.threads} threads, each (method, file) in a fresh "
         f"process; naive on the long file: {naive_long_runs} runs, no warm-up"),
        (f"peak RSS: high-water mark from the end of the imports to the end of the reads; before decoding the "
         f"process holds {first.before_mb:.0f} MB (Python, torch, torchvision, OpenCV), "
         f"and importing peaked at {first.import_peak_mb:.0f} MB"),
    )
    return Section("decode", tuple(rows), targets, notes)
