"""Section 2: 16 frames from a 10 s and a long 720p H.264 file and from the phone-like files,
``read_clip`` against the naive way.

``read_clip`` picks the frame indices first, grabs past the others (or seeks to the keyframe before
a frame when the MP4 index says one lies ahead) and converts only those it keeps; the naive peer
decodes and converts every frame and then keeps 16. Each (method, 720p file) runs in a fresh
subprocess so its peak RSS is its own; the child times its reads and reports them as JSON. The
phone-like files (1080p, a keyframe every 1-2 s: ``media.phone_video``) run in one fresh process per
method, one timed run reading every file in turn, so each file gets a row and the set a total.
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

from exercise_rec.bench.config import BenchConfig, PhoneSpec
from exercise_rec.bench.media import SHORT_SECONDS, bench_video, phone_videos, video_label
from exercise_rec.bench.report import Row, Section, Target
from exercise_rec.bench.timing import Stats, measure

log = logging.getLogger(__name__)

FRAMES = 16
METHODS = ("read_clip", "naive")
NAIVE_LONG_RUNS = 3  # every frame of a 2-minute file takes seconds: a few runs bound the section
PHONE_RUNS = 3  # runs over the phone-like set per method (the full set's naive run decodes ~13,000 1080p frames)
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


def child_set(method: str, paths: list[str], repeats: int, warmup: int, threads: int) -> dict[str, object]:
    """Runs in a fresh subprocess: each timed run reads every file of ``paths`` in turn; the run's
    total and each file's share of it."""
    import time

    import cv2

    from exercise_rec.data.video import read_clip

    cv2.setNumThreads(threads)
    read = naive_clip if method == "naive" else (lambda path: read_clip(path, FRAMES))
    per_file: list[list[float]] = [[] for _ in paths]

    def read_all() -> None:
        for times, path in zip(per_file, paths):
            started = time.perf_counter()
            read(path)
            times.append((time.perf_counter() - started) * 1e3)

    stats = measure(read_all, repeats, warmup)
    return {"times_ms": list(stats.samples_ms), "per_file_ms": [times[-repeats:] for times in per_file],
            "others_share": stats.others_share, "warmup_calls": stats.warmup_calls}


@dataclass(frozen=True)
class SetReading:
    """What one child of :func:`child_set` reported."""

    times_ms: list[float]
    per_file_ms: list[list[float]]
    others_share: float | None = None
    warmup_calls: int = 0

    def stats(self, index: int | None = None) -> Stats:
        """The set's runs (``index`` None) or one file's share of them."""
        times = self.times_ms if index is None else self.per_file_ms[index]
        return Stats(tuple(times), self.warmup_calls, self.others_share)


@dataclass(frozen=True)
class Reading:
    """What one child process reported (see :func:`child`)."""

    times_ms: list[float]
    peak_mb: float
    before_mb: float
    import_peak_mb: float
    others_share: float | None = None  # other processes' share of the CPUs meanwhile (``timing.Stats``)
    warmup_calls: int = 0


def _child_json(call: str, what: str, threads: int) -> dict:
    """Run ``call`` (a call of this module's) in a fresh Python and return the JSON it prints."""
    code = f"import json; from exercise_rec.bench import decode; print(json.dumps(decode.{call}))"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"decode benchmark child failed ({what}): {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _in_subprocess(method: str, path: Path, repeats: int, warmup: int, threads: int) -> Reading:
    call = f"child({method!r}, {str(path)!r}, {repeats}, {warmup}, {threads})"
    return Reading(**_child_json(call, f"{method}, {path}", threads))


def _set_in_subprocess(method: str, paths: list[Path], repeats: int, warmup: int, threads: int) -> SetReading:
    call = f"child_set({method!r}, {[str(p) for p in paths]!r}, {repeats}, {warmup}, {threads})"
    return SetReading(**_child_json(call, f"{method}, {len(paths)} phone-like files", threads))


def phone_set_label(count: int) -> str:
    return f"all {count} phone-like files"


def _phone_rows(cfg: BenchConfig) -> tuple[list[Row], list[Target]]:
    """read_clip and the naive peer on every phone-like file, and on the whole set (the target's row)."""
    specs: tuple[PhoneSpec, ...] = cfg.phones
    paths = phone_videos(cfg.data_dir, specs)
    runs = min(cfg.repeats, PHONE_RUNS)
    log.info("decode: read_clip, %d phone-like files (fresh process)", len(paths))
    ours = _set_in_subprocess("read_clip", paths, runs, cfg.warmup, cfg.threads)
    log.info("decode: naive, %d phone-like files (fresh process)", len(paths))
    naive = _set_in_subprocess("naive", paths, runs, 0, cfg.threads)
    labels = [*(spec.label for spec in specs), phone_set_label(len(specs))]
    rows: list[Row] = []
    for index, label in enumerate(labels):
        which = None if index == len(specs) else index
        mine = Row.time(f"read_clip, {label}", ours.stats(which))
        peer = Row.time(f"naive (decode all, keep 16), {label}", naive.stats(which))
        rows += [mine.with_ratios(mine.faster(peer, "faster than naive")), peer.as_peer()]
    total = phone_set_label(len(specs))
    target = Target(f"read_clip >= {GOAL_SPEEDUP:g}x faster than naive on {total} (1080p, keyframe every 1-2 s)",
                    "decode", f"read_clip, {total}", 0, at_least=GOAL_SPEEDUP)
    return rows, [target]


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
    phone_rows, phone_targets = _phone_rows(cfg)
    rows += phone_rows
    rows += _memory_rows(readings, added=False) + _memory_rows(readings, added=True)
    short, long_ = video_label(SHORT_SECONDS), video_label(cfg.long_seconds)
    targets = (
        Target(f"read_clip >= {GOAL_SPEEDUP:g}x faster than naive on the {short} file", "decode",
               f"read_clip, {short}", 0, at_least=GOAL_SPEEDUP),
        Target(f"peak RSS {long_} / {short} <= {GOAL_RSS:g}", "decode",
               f"peak RSS, read_clip, {long_}", 0, at_most=GOAL_RSS),
        *phone_targets,
    )
    first = readings["read_clip", SHORT_SECONDS]
    notes = (
        (f"{FRAMES} frames sampled uniformly, OpenCV with {cfg.threads} threads, each (method, file) in a fresh "
         f"process; naive on the long file: {naive_long_runs} runs, no warm-up"),
        (f"phone-like files: 1920x1080 H.264 High (CABAC, no B-frames, 16 Mbit/s at 30 fps, 24 at 60), a "
         f"keyframe every 1 or 2 s, a synthetic clip looped, upscaled and grained; one process per method, one "
         f"run reads every file ({min(cfg.repeats, PHONE_RUNS)} runs, naive without warm-up); a file's row is "
         f"its share of those runs"),
        (f"peak RSS: high-water mark from the end of the imports to the end of the reads; before decoding the "
         f"process holds {first.before_mb:.0f} MB (Python, torch, torchvision, OpenCV), "
         f"and importing peaked at {first.import_peak_mb:.0f} MB"),
    )
    return Section("decode", tuple(rows), targets, notes)
