"""Section 7: the live loop (``exercise_rec.live``) beside the offline predictor, in the same run.

The offline peer is one ``Predictor.predict`` of the squat sample on the fast path (decode, person
check on 16 frames, forward): what a label costs when a clip is uploaded. The live rows play the
24 s long recording at its own frame rate as a camera would (``LiveRun(realtime=True)``: frames the
loop has no time for are dropped), per backend, then with the HiResCAM overlay (beside the labels) on
the fastest one: frame-to-label latency (median and p90 over every label; p95 in the notes) and
labels per second of wall time. ``--quick`` reads the squat sample as fast as it goes, OpenVINO only.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from pathlib import Path

import torch

from exercise_rec.bench.backends import per_backend
from exercise_rec.bench.config import BenchConfig
from exercise_rec.bench.report import Ratio, Row, Section
from exercise_rec.bench.timing import Stats, measure, percentile
from exercise_rec.inference import CHECKPOINT_DIR, DEFAULT_CHECKPOINT, Predictor
from exercise_rec.live import LiveConfig, LiveRun
from exercise_rec.live.loop import LiveStats

log = logging.getLogger(__name__)

SAMPLES = CHECKPOINT_DIR.parent / "samples"
RECORDING = SAMPLES / "long_recording.mp4"
SQUAT = SAMPLES / "squat.mp4"  # the offline peer's clip (and --quick's live input)
FASTEST = "openvino"


def _play(predictor: Predictor, path: Path, realtime: bool, overlay: bool) -> tuple[Stats, LiveStats, list[float]]:
    """The labels' latencies, the run's figures, and the gaps between consecutive labels (ms)."""
    run = LiveRun(str(path), predictor, LiveConfig(overlay=overlay), realtime=realtime)
    started = time.perf_counter()
    latencies, answered = [], []
    for update in run:
        latencies.append(update.latency_ms)
        answered.append(time.perf_counter())
    gaps = [(later - earlier) * 1e3 for earlier, later in itertools.pairwise(answered)]
    return Stats(tuple(latencies)), LiveStats.of(latencies, time.perf_counter() - started, run.dropped), gaps


def run(cfg: BenchConfig) -> Section:
    torch.set_num_threads(cfg.threads)
    predictors = per_backend(lambda b: Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu", backend=b))
    fastest = predictors[FASTEST]
    if isinstance(fastest, str):
        return Section("live", skipped=f"backend {FASTEST} {fastest}: the live loop's default")
    log.info("live: offline predict of %s, backend %s", SQUAT.name, FASTEST)
    peer = Row.time(f"offline predict samples/{SQUAT.name}, backend {FASTEST}",
                    measure(lambda: fastest.predict(SQUAT), cfg.repeats, cfg.warmup)).as_peer()  # fmt: skip
    rows, notes = [peer], []
    realtime = not cfg.quick
    path = SQUAT if cfg.quick else RECORDING  # --quick: two labels of the 3 s sample, as fast as they go
    plays = [(b, False) for b in predictors if not cfg.quick or b == FASTEST] + [(FASTEST, True)]
    for backend, overlay in plays:
        predictor = predictors[backend]
        name = f"live samples/{path.name}{' paced' if realtime else ''}, backend {backend}"
        name += ", overlay" if overlay else ""
        if isinstance(predictor, str):
            rows.append(Row.missing(f"{name}: frame-to-label latency", "ms", predictor))
            continue
        log.info("live: %s (load %.2f)", name, os.getloadavg()[0])
        stats, live, gaps = _play(predictor, path, realtime, overlay)
        latency = Row.time(f"{name}: frame-to-label latency", stats)
        rows.append(latency.with_ratios(latency.faster(peer, "faster than an offline prediction")))
        slow_ms = percentile(gaps, 90) if gaps else live.wall_s * 1e3  # one label: the run is its gap
        rate = Row(f"{name}: labels per second", "labels/s", live.labels_per_s, 1e3 / slow_ms, live.labels)
        offline = Ratio(live.labels_per_s * peer.median / 1e3, "the labels/s of back-to-back offline predictions",
                        peer.spread, peer.others_share)  # fmt: skip
        rows.append(rate.with_ratios(offline))
        notes.append(f"{name}: latency p95 {live.p95_ms:.0f} ms, {live.dropped} frames dropped, {live.labels} "
                     f"labels in {live.wall_s:.1f} s, 1-min load {os.getloadavg()[0]:.2f} after")  # fmt: skip
    notes += [
        f"{DEFAULT_CHECKPOINT.name}, CPU; LiveConfig defaults (a label per kept frame: 5.3 per second at most; "
        "person check on every kept frame; overlay: HiResCAM on a thread beside the labels, at most every 4th "
        "label); labels/s: labels over the run's wall time, its p90 the rate of the p90 gap between labels",
    ]
    if realtime:
        notes.append("paced: the file released at its frame rate and frames dropped when the loop is busy, as a camera")
    return Section("live", tuple(rows), (), tuple(notes))
