"""Section 6: videos per second of batch prediction against a loop of ``Predictor.predict`` calls.

The batch row is the predict command's batch path exactly as ``python -m exercise_rec.predict
VIDEOS --out FILE.jsonl`` runs it with its default flags (``exercise_rec.predict``'s parser, then its
batch runner: DataLoader workers for hashing, decoding and the person check, the model on batches,
one durable record per video), minus the interpreter's start; every timed run writes a fresh
``--out``, so nothing is skipped as already recorded. The peer, measured in the same process, is
what a user would write without it: the predictor the command builds from the same flags, then
``Predictor.predict`` on each video in turn. Both rows load the checkpoint once per run.

Two sets: synthetic videos from the project's generator (short, small: per-video overheads show),
and the phone-like files (1080p H.264, 30-60 s, a keyframe every 1-2 s: decoding dominates).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import logging
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from exercise_rec.bench.config import BenchConfig, available_cores
from exercise_rec.bench.media import SYNTH_SECONDS, phone_videos, spread_pick, synthetic_videos
from exercise_rec.bench.report import Row, Section, Target
from exercise_rec.bench.timing import Stats, measure

log = logging.getLogger(__name__)

GOAL_SPEEDUP = 1.8  # issue 22: the batch command >= 1.8x the loop's videos/s on 2 cores
UNIT = "videos/s"
LOOP_VS = "faster than the loop"


def command_args(paths: list[Path], out: Path) -> argparse.Namespace:
    """The predict command's arguments for ``predict PATHS --out OUT`` (every other flag its default)."""
    from exercise_rec.predict import build_parser

    return build_parser().parse_args([*map(str, paths), "--out", str(out)])


def batch_call(paths: list[Path], scratch: Path) -> Callable[[], None]:
    """One call: the predict command's batch run over ``paths`` into a new ``--out`` file in ``scratch``
    (deleted after); raises when a video was not classified (the bench measures working runs only)."""
    from exercise_rec.predict import _run_batch

    runs = itertools.count()

    def call() -> None:
        out = scratch / f"run{next(runs)}.jsonl"
        said = io.StringIO()  # the progress bar and the summary line
        with contextlib.redirect_stderr(said):
            code = _run_batch(command_args(paths, out))
        if code != 0:
            raise RuntimeError(f"the batch run exited {code}: {said.getvalue().strip()[-500:]}")
        out.unlink()

    return call


def loop_call(paths: list[Path], seen: dict[str, bool] | None = None) -> Callable[[], None]:
    """One call: the predictor the command builds from the same flags, then one ``predict`` per video.
    ``seen["person check"]`` says whether that predictor ran the person check (the pose estimator)."""
    from exercise_rec.predict import _predictor

    args = command_args(paths, Path("unused.jsonl"))

    def call() -> None:
        predictor = _predictor(args)
        if seen is not None:
            seen["person check"] = predictor.pose is not None
        for path in paths:
            predictor.predict(path, top_k=args.top_k)

    return call


def rate(name: str, stats: Stats, videos: int, **kw: object) -> Row:
    """Videos per second of a run over ``videos`` videos (the median run's and the p90 run's)."""
    return replace(Row.rate(name, stats, videos, **kw), unit=UNIT)


def pair(
    label: str, paths: list[Path], cfg: BenchConfig, scratch: Path, warmup: int, seen: dict[str, bool] | None = None
) -> list[Row]:
    """The batch row (with its ratio to the loop) and the loop row (the peer) on one set of videos."""
    runs = min(cfg.repeats, cfg.batch_runs)
    args = command_args(paths, scratch / "unused.jsonl")
    log.info("batch: loop of Predictor.predict, %s", label)
    loop = rate(f"loop of Predictor.predict, {label}", measure(loop_call(paths, seen), runs, warmup), len(paths))
    log.info("batch: predict --out, %s (%d workers, batch %d)", label, args.workers, args.batch_size)
    name = f"batch (predict --out: {args.workers} workers, batch {args.batch_size}), {label}"
    batch = rate(name, measure(batch_call(paths, scratch), runs, warmup), len(paths))
    return [batch.with_ratios(batch.faster(loop, LOOP_VS)), loop.as_peer()]


def run(cfg: BenchConfig) -> Section:
    synthetic = spread_pick(synthetic_videos(cfg.data_dir, cfg.synth_classes), cfg.batch_videos)
    phones = phone_videos(cfg.data_dir, cfg.phones)
    seconds = sorted({spec.seconds for spec in cfg.phones})
    fps = "/".join(str(f) for f in sorted({spec.fps for spec in cfg.phones}))
    synth_label = f"{len(synthetic)} synthetic videos"
    phone_label = f"{len(phones)} phone-like files ({seconds[0]}-{seconds[-1]} s 1080p{fps})"
    seen: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as scratch:
        rows = pair(synth_label, synthetic, cfg, Path(scratch), cfg.warmup, seen)
        rows += pair(phone_label, phones, cfg, Path(scratch), 0)  # warm already; one run is long
        args = command_args(synthetic, Path(scratch) / "unused.jsonl")
    targets = tuple(
        Target(f"batch >= {GOAL_SPEEDUP:g}x the loop's videos/s on {label} ({available_cores()} cores)", "batch",
               rows[index].name, 0, at_least=GOAL_SPEEDUP)
        for index, label in ((0, synth_label), (2, phone_label))
    )  # fmt: skip
    person = "on" if seen.get("person check") else "off (not installed)"
    notes = (
        (f"the predict command's defaults: {args.checkpoint.name}, backend {args.backend}, person check "
         f"{person}, framing {'off' if args.no_framing else 'on'}, --workers {args.workers} "
         f"(the cores), --batch-size {args.batch_size}; a run includes loading the checkpoint (both rows), the "
         f"workers' start, hashing and writing the records (batch); {min(cfg.repeats, cfg.batch_runs)} runs per "
         f"row, after one untimed run on the synthetic set (none on the phone set: one run is long, the process warm)"),
        (f"synthetic videos: {len(synthetic)} of the generator's {cfg.synth_classes} classes x 6 (~{SYNTH_SECONDS:g} "
         f"s, about 320x240); phone-like files: as in the decode section"),
    )
    return Section("batch", tuple(rows), targets, notes)
