"""Section 5: ``Predictor.predict`` end to end (decode, transform, model) on a sample and a 720p file.

The default shipped checkpoint, loaded as the app and the predict CLI load it, once per backend:
``torch`` (eager, the default) is the peer of the fast-path backends (``onnx``, ``openvino``), so
each fast row says how much of a whole prediction the fast path saves. A ``centre crop`` row (person
check on, framing off) says what person framing adds: its larger decode (up to 360 px) and crop;
the estimator itself runs for the person check either way. A ``pose stream`` row (the shipped pose
checkpoint, when present) is the other stream's whole prediction: the estimator on every 2nd frame
of the video, the heatmap volume and the pose model, against the RGB stream's eager row.
"""

from __future__ import annotations

import logging

import torch

from exercise_rec.bench.backends import per_backend
from exercise_rec.bench.config import BenchConfig
from exercise_rec.bench.media import SHORT_SECONDS, bench_video, video_label
from exercise_rec.bench.report import Row, Section
from exercise_rec.bench.timing import measure
from exercise_rec.fastpath import BACKENDS
from exercise_rec.inference import CHECKPOINT_DIR, DEFAULT_CHECKPOINT, POSE_CHECKPOINT, Predictor

log = logging.getLogger(__name__)

SAMPLE = CHECKPOINT_DIR.parent / "samples" / "squat.mp4"


def run(cfg: BenchConfig) -> Section:
    torch.set_num_threads(cfg.threads)
    files = {"samples/squat.mp4": SAMPLE, video_label(SHORT_SECONDS): bench_video(cfg.data_dir, SHORT_SECONDS)}
    log.info("e2e: loading %s", DEFAULT_CHECKPOINT.name)
    predictors = per_backend(lambda b: Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu", backend=b))
    centre = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu", framing=False)
    pose = Predictor.from_checkpoint(POSE_CHECKPOINT, device="cpu") if POSE_CHECKPOINT.is_file() else None
    rows: list[Row] = []
    for label, path in files.items():
        peer: Row | None = None
        for backend, predictor in predictors.items():
            name = f"predict {label}, backend {backend}"
            if isinstance(predictor, str):
                rows.append(Row.missing(name, "ms", predictor))
                continue
            log.info("e2e: %s", name)
            row = Row.time(name, measure(lambda: predictor.predict(path), cfg.repeats, cfg.warmup))  # noqa: B023
            if peer is None:
                peer = row.as_peer()
                rows.append(peer)
            else:
                rows.append(row.with_ratios(row.faster(peer, f"faster than backend {BACKENDS[0]}")))
        if peer is not None and centre.pose is not None:
            log.info("e2e: predict %s, centre crop", label)
            row = Row.time(
                f"predict {label}, backend {BACKENDS[0]}, centre crop (no framing)",
                measure(lambda: centre.predict(path), cfg.repeats, cfg.warmup),  # noqa: B023
            )
            rows.append(row.with_ratios(row.faster(peer, f"faster than person framing, backend {BACKENDS[0]}")))
        pose_name = f"predict {label}, pose stream ({POSE_CHECKPOINT.name}), backend {BACKENDS[0]}"
        if pose is None:
            rows.append(Row.missing(pose_name, "ms", f"{POSE_CHECKPOINT.name} not in checkpoints/"))
        elif peer is not None:
            log.info("e2e: %s", pose_name)
            row = Row.time(pose_name, measure(lambda: pose.predict(path), cfg.repeats, cfg.warmup))  # noqa: B023
            rows.append(row.with_ratios(row.faster(peer, f"faster than the RGB stream, backend {BACKENDS[0]}")))
    check = any(getattr(p, "pose", None) is not None for p in predictors.values() if not isinstance(p, str))
    notes = (
        f"{DEFAULT_CHECKPOINT.name}, CPU; backend {BACKENDS[0]} is the eager default; the person check (pose "
        f"estimator, Predictor's default when installed) {'on' if check else 'off (not installed)'}",
    )
    return Section("e2e", tuple(rows), (), notes)
