"""The pose stream's keypoints for a training set: the estimator's cached tracks, and warming that cache.

Why the estimator and not the synthetic generator's joints: a pose model is used on the
estimator's keypoints, with their jitter, missed frames and left/right swaps, so it must be trained
on them too (the generator's exact joints would teach a cleaner input than any real video gives).
Each training video is analysed once, every ``TRACK_EVERY``-th frame, and the track is cached on
disk by file content (:meth:`PoseEstimator.video`); a long recording's clips cut their part of its
one track (:func:`exercise_rec.pose.heatmaps.track_window`).

Why warm the cache first (:func:`warm_cache`, ``python -m exercise_rec.pose.cache --data DIR``;
the trainer calls it before fitting a pose model): the estimator costs ~12-15 ms a frame on this
project's 2-core CPU, so a first epoch would spend its time there, in several DataLoader workers
at once, with no progress shown. Warmed once, with a progress bar, every later epoch and run reads
the cached tracks. For scale: a 3-s clip at 30 fps is 45 analysed frames, ~0.6 s; 1,700 such clips
~17 minutes.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from tqdm.auto import tqdm

from exercise_rec.cli_common import OneLineParser, cli, positive_int
from exercise_rec.data.limits import DEFAULT_LIMITS, DecodeLimits
from exercise_rec.data.video import VideoError, probe
from exercise_rec.pose.track import PoseEstimator, PoseTrack

__all__ = ["TRACK_EVERY", "WarmResult", "dataset_videos", "video_track", "warm_cache"]

log = logging.getLogger(__name__)

# Every 2nd frame: a ~3-s clip at 24-30 fps gives 36-45 analysed frames, enough for HeatmapConfig's
# 32 frames (see its docstring) at half the estimator's cost.
TRACK_EVERY = 2


def video_track(
    path: str | PathLike[str],
    *,
    every: int = TRACK_EVERY,
    limits: DecodeLimits = DEFAULT_LIMITS,
    estimator: PoseEstimator | None = None,
) -> PoseTrack:
    """The estimator's track of every ``every``-th frame of a whole video, from the cache when it
    was analysed before (a ``VideoError`` for an unreadable file)."""
    return (estimator or PoseEstimator()).video(path, every=every, limits=limits, progress=False)


@dataclass(frozen=True)
class WarmResult:
    """What :func:`warm_cache` did: videos analysed now, found cached, or unreadable (path -> reason)."""

    analysed: int
    cached: int
    frames: int  # frames the estimator ran on now
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)


def dataset_videos(root: str | PathLike[str]) -> list[Path]:
    """Every video file of a dataset folder (either layout, all splits)."""
    from exercise_rec.data.dataset import ExerciseVideoDataset  # the dataset imports this module

    return list(ExerciseVideoDataset(root, split=None).files)


def warm_cache(
    videos: Iterable[str | PathLike[str]],
    *,
    every: int = TRACK_EVERY,
    limits: DecodeLimits = DEFAULT_LIMITS,
    progress: bool = True,
    estimator: PoseEstimator | None = None,
) -> WarmResult:
    """Run the estimator on every video whose track is not cached yet (``every``-th frames), with one
    progress bar over the frames to analyse. Unreadable videos are reported, not fatal (the
    dataset skips them the same way); a missing estimator raises ``PoseUnavailable``."""
    estimator = estimator or PoseEstimator()
    started = time.perf_counter()
    todo, cached, skipped = [], 0, {}
    for path in dict.fromkeys(Path(v) for v in videos):
        try:
            if estimator._cache_file(path, every).is_file():
                cached += 1
                continue
            todo.append((path, probe(path, limits=limits)))
        except (OSError, VideoError) as err:
            skipped[str(path)] = getattr(err, "reason", None) or str(err)
    total = sum(-(-info.frames // every) for _, info in todo)
    analysed = frames = 0
    with tqdm(total=total, desc="pose tracks", unit="frame", disable=not progress or not todo) as bar:
        for path, info in todo:
            try:
                track = estimator.video(path, every=every, limits=limits, info=info, progress=False)
            except VideoError as err:
                skipped[str(path)] = err.reason
                continue
            finally:
                bar.update(-(-info.frames // every))
            analysed += 1
            frames += len(track.presence)
    for path, reason in skipped.items():
        log.warning("%s: no pose track, %s", path, reason)
    return WarmResult(analysed, cached, frames, time.perf_counter() - started, skipped)


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog="python -m exercise_rec.pose.cache",
        description="Run the pose estimator once over every video of a dataset and cache the tracks the pose "
        "models train on (~12-15 ms a frame on 2 CPU cores; the trainer does this itself before fitting a pose model).",
    )
    p.add_argument("--data", type=Path, required=True, help="dataset root (same layouts as the trainer)")
    p.add_argument(
        "--every",
        type=positive_int,
        default=TRACK_EVERY,
        help=f"analyse every N-th frame (default {TRACK_EVERY}, what the trainer reads)",
    )
    return p


def _run(args: argparse.Namespace) -> int:
    result = warm_cache(dataset_videos(args.data), every=args.every)
    print(
        f"{result.analysed} video(s) analysed ({result.frames} frames, {result.seconds:.0f} s), "
        f"{result.cached} already cached, {len(result.skipped)} unreadable"
    )
    return 0


main = cli(build_parser, _run)

if __name__ == "__main__":
    sys.exit(main())
